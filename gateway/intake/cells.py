"""Turn the Python values calamine returns for XLSX cells into the strings the pipeline works on.

Everything downstream (mapping, validation, receipts) sees text, exactly as a department would see
it in Excel, so the same mapping serves a department's CSV and XLSX exports. This runs once per
non-text cell, so conversions are looked up by exact type and use the cheapest formatting.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

PRECISION_LIMIT = 1e15
"""Excel keeps 15 significant digits; from here on, digits typed into a number cell are lost."""

PRECISION_MESSAGE = "数值位数过长，可能已丢失精度，请将该列设置为文本格式"

TRUE_TEXT = "TRUE"
FALSE_TEXT = "FALSE"
"""Booleans are written as Excel displays them, which is also what the same sheet saved as CSV
contains; a mapping translates them (e.g. to 是/否) once for both formats."""

Converted = tuple[str, str | None]


def cell_text(value: object) -> Converted:
    """Return the cell's text and, if the value is suspect, the reason (a Chinese message)."""
    convert = _BY_TYPE.get(type(value))
    if convert is not None:
        return convert(value)
    for kind, fallback in _BY_TYPE.items():
        if isinstance(value, kind):
            return fallback(value)
    return str(value), None


def _text(value: str) -> Converted:
    return value, None


def _bool(value: bool) -> Converted:
    return (TRUE_TEXT if value else FALSE_TEXT), None


def _int(value: int) -> Converted:
    # An int from the file is exact, but digits past 15 were already lost when typed into Excel.
    return str(value), (PRECISION_MESSAGE if abs(value) >= PRECISION_LIMIT else None)


def _float(value: float) -> Converted:
    problem = PRECISION_MESSAGE if abs(value) >= PRECISION_LIMIT else None
    if not math.isfinite(value):
        return str(value), problem
    if value.is_integer():
        return str(int(value)), problem
    # 15 significant digits is what Excel shows; more would expose binary noise (0.30000000000000004).
    text = f"{value:.15g}"
    if "e" in text:
        text = format(Decimal(text), "f")
    return text, problem


def _datetime(value: dt.datetime) -> Converted:
    return _round_to_second(value).isoformat(sep=" "), None


def _date(value: dt.date) -> Converted:
    return value.isoformat(), None


def _time(value: dt.time) -> Converted:
    if value.microsecond:
        return _round_to_second(dt.datetime.combine(dt.date.min, value)).time().isoformat(), None
    return value.isoformat(), None


def _duration(value: dt.timedelta) -> Converted:
    """Like Excel's [h]:mm:ss: hours keep counting past a day."""
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}", None


def _round_to_second(value: dt.datetime) -> dt.datetime:
    """Excel stores times as fractions of a day, so 10:01:02 often comes back as 10:01:01.999999."""
    if not value.microsecond:
        return value
    if value.microsecond >= 500_000:
        value += dt.timedelta(seconds=1)
    return value.replace(microsecond=0)


# Order matters for the isinstance fallback: bool before int, datetime before date.
_BY_TYPE: dict[type, Callable[[Any], Converted]] = {
    str: _text,
    bool: _bool,
    float: _float,
    int: _int,
    dt.datetime: _datetime,
    dt.date: _date,
    dt.time: _time,
    dt.timedelta: _duration,
}
