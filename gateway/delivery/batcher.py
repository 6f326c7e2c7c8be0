"""Group pending outbox rows into batches, one record type per batch, and render each to XML.

The batch row, its sequence number and the outbox rows' batch_id commit together, after the XML file is
complete on disk; a crash before the commit leaves the outbox rows pending and the next run builds the
batch again (the half-written XML is overwritten under the same name).

Memory stays flat however large a batch is: the rows are claimed by one UPDATE (no list of ids in Python)
and rendered from a streamed query, one record at a time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, select, update

from gateway.delivery import ledger, states
from gateway.delivery.render import RenderRow, render_batch
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import delivery_batch, outbox, record, record_hold, record_version

log = logging.getLogger(__name__)
# Rows fetched at a time while rendering: memory is bounded by this many records, whatever the batch size.
STREAM_ROWS = 256


@dataclass(frozen=True)
class BuiltBatch:
    batch_id: str
    seq: int
    record_type: str
    records: int
    xml_path: Path


def pending_counts(conn: Connection) -> dict[str, int]:
    stmt = (
        select(outbox.c.record_type, func.count())
        .where(outbox.c.batch_id.is_(None))
        .group_by(outbox.c.record_type)
    )
    return {rtype: n for rtype, n in conn.execute(stmt)}


def _rows(conn: Connection, batch_id: str) -> Iterator[RenderRow]:
    """The batch's records in outbox order, which is the order the hub numbers them in its receipt."""
    stmt = (
        select(
            record_version.c.operation,
            record_version.c.record_id,
            record.c.natural_key,
            record_version.c.version,
            record_version.c.payload,
            record_version.c.entity_uscc,
            record_version.c.attach_method,
            record_version.c.source_sha256,
            record_version.c.source_row,
            record_version.c.reason,
        )
        .select_from(
            outbox.join(record_version, outbox.c.record_version_id == record_version.c.id).join(
                record, record.c.id == record_version.c.record_id
            )
        )
        .where(outbox.c.batch_id == batch_id)
        .order_by(outbox.c.id)
    )
    for r in conn.execute(stmt, execution_options={"yield_per": STREAM_ROWS}):
        yield RenderRow(
            op=r.operation,
            record_id=r.record_id,
            key=r.natural_key,
            version=r.version,
            payload=r.payload,
            entity=r.entity_uscc,
            attach=r.attach_method,
            source_sha256=r.source_sha256,
            source_row=r.source_row,
            reason=r.reason,
        )


def render_to(
    conn: Connection,
    settings: Settings,
    rtype: RecordType,
    *,
    batch_id: str,
    seq: int,
    created_at: datetime,
    count: int,
    path: Path,
) -> None:
    """Render the records that carry ``batch_id`` into ``path``, atomically (fsync, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        render_batch(
            handle,
            rtype=rtype,
            batch_id=batch_id,
            seq=seq,
            sender=settings.sender_id,
            created_at=created_at,
            count=count,
            rows=_rows(conn, batch_id),
        )
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _not_held() -> ColumnElement[bool]:
    """Outbox rows whose record no objection holds (record_hold): held ones stay pending, in order."""
    held = (
        select(record_hold.c.record_id)
        .join(record_version, record_version.c.record_id == record_hold.c.record_id)
        .where(record_version.c.id == outbox.c.record_version_id)
    )
    return ~held.exists()


def build_one(conn: Connection, settings: Settings, rtype: RecordType, now: datetime) -> BuiltBatch | None:
    pending = and_(outbox.c.batch_id.is_(None), outbox.c.record_type == rtype.name)
    # Checked only when something is held: on a large backlog the anti-join costs a lookup per row.
    if conn.execute(select(record_hold.c.record_id).limit(1)).first() is not None:
        pending = and_(pending, _not_held())
    if conn.execute(select(outbox.c.id).where(pending).limit(1)).first() is None:
        return None
    seq = ledger.next_seq(conn)
    batch_id = f"{now:%Y%m%d}-{seq:06d}-{rtype.name}"
    xml_path = settings.outbox_dir / f"{batch_id}.xml"
    conn.execute(
        insert(delivery_batch),
        [
            {
                "batch_id": batch_id,
                "seq": seq,
                "record_type": rtype.name,
                "records": 0,
                "status": states.BUILT,
                "xml_path": str(xml_path),
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
                "open_since": now,
            }
        ],
    )
    # "batch_id IS NULL" is repeated outside the subquery so that on PostgreSQL a row another builder claimed
    # meanwhile is re-checked after its lock is released and skipped, never claimed twice.
    claim = select(outbox.c.id).where(pending).order_by(outbox.c.id).limit(settings.batch_max_records)
    count = conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(claim.scalar_subquery()), outbox.c.batch_id.is_(None))
        .values(batch_id=batch_id)
    ).rowcount
    if count == 0:
        conn.execute(delete(delivery_batch).where(delivery_batch.c.batch_id == batch_id))
        return None
    render_to(conn, settings, rtype, batch_id=batch_id, seq=seq, created_at=now, count=count, path=xml_path)
    conn.execute(update(delivery_batch).where(delivery_batch.c.batch_id == batch_id).values(records=count))
    ledger.write_audit(conn, now, "batch.built", batch_id, {"records": count, "seq": seq})
    return BuiltBatch(batch_id, seq, rtype.name, count, xml_path)


def build_batches(settings: Settings, record_types: Mapping[str, RecordType]) -> list[BuiltBatch]:
    """Batch everything pending, one transaction per batch so a large backlog commits as it goes."""
    engine = engine_for(settings.database_url)
    built: list[BuiltBatch] = []
    for name in sorted(record_types):
        while True:
            now = datetime.now(UTC).replace(microsecond=0)
            with engine.begin() as conn:
                batch = build_one(conn, settings, record_types[name], now)
            if batch is None:
                break
            log.info("built batch %s: %d %s records (seq %d)", batch.batch_id, batch.records, name, batch.seq)
            built.append(batch)
    return built
