"""Workbooks as departments send them: every sheet looked at, each one classified before a row is read.

A workbook is rarely one clean table. The templates and office systems put the data on one sheet and add a
填报说明 sheet, a 字典/代码表 sheet (often hidden, feeding drop-down lists), charts; people put the licences
on one sheet and the penalties on the next. So every sheet is surveyed: hidden sheets, chart sheets,
instruction and code-list sheets (by name) and empty sheets are *skipped and named* in the
receipt; every other sheet is a candidate for records, and its first rows (PREAMBLE_ROWS) are handed to the
header locator (gateway/mapping/header_rows.py), which finds where its header is — title rows above it,
a header over two rows — or says the sheet matches nothing. Nothing is ignored without a word.

Formats: XLSX (and XLSM), ODS and the old binary XLS (BIFF8), all through python-calamine. An XLS file is an
OLE2 container, as is an XLSX encrypted with an opening password (its package sits in an ``EncryptedPackage``
stream) and a Word document; olefile tells them apart from the container's directory, so a password gets
its own clear answer instead of "corrupt".
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TypeVar

import olefile
from lxml import etree
from python_calamine import (
    CalamineError,
    CalamineSheet,
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from gateway.intake.cells import cell_text
from gateway.intake.errors import ReadError
from gateway.intake.legacy_budget import check_ods, check_xls
from gateway.intake.limits import ReadLimits
from gateway.intake.zipguard import check_archive

PREAMBLE_ROWS = 20
"""Rows of each sheet the header is looked for in: title rows, blank rows and a two-row header fit."""

DEFAULT_SKIPPED_SHEETS = r"说明|须知|字典|代码表|码表|参数表|下拉|选项"
"""Sheet names that hold instructions or code lists, not records (a regex searched in the name): 填报说明,
填写说明, 数据字典, 代码表 … A data sheet named like one is read only if renamed; the receipt says it was
skipped and why, so that is never silent."""

T = TypeVar("T")
_REQUIRED_PARTS = {"xlsx": ("[Content_Types].xml", "xl/workbook.xml"), "ods": ("content.xml",)}
_XLS_STREAMS = ("Workbook", "Book")


@dataclass(frozen=True)
class SheetSurvey:
    """One sheet of a workbook as first seen."""

    name: str
    skipped: str | None
    """Why the sheet holds no records (Chinese, for the receipt), or None for a candidate sheet."""
    preamble: list[tuple[int, list[str]]] = field(default_factory=list)
    """Its first non-blank rows: (spreadsheet row number, cell texts with trailing blanks dropped)."""
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    """Merged ranges, ((first row, first column), (last row, last column)), 0-based from A1."""
    first_column: int = 0
    """0-based sheet column of the preamble's first cell (the used range may start right of A)."""
    loaded: CalamineSheet | None = field(default=None, repr=False, compare=False)
    """The sheet as calamine loaded it for the survey, kept so that reading it does not load it again."""


def open_workbook(path: Path, display: str, limits: ReadLimits, file_format: str) -> CalamineWorkbook:
    """Check the container (ZIP guard, or OLE2 directory) and open the workbook; raises ReadError."""
    if file_format in _REQUIRED_PARTS:
        parts = check_archive(path, limits, display)  # measures an XLSX's sheets too (xlsx_budget)
        if not all(part in parts for part in _REQUIRED_PARTS[file_format]):
            kind = "XLSX工作簿" if file_format == "xlsx" else "ODS电子表格"
            raise ReadError("E_FORMAT", f"文件“{display}”是ZIP压缩包，但不是{kind}")
        if file_format == "ods":
            _budget(display, lambda: check_ods(path, limits, display))
    else:
        _check_ole(path, display)
        _budget(display, lambda: check_xls(path, limits, display))
    try:
        with path.open("rb") as handle:
            # from_filelike detects the format from the content, so an .xls renamed .xlsx still opens.
            return call(display, lambda: CalamineWorkbook.from_filelike(handle))
    except PasswordError as exc:  # an XLS with a password (FILEPASS), found by calamine
        raise _password(display) from exc


_BROKEN = (OSError, ValueError, KeyError, IndexError, struct.error, etree.LxmlError, zipfile.BadZipFile)


def _budget(display: str, check: Callable[[], None]) -> None:
    """Run a legacy format's budget check; a container too broken to measure is corrupt, not too large."""
    try:
        check()
    except ReadError:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        struct.error,
        etree.LxmlError,
        zipfile.BadZipFile,
    ) as exc:
        raise _corrupt(display, exc) from exc


