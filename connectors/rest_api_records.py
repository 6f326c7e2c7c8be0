"""From decoded JSON records to the landing shape: string columns addressed by dotted paths, and update times.

Records arrive as Python objects (the JSON decoder made them), so taking the fields out is a loop over
records; it costs less than the decoding before it and is bounded by the page size. The Arrow arrays are
built once per batch from the collected columns.

Text rendering keeps what the source wrote: numbers keep their digits (decoded as Decimal, so ``0.10``
stays ``0.10``), booleans become ``true``/``false``, objects and lists become compact JSON, JSON null and
absent fields become null.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

MISSING = object()


def lookup(value: Any, path: Sequence[str]) -> Any:
    """The value at a dotted path (list items by index: ``items.0.name``), or MISSING."""
    for part in path:
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def _plain(value: Any) -> Any:
    """Decimals inside nested values, as JSON numbers."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def text_of(value: Any) -> str | None:
    if value is None or value is MISSING:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain)


def fingerprint(records: list[Any]) -> str:
    """Identity of a page's content, to notice a server that serves the same page again."""
    return json.dumps(records, ensure_ascii=False, sort_keys=True, default=str)


class UpdateTimeError(ValueError):
    """An update time that is neither a number nor an ISO 8601 date-time."""


def time_key(value: Any, zone: ZoneInfo) -> tuple[int, Any]:
    """A comparable form of an update time: numbers (epoch seconds or ms) by value, text as an aware
    date-time (naive text is in the source's zone). The kind comes first so that a source mixing the two
    fails loudly when compared, through the caller's check, rather than ordering by accident."""
    if isinstance(value, bool) or value is None or value is MISSING:
        raise UpdateTimeError(repr(None if value is MISSING else value))
    if isinstance(value, int | Decimal):
        return 0, Decimal(value)
    text = str(value).strip()
    if text.isdigit():
        return 0, Decimal(text)
    try:
        moment = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError as exc:
        raise UpdateTimeError(text) from exc
    return 1, moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


class RowBuffer:
    """Rows collected for the next Arrow batch: columns c0..cN-1 (strings) and __row__ (int64)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self._columns: list[list[str | None]] = [[] for _ in range(width)]
        self._rows: list[int] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row_number: int, values: Sequence[str | None]) -> None:
        for column, value in zip(self._columns, values, strict=True):
            column.append(value)
        self._rows.append(row_number)

    def flush(self) -> pa.RecordBatch:
        arrays = [pa.array(column, pa.string()) for column in self._columns]
        arrays.append(pa.array(self._rows, pa.int64()))
        names = [*(f"c{i}" for i in range(self.width)), "__row__"]
        batch = pa.RecordBatch.from_arrays(arrays, names=names)
        self._columns = [[] for _ in range(self.width)]
        self._rows = []
        return batch
