"""Stream the rows of one worksheet (XLSX, XLS or ODS) through python-calamine, numbered as Excel does.

``CalamineSheet.iter_rows`` yields one list per spreadsheet row starting at row 1 (it pads the rows
above the used range with empty lists), with columns starting at the used range's first column, so
row index i is spreadsheet row i + 1 and column j is sheet column ``start[1] + j``. Tests pin this
with a sheet whose data starts at B3.

The header is where the caller says (gateway/mapping/header_rows.py finds it, over one or two rows); data
starts on the row after it. Without one, the first non-blank row is the header.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineSheet, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from gateway.intake.cells import cell_text
from gateway.intake.errors import MalformedRow, ReadError
from gateway.intake.limits import ReadLimits
from gateway.intake.shape import ROW_COLUMN, column_name
from gateway.intake.workbook import load_sheet, open_workbook
from gateway.intake.xlsx_errors import ErrorCells, column_letters, error_cells

_REQUIRED_PARTS = ("[Content_Types].xml", "xl/workbook.xml")

T = TypeVar("T")


@dataclass
class XlsxRows:
    """Raw batches of the chosen sheet; create with :meth:`open`."""

    path: Path
    display: str
    sheet_name: str
    headers: list[str]
    header_row: int
    first_column: int
    _workbook: CalamineWorkbook
    _sheet: CalamineSheet
    _errors: ErrorCells | None = field(default=None)
    header_depth: int = 1
    file_format: str = "xlsx"
    _owns_workbook: bool = True

    @classmethod
    def for_sheet(
        cls,
        path: Path,
        display: str,
        workbook: CalamineWorkbook,
        loaded: CalamineSheet,
        *,
        header_row: int,
        headers: list[str],
        header_depth: int,
        file_format: str,
    ) -> XlsxRows:
        """The rows of a sheet already loaded, below a header found by the caller; the workbook is the
        caller's to close."""
        return cls(
            path=path,
            display=display,
            sheet_name=loaded.name,
            headers=headers,
            header_row=header_row,
            first_column=loaded.start[1] if loaded.start is not None else 0,
            _workbook=workbook,
            _sheet=loaded,
            header_depth=header_depth,
            file_format=file_format,
            _owns_workbook=False,
        )

    @classmethod
    def open(
        cls, path: Path, display: str, limits: ReadLimits, sheet: str | None, file_format: str = "xlsx"
    ) -> XlsxRows:
        """One sheet (the named one, else the first visible worksheet) with its first non-blank row as the
        header: the plain reading, for callers that name the sheet they want."""
        workbook = open_workbook(path, display, limits, file_format)
        try:
            name = _choose_sheet(workbook, sheet, display)
            loaded = load_sheet(workbook, name, display, limits)
            if loaded.start is None:
                raise ReadError("E_NO_HEADER", f"文件“{display}”的工作表“{name}”是空的")
            header_row, headers = _find_header(loaded, display, name)
        except BaseException:
            workbook.close()
            raise
        return cls(
            path=path,
            display=display,
            sheet_name=name,
            headers=headers,
            header_row=header_row,
            first_column=loaded.start[1],
            _workbook=workbook,
            _sheet=loaded,
            file_format=file_format,
        )

    def label(self, index: int) -> str:
        letters = column_letters(self.first_column + index)
        name = self.headers[index] if index < len(self.headers) else ""
        return f"{letters}列（{name}）" if name else f"{letters}列"

    def raw_batches(self, batch_rows: int, errors: list[MalformedRow]) -> Iterator[pa.RecordBatch]:
        if self._errors is None:
            # Error cells (#N/A …) are found in the XLSX XML; XLS and ODS have no such scan here.
            self._errors = error_cells(self.path, self.sheet_name) if self.file_format == "xlsx" else {}
        last_header = self.header_row + self.header_depth - 1
        rows = islice(self._sheet.iter_rows(), last_header, None)
        first = last_header + 1
        while chunk := list(islice(rows, batch_rows)):
            yield self._batch(chunk, first, errors)
            first += len(chunk)

    def data_rows(self) -> int:
        """Rows below the header in the sheet's used range (blank ones included: an upper bound)."""
        if self._sheet.start is None:
            return 0
        last_row = self._sheet.start[0] + self._sheet.height
        return max(last_row - (self.header_row + self.header_depth - 1), 0)

    def close(self) -> None:
        if self._owns_workbook:
            self._workbook.close()

    def _batch(self, chunk: list[list[object]], first: int, errors: list[MalformedRow]) -> pa.RecordBatch:
        columns: list[list[object]] = [list(column) for column in zip(*chunk, strict=True)]
        for index, column in enumerate(columns):
            if all(type(value) is str for value in column):
                continue
            for position, value in enumerate(column):
                text, problem = cell_text(value)
                column[position] = text
                if problem is not None:
                    row = first + position
                    errors.append(MalformedRow(row, f"第{row}行{self.label(index)}：{problem}"))
        self._overlay_errors(columns, first, len(chunk), errors)
        arrays = [_nullify_empty(pa.array(column, pa.string())) for column in columns]
        arrays.append(pa.array(np.arange(first, first + len(chunk), dtype=np.int64)))
        names = [column_name(i) for i in range(len(columns))]
        return pa.RecordBatch.from_arrays(arrays, names=[*names, ROW_COLUMN])

    def _overlay_errors(
        self, columns: list[list[object]], first: int, count: int, errors: list[MalformedRow]
    ) -> None:
        """Put the Excel error text (#N/A ...) where calamine returned an empty string, and flag it."""
        if not self._errors:
            return
        for row in range(first, first + count):
            for sheet_column, text in self._errors.get(row, {}).items():
                index = sheet_column - self.first_column
                if 0 <= index < len(columns):
                    columns[index][row - first] = text
                    errors.append(
                        MalformedRow(row, f"第{row}行{self.label(index)}：单元格是Excel错误值{text}")
                    )


def _choose_sheet(workbook: CalamineWorkbook, requested: str | None, display: str) -> str:
    """The requested sheet, else the first visible worksheet (hidden sheets hold lookup lists)."""
    if requested is not None:
        if requested in workbook.sheet_names:
            return requested
        raise ReadError(
            "E_SHEET",
            f"文件“{display}”中没有名为“{requested}”的工作表（现有：{'、'.join(workbook.sheet_names)}）",
        )
    for meta in workbook.sheets_metadata:
        if meta.visible == SheetVisibleEnum.Visible and meta.typ == SheetTypeEnum.WorkSheet:
            return meta.name
    raise ReadError("E_SHEET", f"文件“{display}”没有可见的工作表")


def _find_header(sheet: CalamineSheet, display: str, name: str) -> tuple[int, list[str]]:
    """The first row with any non-blank cell, as (spreadsheet row number, stripped cells)."""
    for index, row in enumerate(sheet.iter_rows()):
        cells = [cell_text(value)[0].strip() for value in row]
        if any(cells):
            used = len(cells)
            while used and not cells[used - 1]:
                used -= 1
            return index + 1, cells[:used]
    raise ReadError("E_NO_HEADER", f"文件“{display}”的工作表“{name}”没有表头行")


def _nullify_empty(array: pa.Array) -> pa.Array:
    """calamine returns "" for empty cells; CSV gives null, and both formats must look the same."""
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
