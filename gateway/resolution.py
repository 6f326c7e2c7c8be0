"""Settle the resolution queue from the registry: records that waited for an entity are attached as soon
as the registry can place them (a later file named the entity's USCC together with its legacy code, say).

This makes the result independent of the order in which files arrive: a licence that names only an
organisation code and arrives before the penalty that registers the entity waits, then flows on by itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import pyarrow as pa
from sqlalchemy import Connection, insert, select, update

from gateway.entities import attach
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import CURRENT_VERSION, outbox, record, record_version, resolution_queue

log = logging.getLogger(__name__)
CHUNK = 1000


def _waiting(conn: Connection, rtype: RecordType, after: int) -> list[tuple[int, int, int, str]]:
    stmt = (
        select(resolution_queue.c.id, record.c.id, record.c.version, record_version.c.payload)
        .join(record, record.c.id == resolution_queue.c.record_id)
        .join(record_version, CURRENT_VERSION)
        .where(
            resolution_queue.c.resolved_at.is_(None),
            record.c.record_type == rtype.name,
            resolution_queue.c.id > after,
        )
        .order_by(resolution_queue.c.id)
        .limit(CHUNK)
    )
    return [tuple(row) for row in conn.execute(stmt)]  # type: ignore[misc]


def attach_waiting(
    conn: Connection,
    *,
    queue_id: int,
    record_id: int,
    version: int,
    entity_id: int,
    uscc: str | None,
    method: str,
    by: str,
    now: datetime,
) -> None:
    """Give a waiting record its entity: the record goes live, its current version goes to the outbox."""
    record_type = conn.execute(select(record.c.record_type).where(record.c.id == record_id)).scalar_one()
    conn.execute(
        update(record)
        .where(record.c.id == record_id)
        .values(entity_id=entity_id, attach_method=method, status="active", updated_at=now)
    )
    version_id = conn.execute(
        update(record_version)
        .where(record_version.c.record_id == record_id, record_version.c.version == version)
        .values(entity_uscc=uscc, attach_method=method, outbound=True)
        .returning(record_version.c.id)
    ).scalar_one()
    conn.execute(
        insert(outbox), [{"record_version_id": version_id, "record_type": record_type, "created_at": now}]
    )
    conn.execute(
        update(resolution_queue)
        .where(resolution_queue.c.id == queue_id)
        .values(resolved_at=now, resolved_entity_id=entity_id, resolved_by=by)
    )


def _settle(conn: Connection, rtype: RecordType, rows: list[tuple[int, int, int, str]], now: datetime) -> int:
    payloads = [json.loads(payload) for _, _, _, payload in rows]
    table = pa.table({code: pa.array([p.get(code) for p in payloads], pa.string()) for code in rtype.codes})
    found = attach(conn, rtype, table, now)
    settled = 0
    for i, (queue_id, record_id, version, _payload) in enumerate(rows):
        entity_id = found.entity_id[i]
        if entity_id is None:
            continue
        attach_waiting(
            conn,
            queue_id=queue_id,
            record_id=record_id,
            version=version,
            entity_id=entity_id,
            uscc=found.entity_uscc[i],
            method=str(found.method[i]),
            by="registry",
            now=now,
        )
        settled += 1
    return settled


def settle_from_registry(settings: Settings, record_types: Mapping[str, RecordType]) -> int:
    """Attach every waiting record the registry can now place; returns how many left the queue."""
    engine = engine_for(settings.database_url)
    total = 0
    for rtype in record_types.values():
        after = 0
        while True:
            now = datetime.now(UTC).replace(microsecond=0)
            with engine.begin() as conn:
                rows = _waiting(conn, rtype, after)
                if not rows:
                    break
                total += _settle(conn, rtype, rows, now)
            after = rows[-1][0]
    if total:
        log.info("%d records waiting for an entity were attached from the registry", total)
    return total
