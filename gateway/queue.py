"""The resolution queue, as engineers see it: records waiting for an entity, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record, resolution_queue


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
