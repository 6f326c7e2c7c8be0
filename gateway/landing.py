"""Pulled sources (APIs, staging tables, XML feeds): land first, advance the cursor, then process.

A connector produces a ``Pull``: the source's column names, Arrow batches of strings and the cursor the
pull reached. ``land_pull`` writes the batches once as Parquet and, in one transaction, records the landed
unit and advances the source's cursor — so a crash before that commit means the same range is pulled again
(never a gap), and a crash after it leaves a landed unit that ``process_landed`` picks up on the next run
(never a re-pull). Processing a landed unit runs the same map → validate → attach → store path as a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.mapping.engine import UnknownHeaders, plan_for
from gateway.mapping.spec import MappingError, MappingSpec, load_mappings
from gateway.parquet_landing import HEADERS_KEY, TMP_SUFFIX, ParquetLanding, headed_schema
from gateway.processing import BATCH_ROWS, process_rows
from gateway.receipts import IntakeReceipt
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.source_units import IngestResult, record_rejection, record_unit
from gateway.store.db import engine_for
from gateway.store.tables import source_cursor, source_file

log = logging.getLogger(__name__)
# A leftover of a pull that died between writing its file and recording it (a killed worker) is removed by a
# later pull of the same source once it is this old; younger ones may belong to a pull still running.
STALE_AFTER = timedelta(hours=1)


class Pull(Protocol):
    """One incremental pull of a source, as a connector yields it."""

    source_id: str
    kind: str  # api | sql | xml
    headers: list[str]  # column names in the source: the mapping's `from` names refer to them
    cursor_from: str | None

    def batches(self) -> Iterator[pa.RecordBatch]:
        """String columns c0..cN-1 (positional, as headers) plus int64 __row__ (ordinal in the pull)."""
        ...

    @property
    def cursor_to(self) -> str | None:
        """The cursor after the pull; read only once batches() is exhausted."""
        ...


@dataclass(frozen=True)
class LandedUnit:
    id: int
    source_id: str
    path: Path
    sha256: str
    rows: int
    cursor_from: str | None
    cursor_to: str | None


def read_cursor(settings: Settings, source_id: str) -> str | None:
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(
            select(source_cursor.c.cursor).where(source_cursor.c.source_id == source_id)
        ).scalar_one_or_none()


def _set_cursor(conn: Connection, source_id: str, cursor: str | None, now: datetime) -> None:
    upsert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(source_cursor)
    conn.execute(
        upsert.values(source_id=source_id, cursor=cursor, updated_at=now).on_conflict_do_update(
            index_elements=["source_id"], set_={"cursor": cursor, "updated_at": now}
        )
    )


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _latest_unit(conn: Connection, source_id: str) -> Row[Any] | None:
    return conn.execute(
        select(source_file.c.id, source_file.c.sha256, source_file.c.status)
        .where(source_file.c.source_id == source_id, source_file.c.kind != "file")
        .order_by(source_file.c.id.desc())
        .limit(1)
    ).first()


def sweep_landing(settings: Settings, source_id: str, now: datetime | None = None) -> list[Path]:
    """Remove what a pull killed mid-way left in the source's landing folder: a half-written ``.tmp``, or a
    Parquet file no unit records (the process died between renaming it and committing its row). Only
    leftovers older than STALE_AFTER go, so a pull running at the same time keeps its file."""
    folder = settings.landing_dir / source_id
    if not folder.is_dir():
        return []
    cutoff = ((now or datetime.now(UTC)) - STALE_AFTER).timestamp()
    with engine_for(settings.database_url).connect() as conn:
        recorded = set(
            conn.execute(
                select(source_file.c.landing_path).where(source_file.c.source_id == source_id)
            ).scalars()
        )
    removed = []
    for path in sorted(folder.iterdir()):
        leftover = path.name.endswith(TMP_SUFFIX) or (path.suffix == ".parquet" and str(path) not in recorded)
        if leftover and path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink()
            removed.append(path)
            log.warning("%s: removed %s, left by a pull that did not finish", source_id, path.name)
    return removed


def land_pull(settings: Settings, pull: Pull) -> LandedUnit | None:
    """Write the pull to the landing area and advance the cursor; None when the pull brought nothing new.

    Nothing new is a pull without rows, or one whose rows are exactly those of the source's latest unit (a
    full pull of a source that has not changed): no unit, no file, the cursor moved only if the connector
    moved it, and so no work downstream. The same rows as an *older* unit are landed — the source went back
    to an earlier state, and the store must follow it — and so are the rows of a latest unit that was
    rejected, as a department's rejected file is looked at afresh when it comes again.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    sweep_landing(settings, pull.source_id, now)
    final = settings.landing_dir / pull.source_id / f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
    # The file holds the rows and their column names only, so equal rows make equal bytes whatever the
    # cursor; the unit's cursor range is in its source_file row.
    schema = headed_schema(pull.headers)
    # A failed pull or a failed commit leaves nothing behind (ParquetLanding), and the cursor has not moved.
    with ParquetLanding(final, schema) as landing:
        for batch in pull.batches():
            landing.write(batch)
        rows = landing.rows
        sha256 = _sha256(landing.finish(fsync=True)) if rows else ""
        with engine_for(settings.database_url).begin() as conn:
            latest = _latest_unit(conn, pull.source_id) if rows else None
            if rows == 0 or (latest is not None and latest.sha256 == sha256 and latest.status != "rejected"):
                if pull.cursor_to != pull.cursor_from:
                    _set_cursor(conn, pull.source_id, pull.cursor_to, now)
                unit_id = None
            else:
                landing.keep()
                unit_id = record_unit(
                    conn,
                    source_id=pull.source_id,
                    kind=pull.kind,
                    file_name=final.name,
                    sha256=sha256,
                    size=final.stat().st_size,
                    format="parquet",
                    status="landed",
                    received_at=now,
                    landing_path=str(final),
                    cursor_from=pull.cursor_from,
                    cursor_to=pull.cursor_to,
                    rows_total=rows,
                )
                _set_cursor(conn, pull.source_id, pull.cursor_to, now)
    if unit_id is None:
        if rows:
            log.info(
                "%s: nothing new: the %d rows pulled are those of unit %d (%s)",
                pull.source_id,
                rows,
                latest.id,  # type: ignore[union-attr]
                latest.status,  # type: ignore[union-attr]
            )
        else:
            log.info("%s: nothing new since the cursor", pull.source_id)
        return None
    log.info("%s: landed %d rows as unit %d", pull.source_id, rows, unit_id)
    return LandedUnit(unit_id, pull.source_id, final, sha256, rows, pull.cursor_from, pull.cursor_to)


