"""The byte scan that spares regex kernels: a "no" is exact, a "yes" is checked by the caller."""

from __future__ import annotations

import pyarrow as pa
import pytest

from gateway.arrow_bytes import CONTROL, COPY_ESCAPED, JSON_ESCAPED, byte_class, may_hold


@pytest.mark.parametrize(
    ("values", "table", "expected"),
    [
        (["忻州市某某有限公司", "行政处罚"], CONTROL, False),
        (["正常", "含\x07响铃"], CONTROL, True),
        (["制表\t换行\n回车\r"], CONTROL, False),  # allowed in text fields
        (["删除\x7f"], CONTROL, True),
        (['引号"'], JSON_ESCAPED, True),
        (["反斜杠\\"], COPY_ESCAPED, True),
        (['引号"'], COPY_ESCAPED, False),
        ([None, None], CONTROL, False),
        ([], CONTROL, False),
    ],
)
def test_whole_columns(values: list[str | None], table: object, expected: bool) -> None:
    assert may_hold(pa.array(values, pa.string()), table) is expected  # type: ignore[arg-type]


def test_only_the_slice_is_looked_at() -> None:
    """Bytes outside a slice's span (here a control character in the row before) are not its own."""
    column = pa.array(["坏\x01", "好", "也好"])
    assert may_hold(column, CONTROL)
    assert not may_hold(column.slice(1), CONTROL)
    assert not may_hold(pa.chunked_array([column.slice(1), pa.array(["好"])]), CONTROL)
    assert may_hold(pa.chunked_array([pa.array(["好"]), column.slice(0, 1)]), CONTROL)


def test_large_strings_and_other_types() -> None:
    assert may_hold(pa.array(["a\x02"], pa.large_string()), CONTROL)
    assert not may_hold(pa.array(["a"], pa.large_string()), CONTROL)
    assert may_hold(pa.array(["a"]).dictionary_encode(), CONTROL)  # not plain text: "look closer"


def test_only_ascii_bytes_make_a_class() -> None:
    with pytest.raises(ValueError, match="not an ASCII byte"):
        byte_class([0xC2])
