"""Whether a text column holds any of some ASCII characters, by one pass over its bytes.

Checks such as "does any value hold a control character" or "does any value need escaping" are answered
"no" for nearly every column of nearly every batch. Arrow's regex kernel answers per value (about 1 ms for
a column of 16,384 values); a lookup over the column's UTF-8 bytes with numpy answers for the whole column
in a tenth of that. ASCII bytes never occur inside a multi-byte UTF-8 sequence, so a byte found is a
character found. The bytes looked at are the span the values occupy, which may include bytes under null
slots: a "yes" can be wrong, so callers take it as "look closer" and run the exact kernel; a "no" is exact.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa


def byte_class(characters: Iterable[int]) -> np.ndarray:
    """A 256-entry table, True for the given byte values (all below 128)."""
    table = np.zeros(256, dtype=bool)
    for value in characters:
        if not 0 <= value < 128:
            raise ValueError(f"{value} is not an ASCII byte")
        table[value] = True
    return table


CONTROL = byte_class([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
"""C0 control characters but tab, newline and carriage return, and DEL."""
JSON_ESCAPED = byte_class([0x5C, 0x22, 0x0A, 0x0D, 0x09])
"""What a JSON string escapes once the other control characters are refused: \\ " newline CR tab."""
COPY_ESCAPED = byte_class([0x5C, 0x0A, 0x0D, 0x09])
"""What PostgreSQL's COPY text format escapes: backslash, newline, CR, tab."""


def may_hold(values: pa.Array | pa.ChunkedArray, table: np.ndarray) -> bool:
    """False when no value of the string column holds a byte of ``table``; True when one may."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    return any(_chunk_may_hold(chunk, table) for chunk in chunks)


def offsets_and_data(strings: pa.Array) -> tuple[np.ndarray, pa.Buffer | None]:
    """A string (or large string) array's value offsets, one more than its values and sliced to the array,
    and its data buffer: value ``i`` is ``data[offsets[i]:offsets[i + 1]]``. The one place that reads
    Arrow's string layout (here, gateway.store.copy_text, the payload hashes of gateway.store.records)."""
    buffers = strings.buffers()
    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(buffers[1], dtype=width)[strings.offset : strings.offset + len(strings) + 1]
    return offsets, buffers[2]


def _chunk_may_hold(chunk: pa.Array, table: np.ndarray) -> bool:
    if len(chunk) == 0 or chunk.null_count == len(chunk):
        return False
    if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
        return True  # not plain text (a dictionary, a view): the exact kernel decides
    offsets, data = offsets_and_data(chunk)
    if data is None:
        return False
    first, last = int(offsets[0]), int(offsets[-1])
    return bool(table[np.frombuffer(data, dtype=np.uint8, count=last)[first:last]].any())