@dataclass
class LandedSource:
    """A landed unit read back: the RowSource the processing expects."""

    path: Path
    format: str = "parquet"
    encoding: str | None = None
    batch_errors: list[tuple[int, str]] = field(default_factory=list)  # a landed unit has no reader errors

    @property
    def headers(self) -> list[str]:
        metadata = pq.read_schema(self.path).metadata or {}
        return list(json.loads(metadata[HEADERS_KEY]))

    def batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        yield from pq.ParquetFile(self.path).iter_batches(batch_size=batch_rows)

    def max_good_rows(self, bad_rows: int) -> int | None:
        """Pulled data is read to its end (RowSource): no early stop."""
        return None


def pending_units(settings: Settings, source_id: str | None = None) -> list[int]:
    stmt = select(source_file.c.id).where(source_file.c.status == "landed").order_by(source_file.c.id)
    if source_id is not None:
        stmt = stmt.where(source_file.c.source_id == source_id)
    with engine_for(settings.database_url).connect() as conn:
        return list(conn.execute(stmt).scalars())


def process_landed(settings: Settings, unit_id: int) -> IngestResult:
    """Map, validate, attach and store one landed unit with the mapping of its source."""
    engine = engine_for(settings.database_url)
    with engine.connect() as conn:
        unit = conn.execute(select(source_file).where(source_file.c.id == unit_id)).one()._asdict()
    now = datetime.now(UTC).replace(microsecond=0)
    receipt = IntakeReceipt(
        department=unit["source_id"],
        file=unit["file_name"],
        sha256=unit["sha256"],
        size=unit["size"],
        received_at=settings.local_time(now),
        format="parquet",
    )
    source = LandedSource(Path(unit["landing_path"]))
    try:
        plan = plan_for(
            source.headers,
            load_mappings(settings.mappings_dir),
            load_record_types(settings.schemas_dir),
            source=unit["source_id"],
        )
    except (UnknownHeaders, MappingError) as exc:
        receipt.fail("E_MAPPING", getattr(exc, "message", str(exc)))
        return record_rejection(engine, receipt, now, unit_id)
    return process_rows(settings, engine, source, plan, receipt, now, land=False, unit_id=unit_id)


def process_pending(settings: Settings, source_id: str | None = None) -> list[IngestResult]:
    """Every landed unit not yet processed, oldest first: what a crash between landing and processing left."""
    results = []
    for unit_id in pending_units(settings, source_id):
        results.append(process_landed(settings, unit_id))
    return results


def source_id_of(spec: MappingSpec) -> str:
    """A pulled source is named by its mapping's (single) entry under ``sources``."""
    if not spec.pull or len(spec.sources) != 1:
        raise MappingError(f"{spec.path.name}: a pulled source's mapping lists exactly one source id")
    return spec.sources[0]


def headers_of(spec: MappingSpec) -> list[str]:
    """The source fields to fetch: every `from` name of the mapping, in order, once."""
    return list(dict.fromkeys(name for field_map in spec.fields.values() for name in field_map.headers))


def summarize_results(results: list[IngestResult]) -> dict[str, int]:
    """Totals over processed units, for a DAG run's log and return value."""
    totals = {
        "units": len(results),
        "rows": 0,
        "accepted": 0,
        "rejected": 0,
        "new": 0,
        "updated": 0,
        "withdrawn": 0,
        "queued": 0,
    }
    for result in results:
        receipt = result.receipt
        for key in ("rows", "accepted", "rejected", "new", "updated", "withdrawn", "queued"):
            totals[key] += int(getattr(receipt, key))
        log.info(
            "%s/%s: %s, %d rows, %d accepted, %d rejected",
            receipt.department,
            receipt.file,
            receipt.status,
            receipt.rows,
            receipt.accepted,
            receipt.rejected,
        )
    log.info("totals: %s", totals)
    return totals
