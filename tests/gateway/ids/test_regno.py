"""15-digit registration number: the standard's example and ISO 7064 MOD 11,10 as python-stdnum has it."""

from __future__ import annotations

import pytest
from stdnum.iso7064 import mod_11_10

from gateway.ids import regno
from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact


def test_standard_example_and_a_real_number():
    assert regno.calc_check("11010800000001") == "6"
    assert regno.validate("110108000000016") == "110108000000016"
    assert regno.is_valid("520000000005018")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", Reason.EMPTY),
        ("11010800000001", Reason.LENGTH),
        ("11010800000001A", Reason.BAD_CHARACTER),
        ("110108000000017", Reason.CHECK_DIGIT),
    ],
)
def test_reasons(value, reason):
    assert regno.reason(value) is reason
    with pytest.raises(InvalidIdentifier) as raised:
        regno.validate(value)
    assert raised.value.reason is reason


def test_every_body_has_exactly_one_check_digit():
    body = "14090200012345"
    valid = [digit for digit in "0123456789" if regno.is_valid(body + digit)]
    assert valid == [regno.calc_check(body)]


def test_agrees_with_python_stdnum_mod_11_10(regno_samples):
    checked = 0
    for value in regno_samples:
        code = compact(value)
        if len(code) == 15 and code.isascii() and code.isdigit():
            assert regno.is_valid(code) == mod_11_10.is_valid(code), code
            checked += 1
    assert checked > 1000
