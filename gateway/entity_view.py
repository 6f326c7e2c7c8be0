"""One market entity and every record attached to it, for `gateway entity show`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from gateway.ids.normalize import compact
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity, record, source_file

# What is shown of each record attached to an entity (joined with its source_file): `gateway entity show`
# here, the entity page of the plugin in gateway.entity_profile.
ATTACHED_RECORD = (
    record.c.record_type,
    record.c.natural_key,
    record.c.status,
    record.c.version,
    record.c.attach_method,
    source_file.c.source_id,
    source_file.c.file_name,
    record.c.source_row,
    record.c.updated_at,
)


@dataclass(frozen=True)
class AttachedRecord:
    record_type: str
    natural_key: str
    status: str
    version: int
    attach_method: str | None
    source: str  # the inbox or pulled source it came from, and the file or unit name
    source_row: int
    updated_at: datetime


@dataclass(frozen=True)
class EntityView:
    id: int
    uscc: str | None
    name: str
    org_code: str | None
    reg_no: str | None
    origin: str
    records: list[AttachedRecord]


def show(settings: Settings, code: str) -> EntityView | None:
    """Find the entity by USCC, legacy registration number or organisation code."""
    key = compact(code)
    with engine_for(settings.database_url).connect() as conn:
        row = conn.execute(
            select(entity).where(
                or_(entity.c.uscc == key, entity.c.reg_no == key, entity.c.org_code == key.replace("-", ""))
            )
        ).first()
        if row is None:
            return None
        stmt = (
            select(*ATTACHED_RECORD)
            .join(source_file, source_file.c.id == record.c.source_file_id)
            .where(record.c.entity_id == row.id)
            .order_by(record.c.record_type, record.c.natural_key)
        )
        records = [
            AttachedRecord(
                r.record_type,
                r.natural_key,
                r.status,
                r.version,
                r.attach_method,
                f"{r.source_id}/{r.file_name}",
                r.source_row,
                r.updated_at,
            )
            for r in conn.execute(stmt)
        ]
    return EntityView(row.id, row.uscc, row.name, row.org_code, row.reg_no, row.origin, records)
