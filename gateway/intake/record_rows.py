"""Turn records that name their own fields (JSON objects, XML elements) into the raw batches readers yield.

XML and JSON exports have no header row: each record names its fields, and any record may bring a new
one. The readers therefore learn the header in a first pass over the file (the union of field names in
first-seen order, bounded so that a file inventing a new name in every record cannot grow it without
end) and place each record's values by name in a second pass. The mapping is chosen from the header
before any row is read, so the first pass cannot be skipped; both passes stream.

Row numbers are the record's ordinal plus one: the first record is row 2, as if the records were the
rows under a header in a spreadsheet, so a receipt reads the same whatever the format.

One invariant matters to the rest of the pipeline: a record with a reader error is never an entirely
empty row. The shaping step drops empty rows and ingest counts rows from the batches, so a record
reduced to nothing (a JSON array element that is not an object, say) would have its error counted
against a row that does not exist, or, at the end of the file, be reported after the last batch and
never reach the receipt. Such a record keeps a short rendering of what was there in its first cell;
the error rejects the row all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from gateway.intake.errors import ReadError
from gateway.intake.shape import ROW_COLUMN, column_name

FIRST_ROW = 2
"""Row number of the first record: row 1 is the (implicit) header."""

RAW_BATCH_ROWS = 4096
"""Records held as Python strings before they become Arrow arrays; SourceFile re-batches to any size, and
65 536 records of a few dozen fields as Python objects would take hundreds of megabytes."""

PREVIEW_CHARS = 200
"""Longest rendering of a value that cannot be a cell (nested, not an object) kept in the landing copy."""

Cells = list[tuple[int, str]]
"""A record's non-empty values as (column index, text)."""


class FieldNames:
    """Field names in first-seen order, at most ``limit`` of them."""

    def __init__(self, limit: int, display: str) -> None:
        self._index: dict[str, int] = {}
        self._limit = limit
        self._display = display

    def add(self, name: str) -> None:
        if name in self._index:
            return
        if len(self._index) >= self._limit:
            raise ReadError(
                "E_TOO_LARGE",
                f"文件“{self._display}”的记录中出现了超过{self._limit}个不同的字段名，超过上限，"
                "请检查导出格式（每条记录的字段名应当相同）",
            )
        self._index[name] = len(self._index)

    @property
    def names(self) -> list[str]:
        return list(self._index)

    def __len__(self) -> int:
        return len(self._index)


def field_label(name: str) -> str:
    """How a message names a field of an XML or JSON record: by the name the department's system wrote."""
    return f"字段“{name}”" if name else "名称为空的字段"


def preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


@dataclass
class RowBuffer:
    """Records collected row by row and turned into one Arrow batch of string columns at a time."""

    width: int
    _rows: list[int] = field(default_factory=list)
    _cells: list[Cells] = field(default_factory=list)

    def add(self, row: int, cells: Cells, *, flagged: bool, fallback: str) -> None:
        """Add a record; ``fallback`` (non-empty) fills its first cell when it is flagged but blank."""
        if flagged and not any(text.strip() for _, text in cells):
            cells = [(index, text) for index, text in cells if index != 0]
            cells.append((0, preview(fallback)))
        self._rows.append(row)
        self._cells.append(cells)

    def __len__(self) -> int:
        return len(self._rows)

    def take(self) -> pa.RecordBatch:
        """The collected records as one batch (``c0..`` + ``__row__``); the buffer starts empty again."""
        count = len(self._rows)
        columns: list[list[str | None]] = [[None] * count for _ in range(self.width)]
        for position, cells in enumerate(self._cells):
            for index, text in cells:
                columns[index][position] = text
        arrays = [pa.array(column, pa.string()) for column in columns]
        arrays.append(pa.array(self._rows, pa.int64()))
        names = [column_name(index) for index in range(self.width)]
        self._rows, self._cells = [], []
        return pa.RecordBatch.from_arrays(arrays, names=[*names, ROW_COLUMN])
