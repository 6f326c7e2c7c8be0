"""Bring identifiers typed by people into the one form the check algorithms understand.

Department exports carry codes typed in Chinese input methods: full-width digits and letters
(``９１３５…``), the ideographic space, hyphens of every width, zero-width spaces and BOMs pasted from
Word or Excel. NFKC folds the full-width forms to ASCII; then separators and invisible characters are
removed and ASCII letters upper-cased.

The scalar :func:`compact` and the column :func:`compact_array` must give the same result for every
input, because the column checks are tested against the scalar ones. Two deliberate choices keep them
equal:

* Only ASCII letters are upper-cased. Unicode case mapping differs between Python (``'ß'.upper()`` is
  ``'SS'``, which changes the length) and Arrow's utf8proc (``'ẞ'``), and can even turn a non-ASCII
  letter into an ASCII one (``'ı'`` → ``'I'``). A valid identifier is ASCII after NFKC, so anything
  else is left as is and later reported as a bad character.
* The characters removed are an explicit list, not a regex ``\\s`` (RE2's ``\\s`` is ASCII-only while
  Python's ``str.isspace`` is Unicode-wide).

One residual difference is outside our control: Python 3.11 ships Unicode 14 tables while Arrow's
utf8proc may be newer, so characters assigned after Unicode 14 may normalise differently. None of them
can form part of a valid identifier either way.

>>> compact(' ９１３５０１００Ｍ０００１００Ｙ４３ ')
'91350100M000100Y43'
>>> compact('d2143569-x')
'D2143569X'
>>> compact('9135\\u30000100 — m000100y43\\ufeff')
'91350100M000100Y43'
"""

from __future__ import annotations

import unicodedata
from typing import overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gateway.ids.arrow_buffers import string_buffers

# Separators and invisible characters people paste into code fields. Whitespace is listed explicitly
# (all of str.isspace's set), plus zero-width characters, the BOM, the soft hyphen and dash variants.
_WHITESPACE = (
    "\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
REMOVED_CHARACTERS = _WHITESPACE + _INVISIBLE + _DASHES

_TRANSLATION: dict[int, int | None] = {ord(char): None for char in REMOVED_CHARACTERS}
_TRANSLATION.update({code: code - 32 for code in range(ord("a"), ord("z") + 1)})

# RE2 syntax; \x{...} escapes keep the class readable and free of literal invisible characters.
_REMOVED_PATTERN = "[" + "".join(f"\\x{{{ord(char):X}}}" for char in REMOVED_CHARACTERS) + "]"

# Bytes after which a row needs the full treatment: any non-ASCII byte (NFKC may change it) and the
# ASCII characters that are removed. Every other ASCII byte is already in NFKC form.
_DIRTY_BYTES = np.zeros(256, dtype=bool)
_DIRTY_BYTES[0x80:] = True
_DIRTY_BYTES[[ord(char) for char in REMOVED_CHARACTERS if char.isascii()]] = True


def compact(value: str) -> str:
    """The minimal form of an identifier: NFKC, separators and invisible characters removed, ASCII upper."""
    return unicodedata.normalize("NFKC", value).translate(_TRANSLATION)


@overload
def compact_array(arr: pa.Array) -> pa.Array: ...
@overload
def compact_array(arr: pa.ChunkedArray) -> pa.ChunkedArray: ...
def compact_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """:func:`compact` over a whole string column with Arrow kernels; nulls stay null.

    Accepts string, large_string, string_view and all-null columns; the result is string (or
    large_string for large_string input, so huge columns do not overflow 32-bit offsets).
    """
    if pa.types.is_null(arr.type) or pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    elif not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise TypeError(f"identifier columns must be strings, got {arr.type}")
    if isinstance(arr, pa.ChunkedArray):
        return pa.chunked_array([_compact_chunk(chunk) for chunk in arr.chunks], type=arr.type)
    return _compact_chunk(arr)


def _full_compaction(arr: pa.Array) -> pa.Array:
    normalised = pc.utf8_normalize(arr, form="NFKC")
    stripped = pc.replace_substring_regex(normalised, pattern=_REMOVED_PATTERN, replacement="")
    return pc.ascii_upper(stripped)


def _compact_chunk(arr: pa.Array) -> pa.Array:
    """Only rows with a non-ASCII or removable byte go through NFKC and the regex; the rest (nearly all,
    in practice) just need upper-casing. The regex alone costs several times the whole check otherwise.
    """
    dirty = _dirty_rows(arr)
    upper = pc.ascii_upper(arr)
    if not dirty.any():
        return upper
    return pc.replace_with_mask(upper, pa.array(dirty), _full_compaction(arr.filter(pa.array(dirty))))


def _dirty_rows(arr: pa.Array) -> np.ndarray:
    """Rows holding any byte that NFKC or the removal could change, found over the data buffer at once."""
    dirty = np.zeros(len(arr), dtype=bool)
    offsets, data = string_buffers(arr)
    positions = np.flatnonzero(_DIRTY_BYTES[data])
    # The row of a byte is the last row starting at or before it ("right" skips empty rows).
    dirty[np.searchsorted(offsets, positions, side="right") - 1] = True
    return dirty
