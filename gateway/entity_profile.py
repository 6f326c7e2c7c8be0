"""A market entity as a person looks it up: found by USCC, legacy code or name, then every record attached
to it, counted by record type and source and listed a page at a time.

`gateway entity show` (gateway.entity_view) answers one code on a terminal; this answers a search box,
where a clerk types what the paper in front of them says — a USCC, a registration number, an organisation
code with its hyphen, or part of a name written with full-width brackets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import case, false, func, or_, select

from gateway.entities import normalize_name
from gateway.entity_view import ATTACHED_RECORD
from gateway.ids.normalize import compact
from gateway.local_times import shown
from gateway.paging import DEFAULT_SIZE, Page, window
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity, record, source_file


@dataclass(frozen=True)
class EntityLine:
    id: int
    uscc: str | None
    name: str
    reg_no: str | None
    org_code: str | None
    origin: str  # record | registry | manual
    records: int


@dataclass(frozen=True)
class RecordGroup:
    record_type: str
    record_type_label: str
    source_id: str  # the department's inbox or the pulled source
    kind: str  # file | api | sql | xml
    records: int
    latest: str


@dataclass(frozen=True)
class EntityProfile:
    entity: EntityLine
    created_at: str
    updated_at: str
    groups: list[RecordGroup]


@dataclass(frozen=True)
class ProfileRecord:
    record_id: int
    record_type: str
    record_type_label: str
    natural_key: str
    status: str  # active | unattached | withdrawn | expired | repaired
    version: int
    attach_method: str | None
    source_id: str
    file_name: str
    source_row: int
    updated_at: str


def _attached(conn: object, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    stmt = (
        select(record.c.entity_id, func.count())
        .where(record.c.entity_id.in_(ids))
        .group_by(record.c.entity_id)
    )
    return {int(eid): int(n) for eid, n in conn.execute(stmt)}  # type: ignore[attr-defined]


def search(settings: Settings, text: str, number: int = 1, size: int = DEFAULT_SIZE) -> Page[EntityLine]:
    """Entities a code names exactly, then those whose name contains ``text`` (normalised: widths,
    spaces and case do not matter)."""
    key = compact(text)
    norm = normalize_name(text) if text.strip() else ""
    exact = or_(entity.c.uscc == key, entity.c.reg_no == key, entity.c.org_code == key.replace("-", ""))
    by_name = entity.c.name_norm.contains(norm, autoescape=True) if norm else false()
    wanted = or_(exact, by_name) if key else false()
    with engine_for(settings.database_url).connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(entity).where(wanted)).scalar_one())
        at = window(number, size, total)
        rows = conn.execute(
            select(entity)
            .where(wanted)
            .order_by(case((exact, 0), else_=1), entity.c.name_norm, entity.c.id)
            .offset(at.offset)
            .limit(at.size)
        ).all()
        counts = _attached(conn, [r.id for r in rows])
    items = [
        EntityLine(r.id, r.uscc, r.name, r.reg_no, r.org_code, r.origin, counts.get(r.id, 0)) for r in rows
    ]
    return Page(items, at.number, at.size, total)


def profile(
    settings: Settings, entity_id: int, record_types: Mapping[str, RecordType]
) -> EntityProfile | None:
    """The entity's registry facts and its records counted by record type and source."""
    with engine_for(settings.database_url).connect() as conn:
        row = conn.execute(select(entity).where(entity.c.id == entity_id)).first()
        if row is None:
            return None
        groups = conn.execute(
            select(
                record.c.record_type,
                source_file.c.source_id,
                source_file.c.kind,
                func.count().label("records"),
                func.max(record.c.updated_at).label("latest"),
            )
            .join(source_file, source_file.c.id == record.c.source_file_id)
            .where(record.c.entity_id == entity_id)
            .group_by(record.c.record_type, source_file.c.source_id, source_file.c.kind)
            .order_by(record.c.record_type, source_file.c.source_id)
        ).all()
    line = EntityLine(
        row.id, row.uscc, row.name, row.reg_no, row.org_code, row.origin, sum(int(g.records) for g in groups)
    )
    return EntityProfile(
        entity=line,
        created_at=shown(settings, row.created_at),
        updated_at=shown(settings, row.updated_at),
        groups=[
            RecordGroup(
                g.record_type,
                _label(record_types, g.record_type),
                g.source_id,
                g.kind,
                int(g.records),
                shown(settings, g.latest),
            )
            for g in groups
        ],
    )


def records_page(
    settings: Settings,
    entity_id: int,
    record_types: Mapping[str, RecordType],
    record_type: str | None = None,
    number: int = 1,
    size: int = DEFAULT_SIZE,
) -> Page[ProfileRecord]:
    """The entity's records, by record type then newest first; only one type when ``record_type`` is given."""
    mine = record.c.entity_id == entity_id
    if record_type:
        mine = mine & (record.c.record_type == record_type)
    with engine_for(settings.database_url).connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(record).where(mine)).scalar_one())
        at = window(number, size, total)
        rows = conn.execute(
            select(record.c.id, *ATTACHED_RECORD)
            .join(source_file, source_file.c.id == record.c.source_file_id)
            .where(mine)
            .order_by(record.c.record_type, record.c.updated_at.desc(), record.c.id.desc())
            .offset(at.offset)
            .limit(at.size)
        ).all()
    items = [
        ProfileRecord(
            r.id,
            r.record_type,
            _label(record_types, r.record_type),
            r.natural_key,
            r.status,
            r.version,
            r.attach_method,
            r.source_id,
            r.file_name,
            r.source_row,
            shown(settings, r.updated_at),
        )
        for r in rows
    ]
    return Page(items, at.number, at.size, total)


def _label(record_types: Mapping[str, RecordType], name: str) -> str:
    rtype = record_types.get(name)
    return rtype.label if rtype else name
