"""Offsets and bytes of Arrow string arrays as numpy views."""

from __future__ import annotations

import pyarrow as pa
import pytest

from gateway.ids.arrow_buffers import string_buffers


@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])
def test_rows_are_recovered_from_sliced_arrays(string_type):
    arr = pa.array(["x", "九一", None, "", "abc"], type=string_type).slice(1, 4)
    offsets, data = string_buffers(arr)
    rows = [data[offsets[i] : offsets[i + 1]].tobytes().decode("utf-8") for i in range(len(arr))]
    assert rows == ["九一", "", "", "abc"]
    assert offsets[0] == 0


def test_arrays_without_a_data_buffer():
    offsets, data = string_buffers(pa.array([None, ""], type=pa.string()))
    assert offsets.tolist() == [0, 0, 0]
    assert data.size == 0


def test_non_string_arrays_are_refused():
    with pytest.raises(TypeError):
        string_buffers(pa.array([b"x"]))
