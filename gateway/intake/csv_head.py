"""Find a CSV export's delimiter and header row before the bulk parse starts.

pyarrow needs the delimiter and the column count up front, and the header has to be known when the
file is opened (the mapping is chosen from it), so the first records are read here with the standard
library's csv module, which follows the same quoting rules as pyarrow's parser.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gateway.intake.errors import ReadError
from gateway.intake.limits import ReadLimits

DELIMITERS = (",", "\t", ";", "|")
"""Candidates in order of preference when counts tie; Chinese exports use comma or tab."""


@dataclass(frozen=True)
class CsvHead:
    """What the bulk parse needs to know about a CSV file."""

    delimiter: str
    headers: list[str]
    """Header cells stripped of surrounding whitespace, trailing empty cells removed."""
    header_row: int
    """Record number of the header's last row (1 unless blank lines precede it or the caller moved it)."""
    width: int
    """Cells in the header record as written, including empty ones from trailing delimiters."""
    preamble: tuple[tuple[int, list[str], int], ...] = ()
    """The first non-blank records (record number, stripped cells, width as written), up to PREAMBLE_ROWS:
    where the header locator looks when the header is not the first record (gateway/mapping/header_rows)."""

    def moved(self, row: int, depth: int, headers: list[str]) -> CsvHead:
        """The head with the header at record ``row`` over ``depth`` records, named ``headers``."""
        widths = [width for number, _cells, width in self.preamble if row <= number < row + depth]
        return CsvHead(
            delimiter=self.delimiter,
            headers=headers,
            header_row=row + depth - 1,
            width=max([*widths, len(headers)]),
            preamble=self.preamble,
        )


PREAMBLE_ROWS = 20


def read_csv_head(path: Path, encoding: str, display: str, limits: ReadLimits) -> CsvHead:
    """Return the delimiter and header of a CSV file already known to decode with ``encoding``."""
    delimiter = _sniff_delimiter(path, encoding, limits)
    head: CsvHead | None = None
    preamble: list[tuple[int, list[str], int]] = []
    with path.open(encoding=encoding, newline="") as stream:
        budget = _Budget(limits.max_csv_record_bytes)
        # strict: a quote left open runs to the end of the file, which the csv module otherwise returns as one
        # long cell — or refuses as over its field-size limit, a process-wide setting that the bulk parse
        # raises (csv_rows), so without strict the same file was corrupt or not depending on what ran before.
        records = csv.reader(_bounded_lines(stream, budget, display), delimiter=delimiter, strict=True)
        try:
            for number, record in enumerate(records, start=1):
                cells = [cell.strip() for cell in record]
                if cells:
                    # A BOM is stripped by the utf-8-sig codec; a second one (files concatenated
                    # by hand) would otherwise stick to the first column's name.
                    cells[0] = cells[0].lstrip("\ufeff").strip()
                if not any(cells):
                    continue
                if head is None:
                    head = _head(cells, delimiter, number, display, limits)
                    budget.found = True
                used = len(cells)
                while used and not cells[used - 1]:
                    used -= 1
                preamble.append((number, cells[:used], len(cells)))
                if len(preamble) >= PREAMBLE_ROWS or budget.spent:
                    break
        except csv.Error as exc:
            if head is None:
                raise ReadError(
                    "E_CORRUPT", f"文件“{display}”的表头无法解析（{exc}），请检查引号是否成对"
                ) from exc
            # A broken record below the header is the bulk parse's to report, with its row number.
    if head is None:
        raise ReadError("E_NO_HEADER", f"文件“{display}”没有表头行（文件中只有空行）")
    return CsvHead(head.delimiter, head.headers, head.header_row, head.width, tuple(preamble))


class _Budget:
    """Characters the head may read: past the limit before the header is found the file is refused; after
    it, the preamble simply stops there."""

    def __init__(self, limit: int) -> None:
        self.limit, self.total, self.found, self.spent = limit, 0, False, False


def _bounded_lines(stream: TextIO, budget: _Budget, display: str) -> Iterator[str]:
    """The file's lines for the head, refusing once they pass the budget before the header is found: the
    csv module would otherwise build a 200 MB header line, or its millions of cells, whole."""
    limit = budget.limit
    while line := stream.readline(limit + 1):
        budget.total += len(line)
        if budget.total > limit:
            if budget.found:
                budget.spent = True
                return
            raise ReadError(
                "E_TOO_LARGE",
                f"文件“{display}”的表头（及其前面的空行）超过单条记录的上限{limit}字节，"
                "通常是表头中的引号没有闭合，或文件中缺少换行符",
            )
        yield line


def _head(cells: list[str], delimiter: str, number: int, display: str, limits: ReadLimits) -> CsvHead:
    width = len(cells)
    if width > limits.max_columns:
        raise ReadError("E_TOO_LARGE", f"文件“{display}”的表头有{width}列，超过上限{limits.max_columns}列")
    used = width
    while used > 0 and not cells[used - 1]:
        used -= 1
    return CsvHead(delimiter=delimiter, headers=cells[:used], header_row=number, width=width)


def _sniff_delimiter(path: Path, encoding: str, limits: ReadLimits) -> str:
    """Pick the candidate that splits one of the first non-blank lines most often, outside quotes.

    csv.Sniffer guesses from quoting patterns and happily picks letters or digits as the delimiter;
    we only need to choose among four characters, which counting does reliably. Several lines, because
    the first may be a title with no delimiter at all (「××局行政处罚信息公示表」 above the header).
    """
    best_counts = dict.fromkeys(DELIMITERS, 0)
    seen, read = 0, 0
    with path.open(encoding=encoding, newline="") as stream:
        while seen < PREAMBLE_ROWS and (line := stream.readline(limits.max_csv_record_bytes)):
            read += len(line)
            if read > limits.max_csv_record_bytes and seen:
                break
            line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            seen += 1
            counts = _count_outside_quotes(line)
            if max(counts.values()) > max(best_counts.values()):
                best_counts = counts
    best = max(DELIMITERS, key=lambda d: (best_counts[d], -DELIMITERS.index(d)))
    return best if best_counts[best] > 0 else ","


def _count_outside_quotes(line: str) -> dict[str, int]:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts
