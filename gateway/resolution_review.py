"""The resolution queue as a person works through it: each waiting record with the subject it names and
the registered entities it might be about, so that it can be resolved (gateway.resolution_queue.resolve).

A record waits because attachment (gateway.entities) found no entity by USCC, legacy registration number,
organisation code or a name held by exactly one entity. The candidates are what a clerk would look up:
entities whose name is the same (several share it, which is why none was chosen), entities registered
since under a legacy code the record gives (the registry learned it after the record arrived; delivery
would settle it on its next run), and entities whose name contains the record's or is contained in it
(a branch written without its parent's name, a name with or without the county). Only entities with a
USCC are offered, since resolving attaches a record to a USCC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, String, func, literal, or_, select

from gateway.entities import normalize_name
from gateway.local_times import shown
from gateway.paging import Page, window
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import (
    CURRENT_VERSION,
    entity,
    record,
    record_version,
    resolution_queue,
    source_file,
)

MAX_CANDIDATES = 5
# Shorter names (李记, 某店) are contained in too many others to say anything.
MIN_SIMILAR_CHARS = 4
PAGE_SIZE = 20


@dataclass(frozen=True)
class Subject:
    """The subject as the record names it."""

    name: str | None
    uscc: str | None
    reg_no: str | None
    org_code: str | None


@dataclass(frozen=True)
class Candidate:
    entity_id: int
    uscc: str
    name: str
    reg_no: str | None
    org_code: str | None
    why: str  # in Chinese, for the page


@dataclass(frozen=True)
class ReviewItem:
    queue_id: int
    record_id: int
    record_type: str
    record_type_label: str
    natural_key: str
    reason: str
    since: str
    source: str  # the inbox or pulled source, and the file or unit
    source_row: int
    subject: Subject
    candidates: list[Candidate]


_WAITING = resolution_queue.c.resolved_at.is_(None)


def waiting_page(
    settings: Settings, record_types: Mapping[str, RecordType], number: int = 1, size: int = PAGE_SIZE
) -> Page[ReviewItem]:
    """The records waiting for an entity, oldest first, each with its candidates."""
    with engine_for(settings.database_url).connect() as conn:
        total = int(
            conn.execute(select(func.count()).select_from(resolution_queue).where(_WAITING)).scalar_one()
        )
        at = window(number, size, total)
        rows = conn.execute(
            select(
                resolution_queue.c.id.label("queue_id"),
                resolution_queue.c.reason,
                resolution_queue.c.created_at,
                record.c.id.label("record_id"),
                record.c.record_type,
                record.c.natural_key,
                record.c.subject_name,
                record.c.source_row,
                record_version.c.payload,
                source_file.c.source_id,
                source_file.c.file_name,
            )
            .join(record, record.c.id == resolution_queue.c.record_id)
            .join(record_version, CURRENT_VERSION)
            .join(source_file, source_file.c.id == record.c.source_file_id)
            .where(_WAITING)
            .order_by(resolution_queue.c.created_at, resolution_queue.c.id)
            .offset(at.offset)
            .limit(at.size)
        ).all()
        items = []
        for r in rows:
            rtype = record_types.get(r.record_type)
            subject = _subject(r.payload, rtype, r.subject_name)
            items.append(
                ReviewItem(
                    queue_id=r.queue_id,
                    record_id=r.record_id,
                    record_type=r.record_type,
                    record_type_label=rtype.label if rtype else r.record_type,
                    natural_key=r.natural_key,
                    reason=r.reason,
                    since=shown(settings, r.created_at),
                    source=f"{r.source_id}/{r.file_name}",
                    source_row=r.source_row,
                    subject=subject,
                    candidates=candidates(conn, subject),
                )
            )
    return Page(items, at.number, at.size, total)


def _subject(payload: str, rtype: RecordType | None, subject_name: str | None) -> Subject:
    values = json.loads(payload) if payload else {}
    spec = rtype.subject if rtype else None

    def given(code: str | None) -> str | None:
        value = values.get(code) if code else None
        return str(value) if value else None

    return Subject(
        name=given(spec.name if spec else None) or subject_name,
        uscc=given(spec.uscc if spec else None),
        reg_no=given(spec.reg_no if spec else None),
        org_code=given(spec.org_code if spec else None),
    )


def candidates(conn: Connection, subject: Subject, limit: int = MAX_CANDIDATES) -> list[Candidate]:
    """Registered entities (with a USCC) the subject might be, the likeliest first."""
    found: dict[int, Candidate] = {}
    columns = (entity.c.id, entity.c.uscc, entity.c.name, entity.c.reg_no, entity.c.org_code)
    registered = entity.c.uscc.is_not(None)

    def add(condition: object, why: str) -> None:
        if len(found) >= limit:
            return
        stmt = select(*columns).where(registered, condition).order_by(entity.c.id).limit(limit)
        for row in conn.execute(stmt):
            if row.id not in found and len(found) < limit:
                found[row.id] = Candidate(row.id, row.uscc, row.name, row.reg_no, row.org_code, why)

    if subject.reg_no:
        add(
            entity.c.reg_no == subject.reg_no,
            "注册号相同（登记信息在该记录之后才登记，下次报送时会自动关联）",
        )
    if subject.org_code:
        code = subject.org_code.replace("-", "")
        add(entity.c.org_code == code, "组织机构代码相同（下次报送时会自动关联）")
    norm = normalize_name(subject.name) if subject.name else ""
    if norm:
        add(entity.c.name_norm == norm, "名称相同")
    if len(norm) >= MIN_SIMILAR_CHARS:
        contained = literal(norm, String).contains(entity.c.name_norm)
        add(
            or_(
                entity.c.name_norm.contains(norm, autoescape=True),
                contained & (func.length(entity.c.name_norm) >= MIN_SIMILAR_CHARS),
            ),
            "名称相近",
        )
    return list(found.values())
