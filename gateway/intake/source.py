"""Open a department's export file: refuse it whole, or stream its rows as Arrow string batches.

This is the one entry point of intake. It does the cheap checks first (size, what the bytes really
are), hashes the file (the sha256 is the file's identity for dedup and receipts), and hands the
rest to the CSV, XLSX, XML or JSON reader. All readers deliver the same shape: columns ``c0..cN-1``
by position plus ``__row__``, the row number the department sees in a spreadsheet. XML and JSON
records have no rows of their own: the first record is row 2, the next row 3, and so on
(gateway/intake/record_rows.py).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

import pyarrow as pa
from python_calamine import CalamineWorkbook

from gateway.intake.csv_head import read_csv_head
from gateway.intake.csv_rows import CsvRows
from gateway.intake.detect import HEAD_BYTES, FileFormat, sniff_format
from gateway.intake.encoding import detect_encoding
from gateway.intake.errors import MalformedRow, ReadError
from gateway.intake.json_rows import JsonRows
from gateway.intake.limits import DEFAULT_LIMITS, ReadLimits
from gateway.intake.shape import ROW_COLUMN, output_schema, rebatch, shape_batch
from gateway.intake.workbook import SheetSurvey, load_sheet, open_workbook, survey
from gateway.intake.xlsx_rows import XlsxRows
from gateway.intake.xml_rows import XmlRows

DEFAULT_BATCH_ROWS = 65536


@dataclass(frozen=True)
class _Identity:
    """What must not change while the file is read: the sha256 describes these bytes only."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, info: os.stat_result) -> _Identity:
        return cls(info.st_size, info.st_mtime_ns, info.st_ino)


