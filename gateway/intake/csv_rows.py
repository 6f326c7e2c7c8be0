"""Stream a CSV file's data rows through pyarrow, numbered as the department sees them.

Row numbers are the hard part. pyarrow yields only rows whose cell count matches the header and
does not say where they were in the file. What it does give, when parsing single-threaded, is the
record number of every *mismatching* row (``InvalidRow.number``, counting from 1 at the first
record, one per record however many quoted newlines it holds, empty lines included; verified in
tests). Those rows are skipped by pyarrow and re-parsed here. Every other record is a valid row
and arrives in file order, so the valid rows' numbers are exactly the numbers not taken by skipped
rows, which numpy computes for a whole batch at once.

pyarrow's streaming reader parses a block before yielding its batch, so by the time a batch
arrives every skipped row that precedes any of its rows has been reported.

Skipped rows are where a hostile file costs most: pyarrow calls Python once for each (about 13 µs), so their
number is capped (``ReadLimits.max_ragged_rows``), and they are re-parsed with Arrow compute, one split for
all of them, except the few with quotes, which need the csv module's rules.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gateway.intake.csv_head import CsvHead
from gateway.intake.errors import MalformedRow, ReadError
from gateway.intake.limits import ReadLimits
from gateway.intake.shape import ROW_COLUMN, column_name

_NATIVE_UTF8 = frozenset({"utf-8", "utf-8-sig"})
"""pyarrow decodes UTF-8 natively and drops a UTF-8 BOM itself; other codecs go through Python."""


@dataclass
class _SkippedRows:
    """pyarrow's invalid-row handler: remember each mismatching record and let pyarrow skip it."""

    limit: int
    rows: deque[tuple[int, str]] = field(default_factory=deque)
    count: int = 0
    first: int | None = None

    def __call__(self, row: pacsv.InvalidRow) -> str:
        if row.number is None:
            # Only multi-threaded parsing loses numbers; we never ask for it, so stop rather than guess.
            return "error"
        self.count += 1
        if self.first is None:
            self.first = row.number
        if self.count > self.limit:
            return "error"  # pyarrow raises ArrowInvalid; raw_batches turns it into a refusal
        self.rows.append((row.number, row.text))
        return "skip"

    @property
    def over(self) -> bool:
        return self.count > self.limit