def _check_ole(path: Path, display: str) -> None:
    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir()}
    except (OSError, ValueError) as exc:  # olefile raises both for a damaged container
        raise ReadError(
            "E_CORRUPT", f"文件“{display}”无法作为XLS工作簿读取（{exc}），文件可能已损坏"
        ) from exc
    if "EncryptedPackage" in streams:
        raise _password(display)
    if not any(name in streams for name in _XLS_STREAMS):
        kind = "Word文档" if "WordDocument" in streams else "不含工作簿的OLE文件"
        raise ReadError(
            "E_FORMAT", f"文件“{display}”的内容是{kind}，不是电子表格，请导出为XLSX或CSV后重新提交"
        )


def _password(display: str) -> ReadError:
    return ReadError(
        "E_PASSWORD",
        f"工作簿“{display}”设置了打开密码，网关无法读取；请取消密码（文件→信息→保护工作簿）后重新导出提交",
    )


def survey(
    workbook: CalamineWorkbook, display: str, limits: ReadLimits, skipped_names: str = DEFAULT_SKIPPED_SHEETS
) -> list[SheetSurvey]:
    """Every sheet of the workbook, in order, classified; candidate sheets with their first rows."""
    pattern = re.compile(skipped_names)
    found = []
    for meta in workbook.sheets_metadata:
        name = meta.name
        if meta.typ != SheetTypeEnum.WorkSheet:
            found.append(SheetSurvey(name, "图表或宏工作表，不含数据"))
        elif meta.visible != SheetVisibleEnum.Visible:
            found.append(SheetSurvey(name, "隐藏的工作表（通常是下拉列表的代码表）"))
        elif pattern.search(name):
            found.append(SheetSurvey(name, "填报说明或代码表工作表"))
        else:
            found.append(_survey_sheet(workbook, name, display, limits))
    return found


def load_sheet(workbook: CalamineWorkbook, name: str, display: str, limits: ReadLimits) -> CalamineSheet:
    sheet = call(display, lambda: workbook.get_sheet_by_name(name))
    if sheet.width > limits.max_columns:
        raise ReadError(
            "E_TOO_LARGE", f"文件“{display}”的工作表“{name}”有{sheet.width}列，超过上限{limits.max_columns}列"
        )
    return sheet


def _survey_sheet(workbook: CalamineWorkbook, name: str, display: str, limits: ReadLimits) -> SheetSurvey:
    sheet = load_sheet(workbook, name, display, limits)
    if sheet.start is None:
        return SheetSurvey(name, "空工作表")
    preamble = []
    for index, row in enumerate(islice(sheet.iter_rows(), PREAMBLE_ROWS)):
        cells = [cell_text(value)[0].strip() for value in row]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            preamble.append((index + 1, cells))
    if not preamble:
        return SheetSurvey(name, "空工作表")
    merged = [((a, b), (c, d)) for (a, b), (c, d) in (sheet.merged_cell_ranges or [])]
    return SheetSurvey(name, None, preamble, merged, sheet.start[1], sheet)


def call(display: str, action: Callable[[], T]) -> T:
    """Run a calamine call, turning a malformed-file failure into E_CORRUPT.

    calamine is Rust: besides CalamineError, a file it cannot cope with may make it panic, which
    pyo3 raises as PanicException, a BaseException subclass that only exists at runtime, hence the
    match by name.
    """
    try:
        return action()
    except PasswordError:
        raise
    except CalamineError as exc:
        raise _corrupt(display, exc) from exc
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":
            raise _corrupt(display, exc) from exc
        raise


def _corrupt(display: str, exc: BaseException) -> ReadError:
    return ReadError("E_CORRUPT", f"文件“{display}”无法作为电子表格读取（{exc}），文件可能已损坏")


def header_spans(sheet: SheetSurvey) -> dict[int, list[tuple[int, int]]]:
    """Per preamble row, the column ranges of the merged cells that start on it and span several columns,
    counted like the row's cells (from the first column the sheet's rows hold), inclusive."""
    offset = sheet.first_column
    return {
        row: [
            (first[1] - offset, last[1] - offset)
            for first, last in sheet.merged
            if first[0] + 1 == row and last[1] > first[1]
        ]
        for row, _cells in sheet.preamble
    }