@dataclass
class SourceFile:
    """An opened export file. Rows are read lazily by :meth:`batches`; close it (or use ``with``)."""

    path: Path
    format: FileFormat
    encoding: str | None
    """Codec of a text file ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", ...); None for XLSX."""
    sha256: str
    size: int
    headers: list[str]
    """Header cells as written: BOM removed, surrounding whitespace stripped, trailing empties dropped.
    For XML and JSON: the field names of all records in first-seen order (XML attributes as "@name")."""
    header_row: int
    """Spreadsheet row number of the header (1 unless blank rows come first; always 1 for XML and JSON)."""
    delimiter: str | None
    """CSV delimiter found in the header line; None for the other formats."""
    sheet: str | None
    """The XLSX sheet read; None for the other formats."""
    row_errors: list[MalformedRow] = field(default_factory=list)
    """The first ``ReadLimits.max_kept_row_errors`` row-level problems, in row order, filled while
    :meth:`batches` runs. Only a sample when the file has more (``row_error_count``): a file of millions
    of bad rows must not hold them all. Every error reaches the consumer in :attr:`batch_errors`."""
    batch_errors: list[MalformedRow] = field(default_factory=list)
    """The row errors of the rows in the batch last yielded, all of them, in row order."""
    row_error_count: int = 0
    """Row errors found so far (all of them, also those no longer kept)."""
    bad_row_count: int = 0
    """Distinct rows with at least one row error so far."""
    _reader: CsvRows | XlsxRows | XmlRows | JsonRows | None = field(default=None, repr=False)
    _identity: _Identity | None = field(default=None, repr=False)
    _max_cell_chars: int = field(default=DEFAULT_LIMITS.max_cell_chars, repr=False)
    _kept_row_errors: int = field(default=DEFAULT_LIMITS.max_kept_row_errors, repr=False)

    @property
    def schema(self) -> pa.Schema:
        """Schema of every batch, also usable when the file has no data rows."""
        return output_schema(len(self.headers))

    @property
    def empty_headers(self) -> list[int]:
        """Positions (0-based) of columns without a name; the mapping decides whether that matters."""
        return [index for index, name in enumerate(self.headers) if not name]

    @property
    def duplicate_headers(self) -> dict[str, list[int]]:
        """Names used by more than one column, with their positions."""
        positions: dict[str, list[int]] = {}
        for index, name in enumerate(self.headers):
            if name:
                positions.setdefault(name, []).append(index)
        return {name: found for name, found in positions.items() if len(found) > 1}

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the data rows; entirely empty rows are left out but keep their numbers.

        When a batch is yielded, :attr:`batch_errors` holds the errors of exactly its rows, in row order,
        and the counts cover every row up to its last. Each call reads the file again and starts afresh.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        if self._reader is None:
            raise ValueError(f"{self.path.name} is closed")
        self.row_errors.clear()
        self.batch_errors = []
        self.row_error_count = self.bad_row_count = 0
        found: list[MalformedRow] = []
        reader = self._reader
        if isinstance(reader, CsvRows):
            raw = reader.raw_batches(found)
        else:
            raw = reader.raw_batches(batch_rows, found)
        for batch in rebatch(self._shaped(raw, reader.label, found), batch_rows):
            self._release(found, batch.column(ROW_COLUMN)[-1].as_py())
            yield batch
        self._release(found, None)
        self._check_unchanged()

    @property
    def preamble(self) -> list[tuple[int, list[str]]]:
        """A CSV's first non-blank records (record number, cells): where a header below row 1 is looked
        for. Empty for the other formats (workbooks are surveyed sheet by sheet; XML and JSON name their
        fields in every record)."""
        if isinstance(self._reader, CsvRows):
            return [(number, cells) for number, cells, _width in self._reader.head.preamble]
        return []

    def use_header(self, row: int, depth: int, headers: list[str]) -> None:
        """Read a CSV's data below a header the caller found at record ``row`` over ``depth`` records;
        row numbers stay the file's own."""
        reader = self._reader
        if not isinstance(reader, CsvRows):
            raise ValueError("only a CSV file's header can be moved")
        self._reader = replace(reader, head=reader.head.moved(row, depth, headers))
        self.headers, self.header_row = headers, row

    def max_good_rows(self, bad_rows: int) -> int | None:
        """How many good data rows the file can hold at most, given ``bad_rows`` bad ones: what lets
        ingest stop once the rejection threshold is certainly passed (a file of ten million broken rows is
        refused without reading them all). A sheet's row count is known; a CSV row with all its cells has
        at least one byte per column (a delimiter or the line end) and a bad one at least two, so the
        file's size bounds the rest. None for the other formats: they are read to the end."""
        reader = self._reader
        if isinstance(reader, XlsxRows):
            return max(reader.data_rows() - bad_rows, 0)
        if isinstance(reader, CsvRows) and self.headers:
            return max(self.size - 2 * bad_rows, 0) // len(self.headers)
        return None

    def close(self) -> None:
        if isinstance(self._reader, XlsxRows):
            self._reader.close()
        self._reader = None

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _shaped(
        self, raw: Iterator[pa.RecordBatch], label: Callable[[int], str], found: list[MalformedRow]
    ) -> Iterator[pa.RecordBatch]:
        for batch in raw:
            shaped, errors = shape_batch(batch, self.headers, self._max_cell_chars, label)
            found.extend(errors)
            yield shaped

    def _release(self, found: list[MalformedRow], through: int | None) -> None:
        """Hand over the errors of rows up to ``through`` (all when None) from ``found``: as the batch's
        errors, into the counts, and into the kept sample while it has room.

        Readers and the shaping step report errors as they meet them, and re-batching holds rows
        back, so errors are kept here until the batch holding their row goes out.
        """
        found.sort(key=lambda error: error.row)
        cut = len(found) if through is None else bisect.bisect_right(found, through, key=lambda e: e.row)
        released = found[:cut]
        del found[:cut]
        self.batch_errors = released
        self.row_error_count += len(released)
        self.bad_row_count += len({error.row for error in released})
        room = self._kept_row_errors - len(self.row_errors)
        if room > 0:
            self.row_errors.extend(released[:room])

    def _check_unchanged(self) -> None:
        if self._identity is None:
            return
        if _Identity.of(self.path.stat()) != self._identity:
            raise ReadError(
                "E_CHANGED", f"文件“{self.path.name}”在读取过程中被修改，请等文件完整上传后再处理"
            )


