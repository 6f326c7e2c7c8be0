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
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from gateway.intake.csv_head import read_csv_head
from gateway.intake.csv_rows import CsvRows
from gateway.intake.detect import HEAD_BYTES, FileFormat, sniff_format
from gateway.intake.encoding import detect_encoding
from gateway.intake.errors import ReadError, RowError
from gateway.intake.json_rows import JsonRows
from gateway.intake.limits import DEFAULT_LIMITS, ReadLimits
from gateway.intake.shape import ROW_COLUMN, output_schema, rebatch, shape_batch
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
    row_errors: list[RowError] = field(default_factory=list)
    """Row-level problems in row order, filled while :meth:`batches` runs; complete once it is exhausted."""
    _reader: CsvRows | XlsxRows | XmlRows | JsonRows | None = field(default=None, repr=False)
    _identity: _Identity | None = field(default=None, repr=False)
    _max_cell_chars: int = field(default=DEFAULT_LIMITS.max_cell_chars, repr=False)

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

        When a batch is yielded, :attr:`row_errors` holds the errors of every row up to that
        batch's last row and of no later row, in row order, so a consumer can take the new tail
        of the list after each batch. Each call reads the file again and refills the list.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        if self._reader is None:
            raise ValueError(f"{self.path.name} is closed")
        self.row_errors.clear()
        found: list[RowError] = []
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
        self, raw: Iterator[pa.RecordBatch], label: Callable[[int], str], found: list[RowError]
    ) -> Iterator[pa.RecordBatch]:
        for batch in raw:
            shaped, errors = shape_batch(batch, self.headers, self._max_cell_chars, label)
            found.extend(errors)
            yield shaped

    def _release(self, found: list[RowError], through: int | None) -> None:
        """Move the errors of rows up to ``through`` (all when None) from ``found`` to row_errors.

        Readers and the shaping step report errors as they meet them, and re-batching holds rows
        back, so errors are kept here until the batch holding their row goes out.
        """
        found.sort(key=lambda error: error.row)
        cut = len(found) if through is None else bisect.bisect_right(found, through, key=lambda e: e.row)
        self.row_errors.extend(found[:cut])
        del found[:cut]

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
        )
    workbook = XlsxRows.open(path, display, limits, sheet)
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
    )
