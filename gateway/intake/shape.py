"""Bring raw parsed rows into the shape every reader promises, with Arrow compute over whole batches.

Both readers hand over batches of string columns ``c0..cM-1`` (M may exceed the header width when
rows are longer than the header) and ``__row__``. Here, for CSV and XLSX alike: entirely empty rows
are dropped (their numbers stay skipped), cells beyond the header are checked and cut off, and
over-long cells are truncated and flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gateway.intake.errors import MalformedRow

ROW_COLUMN = "__row__"


def column_name(index: int) -> str:
    """Positional name of a data column: headers may repeat or be empty, positions cannot."""
    return f"c{index}"


def output_schema(width: int) -> pa.Schema:
    return pa.schema(
        [pa.field(column_name(i), pa.string()) for i in range(width)] + [(ROW_COLUMN, pa.int64())]
    )


def shape_batch(
    batch: pa.RecordBatch,
    headers: list[str],
    max_cell_chars: int,
    label: Callable[[int], str],
) -> tuple[pa.RecordBatch, list[MalformedRow]]:
    """Return the batch with ``len(headers)`` data columns and the row errors found on the way.

    ``label(j)`` names column j in messages, e.g. "第3列（名称）" or "C列（名称）".
    """
    width = len(headers)
    raw_width = batch.num_columns - 1
    columns = [batch.column(column_name(i)) for i in range(raw_width)]
    filled = [_filled(column) for column in columns]
    keep = _any(filled, batch.num_rows)
    if not keep.all():
        mask = pa.array(keep)
        batch = batch.filter(mask)
        columns = [column.filter(mask) for column in columns]
        filled = [flags[keep] for flags in filled]
    rows = batch.column(ROW_COLUMN).to_numpy()

    errors = _overflow_errors(filled[width:], rows, width)
    data = columns[:width]
    for index, column in enumerate(data):
        lengths = pc.fill_null(pc.utf8_length(column), 0).to_numpy()
        too_long = np.flatnonzero(lengths > max_cell_chars)
        if too_long.size:
            for position in too_long:
                errors.append(
                    MalformedRow(
                        int(rows[position]),
                        f"第{rows[position]}行{label(index)}：单元格内容过长（{int(lengths[position])}个字符，"
                        f"上限{max_cell_chars}），已截断，可能是引号未闭合",
                    )
                )
            data[index] = pc.utf8_slice_codeunits(column, 0, max_cell_chars)
    shaped = pa.RecordBatch.from_arrays([*data, batch.column(ROW_COLUMN)], schema=output_schema(width))
    return shaped, errors


def rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Yield batches of exactly ``size`` rows (the last may be shorter) from batches of any size."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        held.append(batch)
        count += batch.num_rows
        while count >= size:
            merged = pa.concat_batches(held) if len(held) > 1 else held[0]
            yield merged.slice(0, size)
            rest = merged.slice(size)
            held = [rest] if rest.num_rows else []
            count = rest.num_rows
    if count:
        yield pa.concat_batches(held) if len(held) > 1 else held[0]


def _filled(column: pa.Array) -> np.ndarray:
    """True where a cell has something other than whitespace."""
    blank = pc.or_kleene(pc.utf8_is_space(column), pc.equal(pc.binary_length(column), 0))
    return pc.invert(pc.fill_null(blank, True)).to_numpy(zero_copy_only=False)


def _any(flags: list[np.ndarray], rows: int) -> np.ndarray:
    result = np.zeros(rows, dtype=bool)
    for item in flags:
        result |= item
    return result


def _overflow_errors(filled: list[np.ndarray], rows: np.ndarray, width: int) -> list[MalformedRow]:
    """Flag rows with content beyond the header; trailing empty cells are harmless padding."""
    if not filled:
        return []
    last = np.zeros(rows.shape[0], dtype=np.int64)
    for offset, flags in enumerate(filled):
        last = np.where(flags, width + offset + 1, last)
    return [
        MalformedRow(
            int(rows[position]), f"第{rows[position]}行：单元格数量({last[position]})多于表头({width})"
        )
        for position in np.flatnonzero(last)
    ]