def open_source(
    path: Path,
    *,
    limits: ReadLimits = DEFAULT_LIMITS,
    sheet: str | None = None,
    record_path: str | None = None,
) -> SourceFile:
    """Check and open a CSV, XLSX, XML or JSON export; raises :class:`ReadError` when it cannot be used.

    ``sheet`` names the XLSX sheet to read (default: the first visible one). ``record_path`` names the
    XML element whose children are the records, as local names below the root ("Body/Rows"; default:
    the root's children). Other formats ignore both.
    """
    path = Path(path)
    display = path.name
    info, head, sha256 = _checked_head(path, limits)
    file_format = sniff_format(head, path.suffix, display)
    if file_format == "csv":
        encoding = detect_encoding(path, display)
        csv_head = read_csv_head(path, encoding, display, limits)
        return SourceFile(
            path=path,
            format=file_format,
            encoding=encoding,
            sha256=sha256,
            size=info.st_size,
            headers=csv_head.headers,
            header_row=csv_head.header_row,
            delimiter=csv_head.delimiter,
            sheet=None,
            _reader=CsvRows(path=path, encoding=encoding, head=csv_head, limits=limits, display=display),
            _identity=_Identity.of(info),
            _max_cell_chars=limits.max_cell_chars,
            _kept_row_errors=limits.max_kept_row_errors,
        )
    if file_format in ("xml", "json"):
        reader = (
            XmlRows.open(path, display, limits, record_path)
            if file_format == "xml"
            else JsonRows.open(path, display, limits)
        )
        return SourceFile(
            path=path,
            format=file_format,
            encoding=reader.encoding,
            sha256=sha256,
            size=info.st_size,
            headers=reader.headers,
            header_row=1,
            delimiter=None,
            sheet=None,
            _reader=reader,
            _identity=_Identity.of(info),
            _max_cell_chars=limits.max_cell_chars,
            _kept_row_errors=limits.max_kept_row_errors,
        )
    workbook = XlsxRows.open(path, display, limits, sheet, file_format)
    return SourceFile(
        path=path,
        format=file_format,
        encoding=None,
        sha256=sha256,
        size=info.st_size,
        headers=workbook.headers,
        header_row=workbook.header_row,
        delimiter=None,
        sheet=workbook.sheet_name,
        _reader=workbook,
        _identity=_Identity.of(info),
        _max_cell_chars=limits.max_cell_chars,
        _kept_row_errors=limits.max_kept_row_errors,
    )


def _checked_head(path: Path, limits: ReadLimits) -> tuple[os.stat_result, bytes, str]:
    """The cheap checks every file gets first (a regular file, not empty, not too large), its first bytes
    for the format sniffer and its sha256, the file's identity for dedup and receipts."""
    display = path.name
    with path.open("rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ReadError("E_FORMAT", f"“{display}”不是普通文件")
        if info.st_size == 0:
            raise ReadError("E_EMPTY", f"文件“{display}”为空")
        if info.st_size > limits.max_file_bytes:
            raise ReadError(
                "E_TOO_LARGE", f"文件“{display}”大小为{info.st_size}字节，超过上限{limits.max_file_bytes}字节"
            )
        head = stream.read(HEAD_BYTES)
        stream.seek(0)
        sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
    return info, head, sha256


WORKBOOK_FORMATS = frozenset({"xlsx", "xls", "ods"})


@dataclass
class WorkbookFile:
    """An opened workbook: every sheet surveyed (gateway/intake/workbook.py); :meth:`open_sheet` gives one
    sheet, below the header the caller found, as a :class:`SourceFile`. Close it (or use ``with``)."""

    path: Path
    format: FileFormat
    sha256: str
    size: int
    sheets: list[SheetSurvey]
    _workbook: CalamineWorkbook = field(repr=False)
    _identity: _Identity = field(repr=False)
    _limits: ReadLimits = field(repr=False)

    def open_sheet(self, name: str, *, header_row: int, headers: list[str], depth: int) -> SourceFile:
        """The sheet below its header, read from the load the survey made (handed over once, so memory is
        freed as each sheet is done), or loaded again if it was handed over already."""
        index = next(i for i, sheet in enumerate(self.sheets) if sheet.name == name)
        loaded = self.sheets[index].loaded or load_sheet(self._workbook, name, self.path.name, self._limits)
        self.sheets[index] = replace(self.sheets[index], loaded=None)
        reader = XlsxRows.for_sheet(
            self.path,
            self.path.name,
            self._workbook,
            loaded,
            header_row=header_row,
            headers=headers,
            header_depth=depth,
            file_format=self.format,
        )
        return SourceFile(
            path=self.path,
            format=self.format,
            encoding=None,
            sha256=self.sha256,
            size=self.size,
            headers=headers,
            header_row=header_row,
            delimiter=None,
            sheet=name,
            _reader=reader,
            _identity=self._identity,
            _max_cell_chars=self._limits.max_cell_chars,
        )

    def close(self) -> None:
        self._workbook.close()

    def __enter__(self) -> WorkbookFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def open_any(path: Path, *, limits: ReadLimits = DEFAULT_LIMITS) -> SourceFile | WorkbookFile:
    """A workbook (every sheet surveyed), or another format's file as :func:`open_source` opens it."""
    path = Path(path)
    info, head, sha256 = _checked_head(path, limits)
    file_format = sniff_format(head, path.suffix, path.name)
    if file_format not in WORKBOOK_FORMATS:
        return open_source(path, limits=limits)
    workbook = open_workbook(path, path.name, limits, file_format)
    try:
        sheets = survey(workbook, path.name, limits)
    except BaseException:
        workbook.close()
        raise
    return WorkbookFile(path, file_format, sha256, info.st_size, sheets, workbook, _Identity.of(info), limits)
