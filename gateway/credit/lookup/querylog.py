"""The query log (lookup_query): every lookup written and committed before its answer leaves, and read back
for auditors.

Why before: 逢办必查 makes the lookup part of a department's procedure, and the log is what shows a lookup
happened, who made it for which matter, and what it answered. An answer whose row did not commit is not sent
(the caller gets 503). What the row keeps of the code: the compact code when it named an entity; otherwise
what was typed with anything shaped like a resident ID number masked (a clerk may type a person's ID number
into the wrong box, and the log must never hold it whole). The matter is masked the same way.

Report numbers are ``LK-YYYYMMDD-XXXX-XXXX-XXXX``: the local day and 60 random bits in Crockford base32
(no I, L, O, U to misread). They are made before the report is rendered, so the number can be printed on it
and the log row written after; the unique constraint on ``report_no`` catches a collision (at a million
lookups a day, one in some two million days), and the service draws again.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, or_, select

from gateway.credit.lookup.codes import CodeRefused, parse_code
from gateway.credit.lookup.db import Database, stored_moment
from gateway.credit.lookup.tables import lookup_caller, lookup_query
from gateway.ids.normalize import compact
from gateway.ids.resident_id import mask_in_text
from gateway.store.tables import entity

OUTCOMES = (
    "found",
    "unknown",
    "ambiguous",
    "malformed",
    "bad_check",
    "bad_matter",
    "forbidden",
    "audit_read",  # an auditor read the log (GET /v1/queries)
)
FORMATS = ("json", "html", "pdf")
CODE_LENGTH = 64
MATTER_LENGTH = 128
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# The row is written only while its caller is not revoked: the service may know the caller from an earlier
# request (gateway.credit.lookup.service), and this is where a revocation since then takes effect.
INSERT = (
    "INSERT INTO lookup_query"
    " (at, caller_id, code, code_kind, entity_id, matter, outcome, report_no, format)"
    " SELECT ?, id, ?, ?, ?, ?, ?, ?, ? FROM lookup_caller WHERE id = ? AND revoked_at IS NULL"
)


class CallerRevoked(Exception):
    """The caller was revoked: no row was written, and no answer may leave."""


def report_number(day: date) -> str:
    bits = secrets.randbits(60)
    chars = "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(55, -1, -5))
    return f"LK-{day:%Y%m%d}-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def logged_code(typed: str, *, named_entity: bool) -> str:
    """What the log keeps of the code: compact when it named an entity, otherwise masked as well."""
    code = compact(typed)
    return (code if named_entity else mask_in_text(code))[:CODE_LENGTH]


def logged_matter(matter: str) -> str:
    return mask_in_text(matter.strip())[:MATTER_LENGTH]


@dataclass(frozen=True)
class Entry:
    at: datetime
    caller_id: int
    code: str
    code_kind: str | None
    entity_id: int | None
    matter: str
    outcome: str
    report_no: str | None
    format: str


class QueryLog:
    """Writes log rows on the request's own DBAPI connection and commits them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = db.sql(INSERT)
        self.duplicate = db.engine.dialect.dbapi.IntegrityError  # type: ignore[union-attr]
        self._turn: AbstractContextManager[Any] = (
            threading.Lock() if db.dialect == "sqlite" else nullcontext()
        )

    def write(self, raw: Any, entry: Entry) -> None:
        """Insert on an autocommit connection (gateway.credit.lookup.db): committed when this returns.
        Raises :class:`CallerRevoked` when the caller is revoked (nothing written), the driver's
        IntegrityError on a report number already used.

        On SQLite the threads of one process take turns: SQLite lets one writer in at a time and makes the
        others wait in its busy handler, which sleeps 1, 2, 5, 10 … ms between tries — a queue of threads
        there turned microseconds of writing into tens of milliseconds of p99. A lock hands the turn over
        at once; only the other worker process can still make a writer wait."""
        with self._turn:
            self._insert_row(raw, entry)

    def _insert_row(self, raw: Any, entry: Entry) -> None:
        cursor = raw.cursor()
        try:
            cursor.execute(
                self._insert,
                (
                    stored_moment(self.db.dialect, entry.at),
                    entry.code,
                    entry.code_kind,
                    entry.entity_id,
                    entry.matter,
                    entry.outcome,
                    entry.report_no,
                    entry.format,
                    entry.caller_id,
                ),
            )
            written = cursor.rowcount
        finally:
            cursor.close()
        if written != 1:
            raise CallerRevoked(entry.caller_id)


