"""Zero-copy numpy views of an Arrow string array's offsets and bytes.

The column checks and the compaction fast path both look at raw UTF-8 bytes of whole columns at once;
Arrow lays them out as one data buffer plus an offsets buffer, which numpy can view without copying.
Slices (non-zero offset) and 64-bit offsets (large_string) are handled here, once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, data)``: row i is ``data[offsets[i]:offsets[i + 1]]``; offsets are int64 from 0.

    Null rows may still span bytes (Arrow allows it), so callers must mask them themselves.

    >>> offsets, data = string_buffers(pa.array(['ab', None, 'cde', '']).slice(1))
    >>> offsets.tolist(), data.tobytes()
    ([0, 0, 3, 3], b'cde')
    """
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise TypeError(f"expected string or large_string, got {arr.type}")
    _validity, offsets_buffer, data_buffer = arr.buffers()
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type, count=arr.offset + len(arr) + 1)
    offsets = offsets[arr.offset :].astype(np.int64)
    if data_buffer is None:
        return offsets - offsets[0], np.empty(0, dtype=np.uint8)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data
