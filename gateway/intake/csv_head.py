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
    """Record number of the header (1 unless blank lines precede it)."""
    width: int
    """Cells in the header record as written, including empty ones from trailing delimiters."""


def read_csv_head(path: Path, encoding: str, display: str, limits: ReadLimits) -> CsvHead:
    """Return the delimiter and header of a CSV file already known to decode with ``encoding``."""
    delimiter = _sniff_delimiter(path, encoding, limits)
    with path.open(encoding=encoding, newline="") as stream:
        lines = _bounded_lines(stream, limits.max_csv_record_bytes, display)
        records = csv.reader(lines, delimiter=delimiter)
        try:
            for number, record in enumerate(records, start=1):
                cells = [cell.strip() for cell in record]
                if cells:
                    # A BOM is stripped by the utf-8-sig codec; a second one (files concatenated
                    # by hand) would otherwise stick to the first column's name.
                    cells[0] = cells[0].lstrip("\ufeff").strip()
                if any(cells):
                    return _head(cells, delimiter, number, display, limits)
        except csv.Error as exc:
            raise ReadError(
                "E_CORRUPT", f"文件“{display}”的表头无法解析（{exc}），请检查引号是否成对"
            ) from exc
    raise ReadError("E_NO_HEADER", f"文件“{display}”没有表头行（文件中只有空行）")


def _bounded_lines(stream: TextIO, limit: int, display: str) -> Iterator[str]:
    """The file's lines until the header is found, refusing once they pass ``limit`` characters together:
    the csv module would otherwise build a 200 MB header line, or its millions of cells, whole."""
    total = 0
    while line := stream.readline(limit + 1):
        total += len(line)
        if total > limit:
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
    """Pick the candidate that splits the first non-blank line most often, outside quotes.

    csv.Sniffer guesses from quoting patterns and happily picks letters or digits as the delimiter;
    we only need to choose among four characters from one line, which counting does reliably.
    """
    with path.open(encoding=encoding, newline="") as stream:
        while line := stream.readline(limits.max_csv_record_bytes):
            line = line.lstrip("\ufeff")
            if line.strip():
                break
    counts = _count_outside_quotes(line)
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] > 0 else ","


def _count_outside_quotes(line: str) -> dict[str, int]:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts
