"""The working-day calendar: 国庆 and 春节 blocks, the weekend days worked (调休), the counting convention,
years outside the calendar refused, and a calendar file that says something impossible refused."""

from __future__ import annotations

import doctest
from datetime import date, timedelta
from pathlib import Path

import pytest

import gateway.credit.calendar
from gateway.credit.calendar import (
    CalendarError,
    add_working_days,
    calendar_for,
    default_calendar,
    is_working_day,
    load_calendar,
    working_days_between,
)


def test_doctests() -> None:
    assert doctest.testmod(gateway.credit.calendar).failed == 0


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2025-01-01", False),  # 元旦
        ("2025-01-26", True),  # 周日，春节调休上班
        ("2025-01-27", True),
        ("2025-01-28", False),  # 除夕
        ("2025-02-04", False),  # 春节最后一天（周二）
        ("2025-02-05", True),
        ("2025-02-08", True),  # 周六，春节调休上班
        ("2025-04-27", True),  # 周日，劳动节调休上班
        ("2025-05-05", False),
        ("2025-09-28", True),  # 周日，国庆调休上班
        ("2025-10-06", False),  # 中秋（周一）
        ("2025-10-08", False),
        ("2025-10-09", True),
        ("2025-10-11", True),  # 周六，国庆调休上班
        ("2025-10-12", False),  # an ordinary Sunday
        ("2026-01-04", True),  # 周日，元旦调休上班
        ("2026-02-14", True),  # 周六，春节调休上班
        ("2026-02-16", False),  # 除夕
        ("2026-02-23", False),
        ("2026-02-24", True),
        ("2026-02-28", True),
        ("2026-10-07", False),
        ("2026-10-10", True),
    ],
)
def test_holidays_and_adjusted_working_days(day: str, working: bool) -> None:
    assert is_working_day(date.fromisoformat(day)) is working


def test_twenty_working_days_across_the_national_day_holiday() -> None:
    end = date(2025, 9, 26)  # Friday before 国庆
    assert add_working_days(end, 20) == date(2025, 10, 30)
    assert add_working_days(end, 1) == date(2025, 9, 28)  # the Sunday worked
    assert working_days_between(end, date(2025, 10, 30)) == 20
    assert working_days_between(date(2025, 10, 30), end) == -20
    assert add_working_days(date(2025, 10, 30), -20) == end


def test_spring_festival_2026() -> None:
    start = date(2026, 2, 13)  # Friday; the 14th (Saturday) is worked, then nine days off
    assert add_working_days(start, 1) == date(2026, 2, 14)
    assert add_working_days(start, 2) == date(2026, 2, 24)
    assert working_days_between(date(2026, 2, 14), date(2026, 2, 23)) == 0


def test_counting_is_consistent_over_the_covered_years() -> None:
    cal = default_calendar()
    start = date(2025, 1, 1)
    for n in range(0, 400, 7):
        end = cal.add_working_days(start, n)
        assert cal.working_days_between(start, end) == n
        assert n == 0 or cal.is_working_day(end)
    # 2025: 261 weekdays, 18 of them off, 5 weekend days worked (the start day itself is not looked at)
    assert cal.working_days_between(date(2024, 12, 31), date(2025, 12, 31)) == 248


def test_years_outside_the_calendar_are_refused() -> None:
    with pytest.raises(CalendarError, match="没有 2024 年"):
        is_working_day(date(2024, 12, 31))
    with pytest.raises(CalendarError, match="没有 2027 年"):
        add_working_days(date(2026, 12, 20), 20)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "holidays.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_calendar_file_is_checked(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="不是周六或周日"):
        load_calendar(write(tmp_path, "years:\n  2025:\n    workdays: [2025-01-27]\n"))
    with pytest.raises(CalendarError, match="不在 2025 年"):
        load_calendar(write(tmp_path, "years:\n  2025:\n    holidays: [2026-01-01]\n"))
    with pytest.raises(CalendarError, match="不是日期或日期范围"):
        load_calendar(write(tmp_path, "years:\n  2025:\n    holidays: ['2025-02-30']\n"))
    with pytest.raises(CalendarError, match="缺少 years"):
        load_calendar(write(tmp_path, "version: 1\n"))
    with pytest.raises(CalendarError, match="找不到工作日历"):
        calendar_for(tmp_path / "nowhere")


def test_a_city_calendar_replaces_the_shipped_one(tmp_path: Path) -> None:
    write(tmp_path, "years:\n  2030:\n    holidays: ['2030-01-01..2030-01-02']\n    workdays: [2030-01-05]\n")
    cal = calendar_for(tmp_path)
    assert cal.years == {2030}
    assert not cal.is_working_day(date(2030, 1, 2)) and cal.is_working_day(date(2030, 1, 5))
    assert cal.add_working_days(date(2029, 12, 31) + timedelta(days=1), 1) == date(2030, 1, 3)


def test_the_shipped_years_are_checked_and_an_unchecked_year_is_marked(tmp_path: Path) -> None:
    assert default_calendar().uncertain_years == frozenset()
    # 2026 as the notice of 2025-11-04 gives it: 春节 2-15..2-23, worked Saturdays 2-14 and 2-28
    shipped = default_calendar()
    assert not shipped.is_working_day(date(2026, 2, 23)) and shipped.is_working_day(date(2026, 2, 28))
    assert shipped.is_working_day(date(2026, 10, 10)) and not shipped.is_working_day(date(2026, 10, 7))
    write(tmp_path, "years:\n  2031:\n    certain: false\n    holidays: ['2031-01-01']\n    workdays: []\n")
    assert calendar_for(tmp_path).uncertain_years == {2031}