# ------------------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class Filters:
    caller: str | None = None  # a caller's name
    entity: str | None = None  # a code: the entity's USCC / registration number / organisation code
    outcome: str | None = None
    since: date | None = None  # local days, inclusive
    until: date | None = None
    before: int | None = None  # paging: rows with a smaller id
    limit: int = 100


MAX_LIMIT = 1000


def read(conn: Connection, filters: Filters, timezone: str) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the log, newest first, and the id to pass as ``before`` for the next page (None: last).

    Each filter uses an index: the caller by ``ix_lookup_query_caller_id``, the entity by
    ``ix_lookup_query_entity_id`` (or the code as asked, for lookups that found nothing), the days by
    ``ix_lookup_query_at``."""
    zone = ZoneInfo(timezone)
    limit = max(1, min(filters.limit, MAX_LIMIT))
    stmt = (
        select(
            lookup_query.c.id,
            lookup_query.c.at,
            lookup_caller.c.name,
            lookup_caller.c.department,
            lookup_caller.c.role,
            lookup_query.c.code,
            lookup_query.c.code_kind,
            entity.c.uscc,
            entity.c.name.label("entity_name"),
            lookup_query.c.matter,
            lookup_query.c.outcome,
            lookup_query.c.report_no,
            lookup_query.c.format,
        )
        .select_from(
            lookup_query.join(lookup_caller, lookup_caller.c.id == lookup_query.c.caller_id).outerjoin(
                entity, entity.c.id == lookup_query.c.entity_id
            )
        )
        .order_by(lookup_query.c.id.desc())
        .limit(limit + 1)
    )
    if filters.caller:
        stmt = stmt.where(lookup_caller.c.name == filters.caller)
    if filters.outcome:
        stmt = stmt.where(lookup_query.c.outcome == filters.outcome)
    if filters.entity:
        stmt = stmt.where(_entity_condition(conn, filters.entity))
    if filters.since:
        stmt = stmt.where(lookup_query.c.at >= _utc(datetime.combine(filters.since, time(), zone)))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), zone)
        stmt = stmt.where(lookup_query.c.at < _utc(end))
    if filters.before:
        stmt = stmt.where(lookup_query.c.id < filters.before)
    rows = conn.execute(stmt).all()
    items = [
        {
            "id": r.id,
            "at": _utc(r.at).astimezone(zone).isoformat(timespec="seconds"),
            "caller": r.name,
            "department": r.department,
            "role": r.role,
            "code": r.code,
            "code_kind": r.code_kind,
            "entity_uscc": r.uscc,
            "entity_name": r.entity_name,
            "matter": r.matter,
            "outcome": r.outcome,
            "report_no": r.report_no,
            "format": r.format,
        }
        for r in rows[:limit]
    ]
    return items, (items[-1]["id"] if len(rows) > limit else None)


def _utc(moment: datetime) -> datetime:
    """Aware UTC for binding and showing; SQLite hands naive UTC back (gateway.local_times)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _entity_condition(conn: Connection, typed: str) -> Any:
    """Rows about the entity a code names, and rows that asked for that code and found nothing."""
    code = compact(typed)
    try:
        parsed = parse_code(code)
    except CodeRefused:
        return lookup_query.c.code == mask_in_text(code)[:CODE_LENGTH]
    column = {"uscc": entity.c.uscc, "reg_no": entity.c.reg_no, "org_code": entity.c.org_code}[parsed.kind]
    ids: Sequence[int] = conn.execute(select(entity.c.id).where(column == parsed.value)).scalars().all()
    asked = lookup_query.c.code.in_({parsed.value, mask_in_text(parsed.value)})
    return or_(lookup_query.c.entity_id.in_(list(ids)), asked) if ids else asked