@dataclass
class CsvRows:
    """Raw batches (``c0..c{width-1}`` + ``__row__``) of a CSV file whose head is known."""

    path: Path
    encoding: str
    head: CsvHead
    limits: ReadLimits
    display: str

    def label(self, index: int) -> str:
        name = self.head.headers[index] if index < len(self.head.headers) else ""
        return f"第{index + 1}列（{name}）" if name else f"第{index + 1}列"

    def raw_batches(self, errors: list[MalformedRow]) -> Iterator[pa.RecordBatch]:
        """Yield every record after the header, skipped ones re-inserted in place, in file order."""
        skipped = _SkippedRows(self.limits.max_ragged_rows)
        names = [column_name(i) for i in range(self.head.width)]
        reader = self._open(names, skipped)
        next_number = 1
        try:
            for batch in reader:
                numbers = _valid_numbers(batch.num_rows, next_number, skipped.rows)
                if numbers.size:
                    next_number = int(numbers[-1]) + 1
                due = _pop_before(skipped.rows, next_number)
                yield from self._emit(batch, numbers, due, names, errors)
        except pa.ArrowInvalid as exc:
            if skipped.over:
                raise self._too_ragged(skipped) from exc
            raise self._parse_error(exc, next_number) from exc
        except UnicodeDecodeError as exc:
            raise ReadError(
                "E_ENCODING", f"文件“{self.display}”第{next_number}行附近的内容不符合{self.encoding}编码"
            ) from exc
        rest = list(skipped.rows)
        skipped.rows.clear()
        if rest:
            yield from self._emit(None, np.empty(0, dtype=np.int64), rest, names, errors)

    def _open(self, names: list[str], skipped: _SkippedRows) -> pacsv.CSVStreamingReader:
        encoding = "utf-8" if self.encoding in _NATIVE_UTF8 else self.encoding
        try:
            return pacsv.open_csv(
                str(self.path),
                read_options=pacsv.ReadOptions(
                    encoding=encoding,
                    column_names=names,
                    block_size=self.limits.max_csv_record_bytes,
                    use_threads=False,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.head.delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=skipped,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    # pyarrow's default null markers include "NA", "NULL" and "#N/A", which are data here.
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as exc:  # open_csv parses the first block at once
            if skipped.over:
                raise self._too_ragged(skipped) from exc
            raise self._parse_error(exc, 1) from exc

    def _emit(
        self,
        batch: pa.RecordBatch | None,
        numbers: np.ndarray,
        due: list[tuple[int, str]],
        names: list[str],
        errors: list[MalformedRow],
    ) -> Iterator[pa.RecordBatch]:
        parts: list[pa.RecordBatch] = []
        if batch is not None and batch.num_rows:
            parts.append(batch.append_column(ROW_COLUMN, pa.array(numbers, pa.int64())))
        if due:
            parts.append(self._reparse(due, names, errors))
        if not parts:
            return
        merged = parts[0]
        if len(parts) > 1:
            merged = pa.concat_batches(parts)
            merged = merged.take(pc.sort_indices(merged.column(ROW_COLUMN)))
        if merged.column(ROW_COLUMN)[0].as_py() <= self.head.header_row:
            merged = merged.filter(pc.greater(merged.column(ROW_COLUMN), self.head.header_row))
        if merged.num_rows:
            yield merged

    def _reparse(
        self, due: list[tuple[int, str]], names: list[str], errors: list[MalformedRow]
    ) -> pa.RecordBatch:
        """Parse the records pyarrow skipped: pad short ones with nulls, cut long ones and flag them."""
        numbers = pa.array([number for number, _ in due], pa.int64())
        texts = pa.array([text for _, text in due], pa.string())
        quoted = pc.match_substring(texts, '"').to_numpy(zero_copy_only=False)
        parts = []
        plain = np.flatnonzero(~quoted)
        if plain.size:
            parts.append(self._split_plain(texts.take(plain), numbers.take(plain), names, errors))
        if plain.size < len(due):
            parts.append(self._parse_quoted([due[i] for i in np.flatnonzero(quoted)], names, errors))
        merged = pa.concat_batches(parts) if len(parts) > 1 else parts[0]
        return merged.take(pc.sort_indices(merged.column(ROW_COLUMN))) if len(parts) > 1 else merged

    def _split_plain(
        self, texts: pa.Array, numbers: pa.Array, names: list[str], errors: list[MalformedRow]
    ) -> pa.RecordBatch:
        """Records without quotes: cells are what lies between delimiters, for all of them in one split."""
        used = len(self.head.headers)
        cells = pc.split_pattern(texts, pattern=self.head.delimiter)
        longer = np.flatnonzero(pc.list_value_length(cells).to_numpy() > used)
        for position in longer:  # a few rows at most in real files: Python is fine here
            number = numbers[position].as_py()
            values = cells[position].as_py()
            last = max((i + 1 for i, cell in enumerate(values) if cell.strip()), default=0)
            if last > used and number > self.head.header_row:
                errors.append(MalformedRow(number, f"第{number}行：单元格数量({last})多于表头({used})"))
        padded = pc.list_slice(cells, 0, max(used, 1), return_fixed_size_list=True)
        empty = pa.nulls(len(texts), pa.string())
        arrays = []
        for index in range(len(names)):
            if index < used:
                column = pc.list_element(padded, index)
                arrays.append(pc.if_else(pc.equal(column, ""), empty, column))
            else:
                arrays.append(empty)
        return pa.RecordBatch.from_arrays([*arrays, numbers], names=[*names, ROW_COLUMN])

    def _parse_quoted(
        self, due: list[tuple[int, str]], names: list[str], errors: list[MalformedRow]
    ) -> pa.RecordBatch:
        """Records with quotes, by the csv module's rules, which are pyarrow's."""
        # csv refuses fields over its own limit (128 KiB by default); ours is the record limit.
        if csv.field_size_limit() < self.limits.max_csv_record_bytes:
            csv.field_size_limit(self.limits.max_csv_record_bytes)
        used = len(self.head.headers)
        columns: list[list[str | None]] = [[] for _ in names]
        for number, text in due:
            cells = next(csv.reader(io.StringIO(text), delimiter=self.head.delimiter), [])
            last = max((i + 1 for i, cell in enumerate(cells) if cell.strip()), default=0)
            if last > used and number > self.head.header_row:
                errors.append(MalformedRow(number, f"第{number}行：单元格数量({last})多于表头({used})"))
            if number > self.head.header_row and _unclosed_quote(text, self.head.delimiter):
                errors.append(
                    MalformedRow(
                        number,
                        f"第{number}行：引号没有闭合，这一行的内容不完整（文件可能在上传时被截断，或单元格中的引号不成对）",
                    )
                )
            for index, column in enumerate(columns):
                cell = cells[index] if index < used and index < len(cells) else None
                column.append(cell or None)
        arrays = [pa.array(column, pa.string()) for column in columns]
        arrays.append(pa.array([number for number, _ in due], pa.int64()))
        return pa.RecordBatch.from_arrays(arrays, names=[*names, ROW_COLUMN])

    def _too_ragged(self, skipped: _SkippedRows) -> ReadError:
        return ReadError(
            "E_TOO_LARGE",
            f"文件“{self.display}”中单元格数量与表头（{self.head.width}列）不一致的行超过上限{skipped.limit}行"
            f"（第{skipped.first}行起），不像是按表头导出的表格，整份文件未接收，请检查分隔符和表头是否正确",
        )

    def _parse_error(self, exc: pa.ArrowInvalid, near: int) -> ReadError:
        if "straddling" in str(exc):
            return ReadError(
                "E_TOO_LARGE",
                f"文件“{self.display}”第{near}行附近有一条记录超过单条记录的上限"
                f"{self.limits.max_csv_record_bytes}字节（单元格的上限为{self.limits.max_cell_chars}个字符），"
                "通常是某个单元格的引号没有闭合，或文件中缺少换行符",
            )
        # pyarrow's own message can quote the row, which may hold personal data; it stays in the chain.
        return ReadError("E_CORRUPT", f"文件“{self.display}”第{near}行附近无法按CSV格式解析")


def _unclosed_quote(text: str, delimiter: str) -> bool:
    """Whether a record ends inside a quoted cell: what a file cut off mid-cell (or a stray quote) leaves.

    The lenient parse above keeps what the cell holds, but the department has to hear why the row is short.
    Strict parsing reports exactly this case as "unexpected end of data" (CPython's _csv), other quoting
    faults with other messages.
    """
    try:
        for _cells in csv.reader(io.StringIO(text), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _valid_numbers(count: int, start: int, skipped: deque[tuple[int, str]]) -> np.ndarray:
    """Record numbers of ``count`` valid rows that follow record ``start - 1``.

    Valid row i gets start + i + (number of skipped records at or before it). With ``shifted[j]`` =
    how many valid rows precede skipped record j, that count is a binary search.
    """
    if count == 0:
        return np.empty(0, dtype=np.int64)
    taken = np.fromiter((number for number, _ in skipped), dtype=np.int64, count=len(skipped))
    if taken.size and taken[0] < start:
        raise RuntimeError(f"pyarrow reported skipped record {taken[0]} after yielding later records")
    shifted = taken - start - np.arange(taken.size, dtype=np.int64)
    positions = np.arange(count, dtype=np.int64)
    return start + positions + np.searchsorted(shifted, positions, side="right")


def _pop_before(skipped: deque[tuple[int, str]], limit: int) -> list[tuple[int, str]]:
    due: list[tuple[int, str]] = []
    while skipped and skipped[0][0] < limit:
        due.append(skipped.popleft())
    return due
