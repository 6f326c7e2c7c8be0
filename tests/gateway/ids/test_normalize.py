"""compact and compact_array: what people type becomes one form, identically in both."""

from __future__ import annotations

import pyarrow as pa
import pytest

from gateway.ids.normalize import REMOVED_CHARACTERS, compact, compact_array


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("９１３５", "9135"),
        ("ｍａ１ｋ", "MA1K"),
        ("\u3000913 5\t0100\n", "91350100"),
        ("D2143569-X", "D2143569X"),
        ("D2143569—X", "D2143569X"),
        ("D2143569－X", "D2143569X"),
        ("\ufeff91\u200b35\u00ad", "9135"),
        ("abc", "ABC"),
        # Only ASCII is upper-cased: Unicode case mapping would change lengths or invent ASCII letters.
        ("ß", "ß"),
        ("ı", "ı"),
        ("", ""),
    ],
)
def test_compact(value, expected):
    assert compact(value) == expected


def test_column_matches_scalar_on_hostile_samples(uscc_samples, resident_id_samples):
    samples = [*uscc_samples, *resident_id_samples, REMOVED_CHARACTERS, "ſ\u212aﬁ①e\u0301"]
    assert compact_array(pa.array(samples)).to_pylist() == [compact(value) for value in samples]


def test_column_keeps_nulls_chunks_and_large_offsets():
    arr = pa.array([None, " ９ ", None], type=pa.large_string())
    result = compact_array(arr)
    assert result.type == pa.large_string()
    assert result.to_pylist() == [None, "9", None]
    chunked = compact_array(pa.chunked_array([["a-b"], [None, "ｃ"]]))
    assert isinstance(chunked, pa.ChunkedArray)
    assert chunked.to_pylist() == ["AB", None, "C"]
    assert compact_array(pa.array(["x y"], type=pa.string_view())).to_pylist() == ["XY"]
    assert compact_array(pa.nulls(2)).to_pylist() == [None, None]


def test_column_refuses_non_strings():
    with pytest.raises(TypeError):
        compact_array(pa.array([1.5]))
