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

    def __post_init__(self) -> None:
        for spec in fields(self):
            if getattr(self, spec.name) <= 0:
                raise ValueError(f"ReadLimits.{spec.name} must be positive")


DEFAULT_LIMITS = ReadLimits()
