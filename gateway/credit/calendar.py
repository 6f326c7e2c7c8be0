"""Working days (工作日) from a holiday calendar kept as data: config/holidays.yaml.

Deadlines in the double-random rules are counted in working days (抽查结果 20 个工作日内公示), and a working
day in China is not simply Monday to Friday: the State Council's yearly notice moves some weekdays into the
holidays and makes some Saturdays and Sundays working days (调休). Those dates are data that changes every
year, so they live in the YAML file, one block per year, and a date in a year the file does not cover is
refused rather than guessed: a deadline computed from an incomplete calendar would be wrong without warning.

Counting convention: ``add_working_days(start, n)`` is the n-th working day after ``start`` (``start``
itself is not counted, whether or not it is a working day), and ``working_days_between(a, b)`` counts the
working days in (a, b], so that ``working_days_between(a, add_working_days(a, n)) == n``.

>>> from datetime import date
>>> cal = default_calendar()
>>> cal.is_working_day(date(2025, 10, 1))  # 国庆节
False
>>> cal.is_working_day(date(2025, 9, 28))  # 周日，调休上班
True
>>> cal.add_working_days(date(2025, 9, 30), 1)  # the next working day after the National Day holiday
datetime.date(2025, 10, 9)
>>> cal.working_days_between(date(2025, 9, 30), date(2025, 10, 9))
1
>>> cal.is_working_day(date(2031, 1, 2))  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
gateway.credit.calendar.CalendarError: 工作日历没有 2031 年的节假日安排（已覆盖 2025–2026 年）：...
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent / "config" / "holidays.yaml"
FILE_NAME = "holidays.yaml"


class CalendarError(ValueError):
    """A date outside the covered years, or a calendar file that does not say what it must."""


@dataclass(frozen=True)
class Calendar:
    years: frozenset[int]
    holidays: frozenset[date]  # days off, including the weekend days of a holiday block
    workdays: frozenset[date]  # Saturdays and Sundays that are working days (调休)
    uncertain_years: frozenset[int] = frozenset()  # years whose dates were not checked against the notice

    def _covered(self, day: date) -> None:
        if day.year not in self.years:
            span = f"{min(self.years)}–{max(self.years)}" if self.years else "无"
            raise CalendarError(
                f"工作日历没有 {day.year} 年的节假日安排（已覆盖 {span} 年）："
                f"请按国务院办公厅当年的通知在 {FILE_NAME} 中补充"
            )

    def is_working_day(self, day: date) -> bool:
        self._covered(day)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (before it, for a negative n); ``start`` for 0."""
        step = timedelta(days=1 if n >= 0 else -1)
        day, left = start, abs(n)
        while left:
            day += step
            if self.is_working_day(day):
                left -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative, counted the same way, when ``end`` is before ``start``."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def _dates(value: object, where: str) -> Iterable[date]:
    """One entry: a date, or a range ``YYYY-MM-DD..YYYY-MM-DD`` (both ends included)."""
    if isinstance(value, date):
        return [value]
    text = str(value).strip()
    try:
        if ".." in text:
            first, last = (date.fromisoformat(part.strip()) for part in text.split("..", 1))
            if last < first:
                raise ValueError("end before start")
            return [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return [date.fromisoformat(text)]
    except ValueError as exc:
        raise CalendarError(f"{where}: {text!r} 不是日期或日期范围 YYYY-MM-DD..YYYY-MM-DD（{exc}）") from exc


def load_calendar(path: Path) -> Calendar:
    """Read and check a holidays.yaml: every date belongs to its year block; workdays are weekend days."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarError(f"{path}: 无法读取工作日历（{exc}）") from exc
    blocks = (data or {}).get("years") if isinstance(data, dict) else None
    if not isinstance(blocks, dict) or not blocks:
        raise CalendarError(f"{path}: 缺少 years（每年一段：holidays、workdays）")
    years, holidays, workdays, uncertain = set(), set(), set(), set()
    for year, block in blocks.items():
        where = f"{path}: years.{year}"
        if not isinstance(year, int) or not isinstance(block, dict):
            raise CalendarError(f"{where}: 年份须为整数，内容须为 holidays / workdays")
        years.add(year)
        if block.get("certain") is False:
            uncertain.add(year)
        for key, into in (("holidays", holidays), ("workdays", workdays)):
            for n, entry in enumerate(block.get(key) or [], 1):
                for day in _dates(entry, f"{where}.{key}[{n}]"):
                    if day.year != year:
                        raise CalendarError(f"{where}.{key}[{n}]: {day} 不在 {year} 年")
                    if key == "workdays" and day.weekday() < 5:
                        raise CalendarError(
                            f"{where}.workdays[{n}]: {day} 不是周六或周日，无需列为调休上班日"
                        )
                    into.add(day)
    both = holidays & workdays
    if both:
        raise CalendarError(f"{path}: 同一天既是放假日又是上班日：{sorted(both)[0]}")
    return Calendar(frozenset(years), frozenset(holidays), frozenset(workdays), frozenset(uncertain))


@cache
def _cached(path: Path, mtime_ns: int) -> Calendar:
    return load_calendar(path)


def calendar_for(credit_dir: Path | None = None) -> Calendar:
    """The calendar of a credit configuration folder (Settings.credit_dir), re-read when the file changes."""
    path = (credit_dir / FILE_NAME) if credit_dir is not None else DEFAULT_PATH
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise CalendarError(f"{path}: 找不到工作日历") from exc
    return _cached(path, mtime)


def default_calendar() -> Calendar:
    """The calendar shipped with the gateway (gateway/credit/config/holidays.yaml)."""
    return calendar_for(None)


def is_working_day(day: date, calendar: Calendar | None = None) -> bool:
    return (calendar or default_calendar()).is_working_day(day)


def add_working_days(start: date, n: int, calendar: Calendar | None = None) -> date:
    return (calendar or default_calendar()).add_working_days(start, n)


def working_days_between(start: date, end: date, calendar: Calendar | None = None) -> int:
    return (calendar or default_calendar()).working_days_between(start, end)


__all__ = [
    "Calendar",
    "CalendarError",
    "add_working_days",
    "calendar_for",
    "default_calendar",
    "is_working_day",
    "load_calendar",
    "working_days_between",
]
