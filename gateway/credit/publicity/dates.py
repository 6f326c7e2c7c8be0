"""Dates and amounts over whole Arrow columns: strict reading of the canonical texts the store holds, and
adding months the way Chinese law counts a period.

Strict because Arrow's strptime is lenient — it reads 2026-02-30 as 2026-03-02 and 2026-2-3 as a date — and a
publicity end computed from a date the department never wrote would withdraw a record on the wrong day. A
text is a date only when it is ``YYYY-MM-DD`` and reads back the same.

Months (《民法典》第二百零一条、第二百零二条): the start day is not counted, and a period of N months ends
on the corresponding day of the N-th month after, or on that month's last day when it has none —
2026-04-10 + 3 months → 2026-07-10, 2026-11-30 + 3 months → 2027-02-28.

>>> import pyarrow as pa
>>> days = parse_dates(pa.array(["2026-04-10", "2026-11-30", "2026-02-30", "2026-2-3", None]))
>>> days.to_pylist()[2:]
[None, None, None]
>>> [d.isoformat() for d in add_months(days[:2], pa.array([3, 3])).to_pylist()]
['2026-07-10', '2027-02-28']
>>> parse_amounts(pa.array(["1.5", "0.020000", "abc", "-1", None])).to_pylist()[:2]
[Decimal('1.50000000'), Decimal('0.02000000')]
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

AMOUNT = pa.decimal128(24, 8)
"""Amounts in 万元 (six decimals, AmountWanYuan) and thresholds in 元 turned into 万元 (four more) compare
exactly at this scale."""
_DAY = r"^\d{4}-\d{2}-\d{2}$"
_AMOUNT = r"^\d{1,16}(\.\d{1,6})?$"

Column = pa.Array | pa.ChunkedArray


def parse_dates(texts: Column) -> pa.Array:
    """date32 for each ``YYYY-MM-DD`` text that is a real day; null for anything else (or nothing)."""
    texts = pc.utf8_trim_whitespace(_array(texts).cast(pa.string()))
    shaped = pc.fill_null(pc.match_substring_regex(texts, _DAY), False)
    candidate = pc.if_else(shaped, texts, pa.scalar(None, pa.string()))
    days = pc.cast(pc.strptime(candidate, "%Y-%m-%d", "s", error_is_null=True), pa.date32())
    same = pc.fill_null(pc.equal(pc.cast(days, pa.string()), candidate), False)  # 02-30 read as 03-02
    return pc.if_else(same, days, pa.scalar(None, pa.date32()))


def parse_amounts(texts: Column) -> pa.Array:
    """Exact decimals for each non-negative amount text with at most six decimals; null otherwise."""
    texts = pc.utf8_trim_whitespace(_array(texts).cast(pa.string()))
    shaped = pc.fill_null(pc.match_substring_regex(texts, _AMOUNT), False)
    return pc.cast(pc.if_else(shaped, texts, pa.scalar(None, pa.string())), AMOUNT)


def add_months(days: Column, months: Column) -> pa.Array:
    """Each day plus its number of months (per row), clamped to the end of the month it lands in."""
    days, months = _array(days), pc.cast(_array(months), pa.int64())
    total = pc.add(pc.add(pc.multiply(pc.year(days), 12), pc.subtract(pc.month(days), 1)), months)
    year = pc.divide(total, 12)
    month = pc.add(pc.subtract(total, pc.multiply(year, 12)), 1)
    day = pc.min_element_wise(pc.day(days), _days_in_month(year, month))

    def padded(values: pa.Array, width: int) -> pa.Array:
        return pc.utf8_lpad(pc.cast(values, pa.string()), width, "0")

    text = pc.binary_join_element_wise(padded(year, 4), padded(month, 2), padded(day, 2), "-")
    return pc.cast(pc.strptime(text, "%Y-%m-%d", "s"), pa.date32())


def _days_in_month(year: pa.Array, month: pa.Array) -> pa.Array:
    lengths = pa.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())
    base = pc.take(lengths, pc.subtract(month, 1))

    def divisible(n: int) -> pa.Array:
        return pc.equal(pc.subtract(year, pc.multiply(pc.divide(year, n), n)), 0)

    leap = pc.or_(pc.and_(divisible(4), pc.invert(divisible(100))), divisible(400))
    return pc.if_else(pc.and_(leap, pc.equal(month, 2)), 29, base)


def _array(column: Column) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
