"""Reasons and their Chinese messages."""

from __future__ import annotations

import pytest

from gateway.ids.errors import InvalidIdentifier, Reason, message


def test_every_reason_has_a_chinese_label():
    for reason in Reason:
        assert reason.label
        assert all("\u4e00" <= char <= "\u9fff" for char in reason.label[:2])
    assert Reason.ILLEGAL_LETTER.label != Reason.BAD_CHARACTER.label


def test_details_make_the_message_specific():
    assert message(Reason.LENGTH) == "长度不对"
    assert message(Reason.LENGTH, expected=18, actual=17) == "长度不对：应为 18 位，实际为 17 位"
    assert message("bad_character", position=3, char="#") == "含有非法字符：第 3 位是「#」"
    assert message(Reason.BAD_CHARACTER, position=3) == "含有非法字符：第 3 位"
    assert message(Reason.BAD_CHARACTER, position=2, char="\u3000") == "含有非法字符：第 2 位是「U+3000」"
    assert message(Reason.CHECK_DIGIT, expected="3") == "校验位错误"


def test_unknown_reason_is_refused():
    with pytest.raises(ValueError):
        message("no_such_reason")


def test_exception_carries_reason_and_details():
    error = InvalidIdentifier(Reason.LENGTH, {"expected": 9, "actual": 8})
    assert isinstance(error, ValueError)
    assert error.reason is Reason.LENGTH
    assert error.details == {"expected": 9, "actual": 8}
    assert str(error) == "长度不对：应为 9 位，实际为 8 位"
