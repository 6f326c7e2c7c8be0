"""Per-row problems, in the terms a department sees its own file.

``row`` is the spreadsheet row number (the header is row 1) and ``field`` is the column header exactly as
written in the file, so the person fixing the file can find the cell without knowing our field codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gateway.ids.resident_id import mask_in_text

MAX_VALUE_CHARS = 60


@dataclass(frozen=True, order=True)
class RowError:
    row: int
    field: str
    code: str
    message: str
    value: str | None = None

    def as_dict(self) -> dict[str, object]:
        # Spelled out rather than dataclasses.asdict, which deep-copies: a receipt lists up to 50,000 errors.
        data: dict[str, object] = {
            "row": self.row,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }
        if self.value is not None:
            data["value"] = self.value
        return data


def shorten(value: str | None) -> str | None:
    """A value as a receipt may echo it: cut to MAX_VALUE_CHARS, and any ID-shaped run in it masked, since
    a personal ID number typed into another column (a USCC column, a name) is still a personal ID number."""
    if value is None:
        return None
    value = mask_in_text(value)
    return value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 1] + "…"


def errors_where(
    mask: pa.Array,
    rows: pa.Array,
    *,
    field: str,
    code: str,
    message: str | pa.Array,
    values: pa.Array | None = None,
    mask_value: bool = False,
) -> Iterator[RowError]:
    """Yield one RowError per True in ``mask``; only the failing rows ever become Python objects.

    ``message`` is one text for every failing row, or an array aligned with ``mask`` when the reason differs
    per row (e.g. which check an identifier failed).
    """
    indices = pc.indices_nonzero(pc.fill_null(mask, False))
    if len(indices) == 0:
        return
    failing_rows = pc.take(rows, indices).to_pylist()
    failing_values = pc.take(values, indices).to_pylist() if values is not None else [None] * len(indices)
    messages = [message] * len(indices) if isinstance(message, str) else pc.take(message, indices).to_pylist()
    for row, value, text in zip(failing_rows, failing_values, messages, strict=True):
        shown = None if value is None else (mask_identifier(value) if mask_value else shorten(value))
        yield RowError(row, field, code, text, shown)


def mask_identifier(value: str) -> str:
    """Personal ID numbers never appear whole in receipts or logs: keep the first 6 and last 4 characters."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]
