"""Reading objections back: the open ones of an entity (what the lookup shows as "objections pending"), a
filtered list (the CLI), and one objection with its history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from gateway.credit.objections.config import CHANNELS
from gateway.credit.objections.states import OPEN, STATES
from gateway.credit.objections.tables import credit_objection, credit_objection_event
from gateway.store.tables import entity, record, record_hold

_O = credit_objection.c
_COLUMNS = (
    _O.id,
    _O.state,
    _O.record_id,
    record.c.record_type,
    record.c.natural_key,
    _O.record_version,
    record.c.version.label("current_version"),
    record.c.status.label("record_status"),
    _O.channel,
    _O.raised_by,
    _O.raised_on,
    _O.deadline,
    _O.raised_at,
    _O.resolved_at,
    _O.resolved_by,
    _O.corrected_version,
    entity.c.uscc,
    entity.c.name.label("entity_name"),
)
_FROM = credit_objection.join(record, record.c.id == _O.record_id).outerjoin(
    entity, entity.c.id == record.c.entity_id
)


@dataclass(frozen=True)
class Pending:
    """An open objection as an entity's credit standing shows it: which record, since when, until when."""

    objection_id: int
    record_id: int
    record_type: str
    natural_key: str
    channel: str
    raised_on: date
    deadline: date


def open_for_entity(conn: Connection, entity_id: int) -> list[Pending]:
    """The open objections against the records of an entity, oldest first."""
    rows = conn.execute(
        select(
            _O.id,
            _O.record_id,
            record.c.record_type,
            record.c.natural_key,
            _O.channel,
            _O.raised_on,
            _O.deadline,
        )
        .join(record, record.c.id == _O.record_id)
        .where(record.c.entity_id == entity_id, _O.state == OPEN)
        .order_by(_O.raised_on, _O.id)
    )
    return [Pending(*row) for row in rows]


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    uscc: str | None = None
    record_type: str | None = None
    channel: str | None = None
    raised_by: str | None = None

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {self.state!r}")
        if self.channel is not None and self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {self.channel!r}")


def list_objections(conn: Connection, filters: Filters, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Objections newest first, with their record's type and key and the entity (none for a record about a
    natural person or one still waiting for its entity)."""
    stmt = select(*_COLUMNS).select_from(_FROM)
    for column, value in (
        (_O.state, filters.state),
        (entity.c.uscc, filters.uscc),
        (record.c.record_type, filters.record_type),
        (_O.channel, filters.channel),
        (_O.raised_by, filters.raised_by),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.order_by(_O.raised_on.desc(), _O.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def history(conn: Connection, objection_id: int) -> list[dict[str, Any]]:
    """Every step of an objection, oldest first: when, who, what, and its details."""
    e = credit_objection_event.c
    rows = conn.execute(
        select(e.at, e.actor, e.action, e.detail).where(e.objection_id == objection_id).order_by(e.id)
    )
    return [
        {"at": r.at, "actor": r.actor, "action": r.action, "detail": json.loads(r.detail or "{}")}
        for r in rows
    ]


def get_objection(conn: Connection, objection_id: int) -> dict[str, Any] | None:
    """One objection with its reason, note, whether its record is held now, and its history."""
    row = conn.execute(
        select(*_COLUMNS, _O.reason, _O.note, record_hold.c.reference.label("hold_reference"))
        .select_from(_FROM.outerjoin(record_hold, record_hold.c.record_id == _O.record_id))
        .where(_O.id == objection_id)
    ).first()
    if row is None:
        return None
    found = dict(row._mapping)
    found["events"] = history(conn, objection_id)
    return found


__all__ = ["Filters", "Pending", "get_objection", "history", "list_objections", "open_for_entity"]
