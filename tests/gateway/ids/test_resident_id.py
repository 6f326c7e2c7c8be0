"""Resident ID (GB 11643): MOD 11-2, real past birth dates, legacy 15-digit numbers, masking."""

from __future__ import annotations

import datetime

import pytest
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from gateway.ids import resident_id
from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact

TODAY = datetime.date(2025, 6, 30)


def _with_check(body: str) -> str:
    return body + resident_id.calc_check(body)


def test_standard_example():
    assert resident_id.WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert resident_id.calc_check("11010519491231002") == "X"
    assert resident_id.validate("11010519491231002x") == "11010519491231002X"
    assert resident_id.birth_date("11010519491231002X") == datetime.date(1949, 12, 31)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", Reason.EMPTY),
        ("11010519491231002", Reason.LENGTH),
        ("1101051949123100", Reason.LENGTH),
        ("1101051949123100X2", Reason.BAD_CHARACTER),
        ("11010519491231002Y", Reason.BAD_CHARACTER),
        ("11010549123100X", Reason.BAD_CHARACTER),
        ("110105194912310021", Reason.CHECK_DIGIT),
        (_with_check("11010519491301002"), Reason.BIRTH_DATE),
        (_with_check("11010519490230002"), Reason.BIRTH_DATE),
        (_with_check("11010500000101002"), Reason.BIRTH_DATE),
        (_with_check("11010520250701002"), Reason.BIRTH_DATE),
        ("110105491301002", Reason.BIRTH_DATE),
        ("110105000229002", Reason.BIRTH_DATE),
    ],
)
def test_reasons(value, reason):
    assert resident_id.reason(value, today=TODAY) is reason
    with pytest.raises(InvalidIdentifier) as raised:
        resident_id.validate(value, today=TODAY)
    assert raised.value.reason is reason


def test_born_today_is_valid_and_default_today_is_the_local_date():
    born_today = _with_check("110105" + datetime.date.today().strftime("%Y%m%d") + "002")
    assert resident_id.is_valid(born_today)
    assert resident_id.is_valid(_with_check("11010520250630002"), today=TODAY)


def test_legacy_fifteen_digit_numbers():
    assert resident_id.validate("110105491231002") == "110105491231002"
    assert resident_id.birth_date("110105491231002") == datetime.date(1949, 12, 31)
    assert resident_id.to_18("110105491231002") == "11010519491231002X"
    assert resident_id.to_18("11010519491231002X") == "11010519491231002X"
    assert resident_id.is_valid(resident_id.to_18("140902960229001"))
    with pytest.raises(InvalidIdentifier):
        resident_id.to_18("110105491331002")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "110105********002X"),
        (" 110105 19491231 002x ", "110105********002X"),
        ("110105491231002", "110105******002"),
        ("1101051949123100", "**************00"),
        ("1234567", "*******"),
        ("", ""),
    ],
)
def test_mask_hides_the_birth_date_of_any_input(value, masked):
    assert resident_id.mask(value) == masked


def test_error_messages_never_contain_the_number():
    for value in ["110105194912310021", _with_check("11010519491301002"), "1101051949123100X2"]:
        with pytest.raises(InvalidIdentifier) as raised:
            resident_id.validate(value, today=TODAY)
        assert value not in str(raised.value)
        assert "19491" not in str(raised.value)


def _stdnum_verdict(code: str) -> bool:
    """stdnum's MOD 11-2 and birth-date parts; its place lookup is left out on purpose: we do not look
    address codes up (old numbers carry abolished codes), and ric.is_valid raises KeyError for codes
    that match only a province or prefecture in its table (python-stdnum 2.2)."""
    try:
        return ric.calc_check_digit(code) == code[-1] and ric.get_birth_date(code) <= TODAY
    except ValidationError:
        return False


def test_agrees_with_python_stdnum(resident_id_samples):
    compared = accepted = 0
    for value in resident_id_samples:
        code = compact(value)
        if len(code) == 18 and code.isascii() and code[:17].isdigit() and code[17] in "0123456789X":
            ours = resident_id.is_valid(code, today=TODAY)
            assert ours == _stdnum_verdict(code), code
            compared += 1
            accepted += ours
    assert compared > 1000
    assert 0 < accepted < compared
