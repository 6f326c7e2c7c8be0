"""USCC: the standard's worked example, real codes, every reason, and agreement with python-stdnum."""

from __future__ import annotations

import pytest
from stdnum.cn import uscc as stdnum_uscc

from gateway.ids import orgcode, uscc
from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact

# docs/standards.md §1.5: all pass the GB 32100 check (and GB 11714 on positions 9–17).
REAL = [
    "91350100M000100Y43",
    "91110000600037341L",
    "121200004013590816",
    "91310115MA1K3BTP2B",
    "91340600MA2PBM9HXD",
    "91620105L015101280",
    "92340621MA2UK3PJXE",
    "9115220107837941X1",
    "9131012056010553X5",
    "9144030071526726XG",
    "91440300708461136T",
    "914403001922038216",
    "91440300192317458F",
    "91520000214434146R",
    "91100000100003962T",
    "91110000710926094P",
    "9135052155323005XL",
]


def test_weights_are_powers_of_three_mod_31():
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_worked_example_of_the_standard():
    assert uscc.calc_check("91350100M000100Y4") == "3"
    assert uscc.validate("91350100M000100Y43") == "91350100M000100Y43"


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_valid_and_embed_a_valid_org_code(code):
    assert uscc.is_valid(code)
    assert uscc.reason(code) is None
    assert orgcode.is_valid(uscc.org_code(code))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", Reason.EMPTY),
        (" - ", Reason.EMPTY),
        ("91350100M000100Y4", Reason.LENGTH),
        ("91350100M000100Y433", Reason.LENGTH),
        ("9111000060003IOZSV", Reason.ILLEGAL_LETTER),
        ("91350100M000100Y4Z", Reason.ILLEGAL_LETTER),
        ("91350100M000100Y4#", Reason.BAD_CHARACTER),
        ("913501A0M000100Y43", Reason.BAD_CHARACTER),
        ("91350100M000100Y4中", Reason.BAD_CHARACTER),
        ("91350100M000100Y42", Reason.CHECK_DIGIT),
        ("91100000100003962A", Reason.CHECK_DIGIT),
        ("91110108717809965C", Reason.CHECK_DIGIT),
        ("9133010057462616XH", Reason.CHECK_DIGIT),
        ("91110000722601458H", Reason.CHECK_DIGIT),
    ],
)
def test_each_failure_has_its_own_reason(value, reason):
    assert uscc.reason(value) is reason
    assert not uscc.is_valid(value)
    with pytest.raises(InvalidIdentifier) as raised:
        uscc.validate(value)
    assert raised.value.reason is reason


def test_illegal_letter_wins_over_other_bad_characters_and_names_the_position():
    with pytest.raises(InvalidIdentifier) as raised:
        uscc.validate("9135#100M000100O43")
    assert raised.value.reason is Reason.ILLEGAL_LETTER
    assert raised.value.details == {"position": 16, "char": "O"}


def test_letters_allowed_in_the_first_two_positions_unlike_stdnum():
    body = "N1140900MA0K12345"
    code = body + uscc.calc_check(body)
    assert uscc.is_valid(code)
    assert not stdnum_uscc.is_valid(code)


def test_typed_forms_are_normalised():
    assert uscc.validate("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"
    assert uscc.validate("9135 0100-m000\u3000100y43\ufeff") == "91350100M000100Y43"


def test_calc_check_refuses_bodies_it_cannot_compute():
    with pytest.raises(InvalidIdentifier) as raised:
        uscc.calc_check("91350100M000100Y")
    assert raised.value.reason is Reason.LENGTH
    with pytest.raises(InvalidIdentifier) as raised:
        uscc.calc_check("91350100M000100O4")
    assert raised.value.reason is Reason.ILLEGAL_LETTER


def test_org_code_only_from_valid_codes():
    assert uscc.org_code("91440300192317458F") == "192317458"
    with pytest.raises(InvalidIdentifier):
        uscc.org_code("91440300192317458A")


def test_agrees_with_python_stdnum_where_both_apply(uscc_samples):
    """stdnum additionally requires digits in positions 1–2; elsewhere the verdicts must be equal."""
    compared = 0
    for value in uscc_samples + REAL:
        code = compact(value)
        ours = uscc.is_valid(code)
        theirs = stdnum_uscc.is_valid(code)
        if theirs:
            assert ours, code
        if ours and code[:2].isdigit():
            assert theirs, code
            compared += 1
    assert compared > 500
