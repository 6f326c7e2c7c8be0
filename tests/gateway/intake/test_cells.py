"""XLSX cell values to text."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.intake.cells import FALSE_TEXT, PRECISION_MESSAGE, TRUE_TEXT, cell_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("忻州", "忻州"),
        ("", ""),
        (1000.0, "1000"),
        (-3.0, "-3"),
        (42, "42"),
        (12.5, "12.5"),
        (0.1 + 0.2, "0.3"),
        (1e-7, "0.0000001"),
        (123456789012345.0, "123456789012345"),
        (True, TRUE_TEXT),
        (False, FALSE_TEXT),
        (dt.date(2024, 3, 5), "2024-03-05"),
        (dt.datetime(2024, 3, 5, 10, 1, 2), "2024-03-05 10:01:02"),
        (dt.datetime(2024, 3, 5, 10, 1, 1, 999_999), "2024-03-05 10:01:02"),
        (dt.datetime(2024, 12, 31, 23, 59, 59, 600_000), "2025-01-01 00:00:00"),
        (dt.time(8, 30), "08:30:00"),
        (dt.time(8, 29, 59, 700_000), "08:30:00"),
        (dt.timedelta(hours=30, minutes=5), "30:05:00"),
    ],
)
def test_values_read_as_excel_shows_them(value: object, text: str) -> None:
    assert cell_text(value) == (text, None)


@pytest.mark.parametrize("value", [1e15, 140902199001011234.0, -2e15, 10**16])
def test_numbers_past_fifteen_digits_are_flagged(value: float) -> None:
    text, problem = cell_text(value)
    assert problem == PRECISION_MESSAGE
    assert text.lstrip("-").isdigit()
