"""Reading warnings back: a filtered list (the CLI and the exports), a page of them most severe first (the
gateway's pages), and one warning with its events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, case, func, select

from gateway.credit.warnings.rules import RuleSet
from gateway.credit.warnings.states import STATES
from gateway.credit.warnings.tables import credit_warning, credit_warning_event
from gateway.paging import DEFAULT_SIZE, Page, window
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


# ------------------------------------------------------------------------------ a page of them, for people
@dataclass(frozen=True)
class WarningLine:
    id: int
    level: str
    level_label: str
    rule_label: str
    entity_id: int
    entity_name: str
    uscc: str | None
    department: str
    title: str
    state: str
    raised_on: date


def _severity(rules: RuleSet) -> Any:
    """The level's rank as SQL: 0 for the most severe of the configured levels, unknown levels last."""
    ranks = {level.id: n for n, level in enumerate(rules.levels)}
    return case(ranks, value=credit_warning.c.level, else_=len(ranks))


def _where(filters: Filters) -> list[Any]:
    w = credit_warning.c
    pairs = ((w.department, filters.department), (w.state, filters.state), (w.level, filters.level))
    return [column == value for column, value in pairs if value is not None]


def warnings_page(
    conn: Connection, rules: RuleSet, filters: Filters, number: int = 1, size: int = DEFAULT_SIZE
) -> Page[WarningLine]:
    """One page of the warnings, most severe level first, then newest first (the exports' order)."""
    w = credit_warning.c
    total = int(
        conn.execute(select(func.count()).select_from(credit_warning).where(*_where(filters))).scalar_one()
    )
    at = window(number, size, total)
    rows = conn.execute(
        select(w.id, w.rule_id, w.level, w.department, w.title, w.state, w.raised_on, w.entity_id)
        .add_columns(entity.c.name, entity.c.uscc)
        .join(entity, entity.c.id == w.entity_id)
        .where(*_where(filters))
        .order_by(_severity(rules), w.raised_on.desc(), w.id.desc())
        .offset(at.offset)
        .limit(at.size)
    )
    items = [
        WarningLine(
            id=r.id,
            level=r.level,
            level_label=rules.level_label(r.level),
            rule_label=rule_label(rules, r.rule_id),
            entity_id=r.entity_id,
            entity_name=r.name,
            uscc=r.uscc,
            department=r.department,
            title=r.title,
            state=r.state,
            raised_on=r.raised_on,
        )
        for r in rows
    ]
    return Page(items, at.number, at.size, total)


def departments(conn: Connection) -> list[str]:
    """The departments that have warnings, for the filter."""
    column = credit_warning.c.department
    return [row[0] for row in conn.execute(select(column).distinct().order_by(column))]


def rule_label(rules: RuleSet, rule_id: str) -> str:
    rule = rules.rule(rule_id)
    return rule.label if rule else rule_id  # a rule since removed from the file keeps its warnings
