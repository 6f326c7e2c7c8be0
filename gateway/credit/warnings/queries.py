"""Reading warnings back: a filtered list (the CLI and the exports) and one warning with its events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from gateway.credit.warnings.states import STATES
from gateway.credit.warnings.tables import credit_warning, credit_warning_event
from gateway.store.tables import entity


@dataclass(frozen=True)
class Filters:
    department: str | None = None
    state: str | None = None
    level: str | None = None
    rule_id: str | None = None
    entity_id: int | None = None

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {self.state!r}")


_W = credit_warning.c
_COLUMNS = (
    _W.id,
    _W.rule_id,
    _W.level,
    _W.department,
    _W.title,
    _W.state,
    _W.raised_on,
    _W.raised_at,
    _W.updated_at,
    _W.entity_id,
    entity.c.name.label("entity_name"),
    entity.c.uscc,
)


def list_warnings(conn: Connection, filters: Filters, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Warnings newest first, with their entity's name and USCC."""
    stmt = select(*_COLUMNS).join(entity, entity.c.id == _W.entity_id)
    for column, value in (
        (_W.department, filters.department),
        (_W.state, filters.state),
        (_W.level, filters.level),
        (_W.rule_id, filters.rule_id),
        (_W.entity_id, filters.entity_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.order_by(_W.raised_on.desc(), _W.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def get_warning(conn: Connection, warning_id: int) -> dict[str, Any] | None:
    """One warning with its evidence (parsed) and its events, oldest first."""
    row = conn.execute(
        select(*_COLUMNS, _W.evidence, _W.evidence_key)
        .join(entity, entity.c.id == _W.entity_id)
        .where(_W.id == warning_id)
    ).first()
    if row is None:
        return None
    found = dict(row._mapping)
    found["evidence"] = json.loads(found["evidence"])
    e = credit_warning_event.c
    found["events"] = [
        dict(event._mapping)
        for event in conn.execute(
            select(e.at, e.actor, e.from_state, e.to_state, e.reason)
            .where(e.warning_id == warning_id)
            .order_by(e.id)
        )
    ]
    return found


def jsonable(value: Any) -> Any:
    """Dates and times as ISO text, for --json output."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
