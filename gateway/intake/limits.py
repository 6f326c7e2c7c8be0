"""Every bound intake enforces on an untrusted file, in one place so operators can tune them.

Departments' files arrive from outside our control; each limit caps memory or CPU that a broken or
hostile file could otherwise claim.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

MIB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """Caps applied before and while reading a department's file."""

    max_file_bytes: int = 256 * MIB
    """Largest file accepted at all; the biggest real department export we expect is a few tens of MB."""

    max_zip_uncompressed_bytes: int = 512 * MIB
    """Sum of the declared uncompressed sizes of an XLSX's parts; calamine holds a whole sheet in memory."""

    max_zip_ratio: float = 200.0
    """Uncompressed/compressed ratio of one part. Real sheets compress 5-50x; zeros reach ~1000x."""

    zip_ratio_floor_bytes: int = 1 * MIB
    """Parts smaller than this skip the ratio check: a tiny part cannot exhaust memory whatever its ratio."""

    max_zip_entries: int = 2000
    """An XLSX has about ten parts, a few hundred with many sheets and images."""

    max_columns: int = 1000
    """Widest header accepted; record types have at most a few dozen fields."""

    max_cell_chars: int = 32767
    """Excel's own cell limit; longer cells are truncated and flagged (usually an unclosed quote)."""

    max_csv_record_bytes: int = 4 * MIB
    """Longest CSV record; also pyarrow's block size, which must hold any single record. It bounds memory
    too: pyarrow's streaming CSV reader reads ahead on a background thread, about 32 blocks, so a 16 MiB
    block held some 500 MiB of a large file in memory (measured, bench/run.py). 4 MiB keeps that near
    130 MiB at the same speed (1 MiB blocks read a GB18030 file at half the rate); a real record is a
    few KB, and 4 MiB still holds sixty cells at Excel's 32,767-character limit in GB18030."""

    max_json_record_chars: int = 16 * MIB
    """Longest single JSON record (an array element, or one line of JSON Lines); the incremental parser
    holds one record in memory at a time, so this bounds its buffer."""

    max_xml_depth: int = 32
    """Deepest XML element nesting; records need four levels (root, container, record, field) plus the
    record path, and unbounded depth is a denial-of-service device."""

    max_xml_token_bytes: int = 1 * MIB
    """Longest single piece of XML markup: a start tag with all its attributes, a comment, a processing
    instruction. The expat in use (2.5.0, before the fix for CVE-2023-52425) parses an unfinished token again
    from its start every time more input is fed, so a 100 MB attribute costs time quadratic in its length
    (measured: 4 MB already takes a second). A record written as attributes is a few KB; 1 MiB holds ten
    cells at Excel's limit."""

    max_ragged_rows: int = 1_000_000
    """CSV records whose cell count differs from the header's, per file. pyarrow hands each such record to
    Python one at a time, at about 13 µs each with our block size (measured, bench/hostile.py), so tens of
    millions of one-cell lines would keep the reader busy for many minutes before any threshold could reject
    the file. Real exports have a handful; a million still reads in about fifteen seconds."""

    max_sheet_cells: int = 25_000_000
    """Cells in the used range of one XLSX sheet (rows × columns from the first to the last filled cell), or
    the filled cells an ODS table's repeats expand to (gateway/intake/legacy_budget.py).
    calamine holds the range densely, 32 bytes a cell whether filled or not (measured), and a failed
    allocation in Rust aborts the process: two cells at A1 and XFD1048576 ask for 512 GiB. 25 million is
    Excel's full height at 24 columns, some 800 MB."""

    max_sheet_text_bytes: int = 256 * MIB
    """Text (UTF-8 bytes) the cells of one XLSX or XLS sheet copy from the shared strings. calamine gives
    each cell its own copy of the string it names, so a 100 KB file whose cells all name one 32,000-character
    string becomes gigabytes. A sheet may take no more text from them than the largest file accepted holds
    (``max_file_bytes``): the same rows saved as CSV could not either. (Text written in the sheet itself is
    bounded by ``max_zip_uncompressed_bytes``.)"""

    max_kept_row_errors: int = 1000
    """Row errors a SourceFile keeps for inspection after reading (``row_errors``); all of them are counted
    and each is handed over with its batch (``batch_errors``), so a file of millions of bad rows cannot
    grow the list without end."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            if getattr(self, spec.name) <= 0:
                raise ValueError(f"ReadLimits.{spec.name} must be positive")


DEFAULT_LIMITS = ReadLimits()
