"""A unit's raw rows written once as Parquet in the landing area: owner-only from the first byte, and under
its final name only once complete and kept — never half there.

Both kinds of unit land this way: a department's file as it is read for the first time (gateway.processing,
under ``landing_name``) and a pulled unit before it is recorded (gateway.landing). The raw rows are personal
data: the folder is made owner-only and the temporary file is created 0600 before pyarrow opens it (pyarrow
truncates an existing file and keeps its mode; left to itself it would create the file with the umask's
0644), and the rename keeps the mode, so no copy is ever readable by others.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from gateway.transfer.private_files import create_private_file, private_dir

TMP_SUFFIX = ".parquet.tmp"
HEADERS_KEY = b"gateway.headers"
"""The landing file's metadata entry naming its columns (c0..cN-1 are positional): what a replay binds
today's mapping to (gateway.replay)."""


def headed_schema(headers: Sequence[str]) -> pa.Schema:
    """A unit's landing schema: its columns by position and ``__row__``, their names in the metadata."""
    try:
        names = json.dumps(list(headers), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate (a JSON export's "\ud800" in a field name): escaped
        names = json.dumps(list(headers)).encode()
    return pa.schema(
        [*(pa.field(f"c{i}", pa.string()) for i in range(len(headers))), pa.field("__row__", pa.int64())],
        metadata={HEADERS_KEY: names},
    )


def landing_name(sha256: str, part: str = "") -> str:
    """The landing file of a file (or of one sheet of a workbook: sheet names are not safe in paths)."""
    if not part:
        return f"{sha256}.parquet"
    return f"{sha256}-{hashlib.sha256(part.encode()).hexdigest()[:12]}.parquet"


class ParquetLanding:
    """``with ParquetLanding(final) as landing``: ``write`` the batches, then ``keep`` moves the file to
    ``final``.

    Left without ``keep``, or by an exception (even one after ``keep``: the transaction that was to record
    the file failed), the block leaves nothing behind. ``schema``: the file's, when known before the first
    batch (and then batches of another schema are cast to it); otherwise the first batch's.
    """

    def __init__(self, final: Path, schema: pa.Schema | None = None) -> None:
        self.final = final
        self.tmp = final.with_suffix(TMP_SUFFIX)
        self.schema = schema
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._kept = False
        self._adopted = False
        self._finished = False

    def __enter__(self) -> ParquetLanding:
        private_dir(self.final.parent)
        os.close(create_private_file(self.tmp, exclusive=False))
        return self

    def write(self, batch: pa.RecordBatch) -> None:
        # The writer opens on the first batch, not on entering: a reading process forked after entering
        # (gateway.read_process) must be the only one holding a writer, since a writer's close (even by
        # a destructor) writes the footer.
        if self._finished:
            raise ValueError(f"{self.tmp} is finished: no more batches can be written to it")
        if self._writer is None:
            if self.schema is None:
                self.schema = batch.schema
            self._writer = pq.ParquetWriter(self.tmp, self.schema)
        self._writer.write_batch(batch if batch.schema == self.schema else batch.cast(self.schema))
        self.rows += batch.num_rows

    def finish(self, *, fsync: bool = False) -> Path:
        """Close the file (and with ``fsync`` make sure it is on disk); returns it, still under its
        temporary name, for a caller that hashes it before deciding to keep it."""
        if self._writer is None and not (self._adopted or self._finished) and self.schema is not None:
            self._writer = pq.ParquetWriter(self.tmp, self.schema)  # no rows: the file holds the schema
        self._close()
        self._finished = True
        if fsync:
            with self.tmp.open("rb+") as handle:
                os.fsync(handle.fileno())
        return self.tmp

    def adopt(self, rows: int) -> None:
        """The temporary file was written and closed by the reading process (gateway.read_process) that
        this object was forked into: take it as complete, with ``rows`` rows."""
        if self._writer is not None:
            raise ValueError(f"{self.tmp} is being written here: it cannot also come from another process")
        self._adopted = True
        self.rows = rows

    def keep(self) -> Path:
        """Move the complete file to its final name; returns that."""
        if self.schema is None:
            raise ValueError(f"nothing was written to {self.tmp}: no Parquet file to keep")
        self.finish()
        os.replace(self.tmp, self.final)
        self._kept = True
        return self.final

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self._close()
        finally:
            self.tmp.unlink(missing_ok=True)
            if kind is not None and self._kept:
                self.final.unlink(missing_ok=True)
