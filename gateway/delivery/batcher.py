"""Group pending outbox rows into batches, one record type per batch, and render each to XML.

The batch row, its sequence number and the outbox rows' batch_id commit together, after the XML file is
complete on disk; a crash before the commit leaves the outbox rows pending and the next run builds the
batch again (the half-written XML is overwritten under the same name).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, func, insert, select, update

from gateway.delivery.render import RenderRow, render_batch
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import audit, delivery_batch, outbox, record, record_version

log = logging.getLogger(__name__)


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


def _next_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(delivery_batch.c.seq), 0))).scalar_one()) + 1


def _rows(conn: Connection, outbox_ids: list[int]) -> list[RenderRow]:
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
        )
        .select_from(
            outbox.join(record_version, outbox.c.record_version_id == record_version.c.id).join(
                record, record.c.id == record_version.c.record_id
            )
        )
        .where(outbox.c.id.in_(outbox_ids))
        .order_by(outbox.c.id)
    )
    return [
        RenderRow(
            op=r.operation,
            record_id=r.record_id,
            key=r.natural_key,
            version=r.version,
            payload=r.payload,
            entity=r.entity_uscc,
            attach=r.attach_method,
            source_sha256=r.source_sha256,
            source_row=r.source_row,
        )
        for r in conn.execute(stmt)
    ]


def build_one(conn: Connection, settings: Settings, rtype: RecordType, now: datetime) -> BuiltBatch | None:
    ids = list(
        conn.execute(
            select(outbox.c.id)
            .where(outbox.c.batch_id.is_(None), outbox.c.record_type == rtype.name)
            .order_by(outbox.c.id)
            .limit(settings.batch_max_records)
        ).scalars()
    )
    if not ids:
        return None
    seq = _next_seq(conn)
    batch_id = f"{now:%Y%m%d}-{seq:06d}-{rtype.name}"
    rows = _rows(conn, ids)
    settings.outbox_dir.mkdir(parents=True, exist_ok=True)
    xml_path = settings.outbox_dir / f"{batch_id}.xml"
    tmp = xml_path.with_suffix(".xml.tmp")
    with tmp.open("wb") as handle:
        render_batch(
            handle,
            rtype=rtype,
            batch_id=batch_id,
            seq=seq,
            sender=settings.sender_id,
            created_at=now,
            count=len(rows),
            rows=rows,
        )
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, xml_path)
    conn.execute(
        insert(delivery_batch),
        [
            {
                "batch_id": batch_id,
                "seq": seq,
                "record_type": rtype.name,
                "records": len(rows),
                "status": "built",
                "xml_path": str(xml_path),
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    for start in range(0, len(ids), 500):
        conn.execute(
            update(outbox).where(outbox.c.id.in_(ids[start : start + 500])).values(batch_id=batch_id)
        )
    conn.execute(
        insert(audit),
        [
            {
                "at": now,
                "actor": "batcher",
                "action": "batch.built",
                "subject_type": "delivery_batch",
                "subject_id": batch_id,
                "detail": f'{{"records": {len(rows)}, "seq": {seq}}}',
            }
        ],
    )
    return BuiltBatch(batch_id, seq, rtype.name, len(rows), xml_path)


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
