"""Organisation code (GB 11714): the standard's example and an independent reference implementation."""

from __future__ import annotations

import pytest

from gateway.ids import orgcode
from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact


def _reference_check(body: str) -> str:
    """docs/standards.md §1.7, written independently of the module (A=10 … Z=35)."""
    value = {**{str(d): d for d in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}}
    remainder = 11 - sum(value[c] * w for c, w in zip(body, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return "X" if remainder == 10 else "0" if remainder == 11 else str(remainder)


def test_standard_example():
    assert orgcode.calc_check("D2143569") == "X"
    assert orgcode.validate("D2143569-X") == "D2143569X"
    assert orgcode.format("d2143569x") == "D2143569-X"


@pytest.mark.parametrize("code", ["M000100Y4", "MA1K3BTP2", "192317458", "600037341", "401359081"])
def test_org_codes_inside_real_usccs(code):
    assert orgcode.is_valid(code)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", Reason.EMPTY),
        ("D2143569", Reason.LENGTH),
        ("D2143569X1", Reason.LENGTH),
        ("D2143#69X", Reason.BAD_CHARACTER),
        ("D2143569中", Reason.BAD_CHARACTER),
        ("D21435691", Reason.CHECK_DIGIT),
        ("D2143569A", Reason.CHECK_DIGIT),
    ],
)
def test_reasons(value, reason):
    assert orgcode.reason(value) is reason
    with pytest.raises(InvalidIdentifier) as raised:
        orgcode.validate(value)
    assert raised.value.reason is reason


def test_format_refuses_invalid_codes():
    with pytest.raises(InvalidIdentifier):
        orgcode.format("D21435691")


def test_agrees_with_reference_implementation(org_samples):
    checked = 0
    for value in org_samples:
        code = compact(value)
        if len(code) == 9 and code.isascii() and code[:8].isalnum() and code[:8].upper() == code[:8]:
            assert orgcode.is_valid(code) == (_reference_check(code[:8]) == code[8]), code
            checked += 1
    assert checked > 1000
