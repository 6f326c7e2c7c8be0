"""Shaping raw batches and re-batching."""

from __future__ import annotations

import pyarrow as pa

from gateway.intake.shape import rebatch, shape_batch


def raw(columns: list[list[str | None]], rows: list[int]) -> pa.RecordBatch:
    arrays = [pa.array(column, pa.string()) for column in columns] + [pa.array(rows, pa.int64())]
    return pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(len(columns))] + ["__row__"])


def label(index: int) -> str:
    return f"第{index + 1}列"


def test_blank_rows_dropped_overflow_flagged_and_cut() -> None:
    batch = raw([["甲", None, " ", "丁"], ["1", None, "\u3000", "4"], [None, None, None, "多"]], [2, 3, 4, 5])
    shaped, errors = shape_batch(batch, ["名称", "金额"], 100, label)
    assert shaped.to_pydict() == {"c0": ["甲", "丁"], "c1": ["1", "4"], "__row__": [2, 5]}
    assert [tuple(error) for error in errors] == [(5, "第5行：单元格数量(3)多于表头(2)")]


def test_long_cells_are_cut_by_characters() -> None:
    shaped, errors = shape_batch(raw([["忻州市" * 4, "短"]], [7, 8]), ["名称"], 5, label)
    assert shaped.column("c0").to_pylist() == ["忻州市忻州", "短"]
    assert [error.row for error in errors] == [7]


def test_rebatch_to_exact_sizes() -> None:
    parts = [raw([[str(i) for i in range(n)]], list(range(n))) for n in (5, 0, 2, 9)]
    sizes = [batch.num_rows for batch in rebatch(parts, 4)]
    assert sizes == [4, 4, 4, 4]
    assert [batch.num_rows for batch in rebatch(parts, 100)] == [16]
