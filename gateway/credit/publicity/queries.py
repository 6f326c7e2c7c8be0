"""What the lookup, the pages and the CLI read of the publicity periods: an entity's records still in
publicity, one record's period, and the records whose own 公示截止期 contradicts the rules.

Read-only. A period counts only when it was computed from the record's current version; a record changed
since the last run is still published and shown as ``pending`` (its period is computed by the next run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from gateway.credit.publicity.tables import credit_publicity
from gateway.store.tables import record

COMPUTED_STATUSES = ("active", "unattached")
"""The statuses of records that are (or may yet be) published: they have a period, recomputed per version."""
DEFAULT_TYPES = ("admin_penalty",)
"""The record types of the shipped publicity.yaml; a deployment with others passes its own
(``PublicityRules.record_types``)."""


@dataclass(frozen=True)
class Publicity:
    record_id: int
    record_type: str
    natural_key: str
    status: str
    version: int  # the record's current version
    computed_version: int | None  # the version the period was computed from (None: never computed)
    regime: str | None = None
    tier: str | None = None
    basis: str | None = None
    starts_on: date | None = None
    repairable_on: date | None = None  # the minimum period's end: repair may be applied for from here
    ends_on: date | None = None  # the last day of publicity
    own_end: date | None = None
    conflict: str | None = None
    computed_at: datetime | None = None

    @property
    def pending(self) -> bool:
        """A published record changed (or is new) since its period was computed: the next run computes it.
        A withdrawn, expired or repaired record keeps the period it had (its withdrawal made a version)."""
        return self.status in COMPUTED_STATUSES and self.computed_version != self.version

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self) | {"pending": self.pending}
        return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in out.items()}


_P = credit_publicity
_COLUMNS = (
    record.c.id,
    record.c.record_type,
    record.c.natural_key,
    record.c.status,
    record.c.version,
    _P.c.version.label("computed_version"),
    _P.c.regime,
    _P.c.tier,
    _P.c.basis,
    _P.c.starts_on,
    _P.c.repairable_on,
    _P.c.ends_on,
    _P.c.own_end,
    _P.c.conflict,
    _P.c.computed_at,
)
_JOINED = record.outerjoin(_P, _P.c.record_id == record.c.id)


def _publicity(row: Any) -> Publicity:
    values = dict(row._mapping)
    values["record_id"] = values.pop("id")
    found = Publicity(**values)
    if found.pending:  # an older version's period says nothing of the record now
        return Publicity(**{k: v for k, v in values.items() if k in _IDENTITY})
    return found


_IDENTITY = ("record_id", "record_type", "natural_key", "status", "version", "computed_version")


def in_publicity(
    conn: Connection, entity_id: int, as_of: date, *, record_types: Sequence[str] = DEFAULT_TYPES
) -> list[Publicity]:
    """The entity's active records of these types that are published on ``as_of``: decided on or before it
    and ending on or after it — plus those whose period is pending (they are published until computed).
    Newest decision first, pending ones last."""
    current = _P.c.version == record.c.version  # the record is active: otherwise its period is pending
    stmt = (
        select(*_COLUMNS)
        .select_from(_JOINED)
        .where(
            record.c.entity_id == entity_id,
            record.c.status == "active",
            record.c.record_type.in_(list(record_types)),
            or_(
                _P.c.record_id.is_(None),
                ~current,
                and_(_P.c.starts_on <= as_of, _P.c.ends_on >= as_of),
            ),
        )
        .order_by(record.c.id)
    )
    found = [_publicity(row) for row in conn.execute(stmt)]
    return sorted(found, key=lambda p: (p.pending, -(p.starts_on or date.min).toordinal(), p.record_id))


def publicity_of(conn: Connection, record_id: int) -> Publicity | None:
    """One record's period (fields None when it was never computed, or computed from an older version)."""
    row = conn.execute(select(*_COLUMNS).select_from(_JOINED).where(record.c.id == record_id)).first()
    return _publicity(row) if row is not None else None


def conflicts(conn: Connection) -> list[Publicity]:
    """Every record whose period reports a conflict with its own 公示截止期, by record id — including records
    withdrawn since (the conflict decided their end), but not a stale period of a record changed since."""
    stmt = (
        select(*_COLUMNS)
        .select_from(record.join(_P, _P.c.record_id == record.c.id))
        .where(_P.c.conflict.isnot(None))
        .order_by(record.c.id)
    )
    return [found for found in map(_publicity, conn.execute(stmt)) if found.conflict is not None]
