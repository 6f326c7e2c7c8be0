"""PostgreSQL's COPY text format for columns of values, built by Arrow instead of row by row in Python.

psycopg's ``Copy.write_row`` formats each row in Python: about 4 µs a row for a record's columns, which made
it the largest cost of a bulk load on the gateway's side (docs/performance.md). Here each column is turned
into its text form once (numbers cast, flags as t/f, text escaped, nulls as ``\\N``), the columns joined with
tabs and the rows ended with newlines by Arrow kernels, and the whole buffer is handed to COPY at once.
The format is PostgreSQL's documented one (https://www.postgresql.org/docs/current/sql-copy.html, "Text
Format"): backslash, newline, carriage return and tab escaped with a backslash; ``\\N`` for null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Boolean, Integer, Table

from gateway.arrow_bytes import COPY_ESCAPED, may_hold, offsets_and_data

NULL = "\\N"
_ESCAPES = (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def escape(values: pa.Array) -> pa.Array:
    """Text values as COPY reads them back; most columns hold no special character and are returned as
    they are after one check."""
    if not may_hold(values, COPY_ESCAPED):
        return values
    for raw, escaped in _ESCAPES:
        values = pc.replace_substring(values, raw, escaped)
    return values


def constant_text(value: Any) -> str:
    """One value, the same in every row, in the text format."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    text = str(value)
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def column_text(table: Table, name: str, values: Sequence[Any]) -> pa.Array:
    """A column's values in the text format, by the column's SQL type."""
    kind = table.c[name].type
    if isinstance(kind, Boolean):
        flags = pa.array(values, pa.bool_())
        text = pc.if_else(flags, pa.scalar("t"), pa.scalar("f"))
    elif isinstance(kind, Integer):
        text = pc.cast(pa.array(values, pa.int64()), pa.string())
    else:
        text = escape(pa.array(values, pa.string()))
    return pc.fill_null(text, NULL)


def copy_buffer(
    table: Table, columns: Mapping[str, Sequence[Any]], constants: Mapping[str, Any]
) -> pa.Buffer:
    """The rows given column by column (``constants`` the same in every row), as one COPY text buffer in
    the order ``[*columns, *constants]``."""
    parts: list[pa.Array | pa.Scalar] = [column_text(table, name, values) for name, values in columns.items()]
    parts.extend(pa.scalar(constant_text(value)) for value in constants.values())
    lines = pc.binary_join_element_wise(*parts, "\t") if len(parts) > 1 else parts[0]
    lines = pc.binary_join_element_wise(lines, pa.scalar(""), "\n")  # each line ends with its newline
    return _values_buffer(lines)


def _values_buffer(strings: pa.Array) -> pa.Buffer:
    """The characters of a string array, end to end, without a copy."""
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    offsets, data = offsets_and_data(strings)
    first, last = int(offsets[0]), int(offsets[-1])
    # Never empty: every line ends with its newline, so there is a data buffer.
    return data.slice(first, last - first)  # type: ignore[union-attr]
