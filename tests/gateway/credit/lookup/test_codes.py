"""Codes: which kind, compact form, and the two refusals that need no store (malformed, wrong check char)."""

from __future__ import annotations

import doctest

import pytest

import gateway.credit.lookup.codes
from gateway.credit.lookup.codes import CodeRefused, parse_code
from tests.gateway.credit.lookup.conftest import ORG, REG_NO, USCC


def test_doctests() -> None:
    result = doctest.testmod(gateway.credit.lookup.codes)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        (USCC, "uscc", USCC),
        (f" {USCC[:8]}-{USCC[8:].lower()} ", "uscc", USCC),
        ("".join(chr(ord(c) + 0xFEE0) for c in USCC), "uscc", USCC),  # full-width, as typed in an IME
        (REG_NO, "reg_no", REG_NO),
        (f"{ORG[:8]}-{ORG[8]}", "org_code", ORG),
    ],
)
def test_each_kind_is_recognised_by_its_length(typed: str, kind: str, value: str) -> None:
    code = parse_code(typed)
    assert (code.kind, code.value) == (kind, value)


def _wrong_last(code: str, alphabet: str) -> str:
    return code[:-1] + next(c for c in alphabet if c != code[-1])


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        (_wrong_last(USCC, "0123456789"), "uscc"),
        (_wrong_last(REG_NO, "0123456789"), "reg_no"),
        (_wrong_last(ORG, "0123456789X"), "org_code"),
    ],
)
def test_a_wrong_check_character_is_its_own_refusal(typed: str, kind: str) -> None:
    with pytest.raises(CodeRefused) as refused:
        parse_code(typed)
    assert (refused.value.outcome, refused.value.kind) == ("bad_check", kind)
    assert "校验位错误" in str(refused.value) and typed not in str(refused.value)


@pytest.mark.parametrize(
    ("typed", "kind", "says"),
    [
        ("12345", None, "实际为 5 位"),
        ("---", None, "代码为空"),
        (USCC[:13] + "O" + USCC[14:], "uscc", "第 14 位是「O」"),  # O for 0: a letter a USCC never has
        (REG_NO[:5] + "A" + REG_NO[6:], "reg_no", "第 6 位是「A」"),
        ("D2143#69X", "org_code", "第 6 位是「#」"),
    ],
)
def test_malformed_codes_say_what_is_wrong(typed: str, kind: str | None, says: str) -> None:
    with pytest.raises(CodeRefused) as refused:
        parse_code(typed)
    assert (refused.value.outcome, refused.value.kind) == ("malformed", kind)
    assert says in str(refused.value)
