"""The resolution queue, as engineers see it: records waiting for an entity, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select

from gateway.entities import normalize_name
from gateway.ids.errors import InvalidIdentifier
from gateway.ids.uscc import validate as validate_uscc
from gateway.resolution import attach_waiting
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import audit, entity, record, resolution_queue


@dataclass(frozen=True)
class Waiting:
    queue_id: int
    record_id: int
    record_type: str
    natural_key: str
    subject_name: str | None
    reason: str
    since: datetime


def waiting(settings: Settings, limit: int = 50) -> list[Waiting]:
    stmt = (
        select(
            resolution_queue.c.id,
            record.c.id.label("record_id"),
            record.c.record_type,
            record.c.natural_key,
            record.c.subject_name,
            resolution_queue.c.reason,
            resolution_queue.c.created_at,
        )
        .join(record, record.c.id == resolution_queue.c.record_id)
        .where(resolution_queue.c.resolved_at.is_(None))
        .order_by(resolution_queue.c.created_at, resolution_queue.c.id)
        .limit(limit)
    )
    with engine_for(settings.database_url).connect() as conn:
        return [
            Waiting(r.id, r.record_id, r.record_type, r.natural_key, r.subject_name, r.reason, r.created_at)
            for r in conn.execute(stmt)
        ]


class ResolveError(ValueError):
    """The queue entry or the entity named cannot be used; the message says which and why."""


def resolve(settings: Settings, queue_id: int, uscc: str, *, by: str, name: str | None = None) -> Waiting:
    """Attach a waiting record to the entity with this USCC (created, marked manual, when ``name`` is given).

    The record's current version then goes to the outbox like any attached record."""

    try:
        code = validate_uscc(uscc)
    except InvalidIdentifier as exc:
        raise ResolveError(f"{uscc}: not a valid USCC ({exc})") from exc
    now = datetime.now(UTC).replace(microsecond=0)
    with engine_for(settings.database_url).begin() as conn:
        item = conn.execute(
            select(
                resolution_queue.c.id,
                resolution_queue.c.resolved_at,
                record.c.id.label("record_id"),
                record.c.version,
                record.c.record_type,
                record.c.natural_key,
                record.c.subject_name,
                resolution_queue.c.reason,
                resolution_queue.c.created_at,
            )
            .join(record, record.c.id == resolution_queue.c.record_id)
            .where(resolution_queue.c.id == queue_id)
        ).first()
        if item is None:
            raise ResolveError(f"queue entry {queue_id} does not exist")
        if item.resolved_at is not None:
            raise ResolveError(f"queue entry {queue_id} was already resolved at {item.resolved_at}")
        entity_id = conn.execute(select(entity.c.id).where(entity.c.uscc == code)).scalar_one_or_none()
        if entity_id is None:
            if not name:
                raise ResolveError(f"no entity with USCC {code} in the registry; give --name to register it")
            entity_id = conn.execute(
                insert(entity).returning(entity.c.id),
                [
                    {
                        "uscc": code,
                        "name": name,
                        "name_norm": normalize_name(name),
                        "org_code": code[8:17],
                        "origin": "manual",
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            ).scalar_one()
        attach_waiting(
            conn,
            queue_id=queue_id,
            record_id=item.record_id,
            version=item.version,
            entity_id=entity_id,
            uscc=code,
            method="manual",
            by=by,
            now=now,
        )
        conn.execute(
            insert(audit),
            [
                {
                    "at": now,
                    "actor": by,
                    "action": "queue.resolved",
                    "subject_type": "record",
                    "subject_id": str(item.record_id),
                    "detail": f'{{"queue_id": {queue_id}, "uscc": "{code}"}}',
                }
            ],
        )
    return Waiting(
        item.id,
        item.record_id,
        item.record_type,
        item.natural_key,
        item.subject_name,
        item.reason,
        item.created_at,
    )
