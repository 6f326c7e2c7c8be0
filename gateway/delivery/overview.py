"""Deliveries as a person looks them over: a page of batches, and one batch in full — its state, the
hub's signed receipt, the envelopes sealed for it, the records the hub refused and its history.

Read-only; acting on a batch (bringing a dead one back) is gateway.delivery.admin's. The hub's receipt is
shown as stored: a batch reaches acknowledged or rejected only on a receipt whose signature verified
against the hub's registered key (gateway.delivery.service), so what is stored is what was verified.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from gateway.delivery import admin, states
from gateway.delivery.ledger import seal_history
from gateway.local_times import shown
from gateway.paging import DEFAULT_SIZE, Page, window
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import audit, delivery_batch


@dataclass(frozen=True)
class BatchLine:
    batch_id: str
    seq: int
    record_type: str
    records: int
    status: str
    attempts: int
    hub_rejected: int
    last_code: str | None
    last_error: str | None
    created_at: str
    updated_at: str
    next_attempt_at: str
    dead_at: str


@dataclass(frozen=True)
class Seal:
    seal_no: int
    seq: int
    envelope_present: bool  # the envelope file is still there with the size its manifest records


@dataclass(frozen=True)
class Event:
    at: str
    actor: str
    action: str
    detail: str


@dataclass(frozen=True)
class BatchDetail:
    batch: BatchLine
    envelope_sha256: str | None
    sent_at: str
    receipt: dict[str, object] | None  # the hub's signed receipt, as stored
    receipt_signed: bool
    seals: list[Seal]
    refusals: list[dict[str, object]]  # records the hub refused by name (admin.hub_refusals)
    events: list[Event]

    @property
    def retryable(self) -> bool:
        """What admin.retry accepts: a dead batch, or a refused one whose other records can go again."""
        return self.batch.status in (states.DEAD, states.REJECTED)


_LINE = (
    delivery_batch.c.batch_id,
    delivery_batch.c.seq,
    delivery_batch.c.record_type,
    delivery_batch.c.records,
    delivery_batch.c.status,
    delivery_batch.c.attempts,
    delivery_batch.c.hub_rejected,
    delivery_batch.c.last_code,
    delivery_batch.c.last_error,
    delivery_batch.c.created_at,
    delivery_batch.c.updated_at,
    delivery_batch.c.next_attempt_at,
    delivery_batch.c.dead_at,
)


def _line(settings: Settings, row: object) -> BatchLine:
    r = row._asdict()  # type: ignore[attr-defined]
    return BatchLine(
        batch_id=r["batch_id"],
        seq=int(r["seq"]),
        record_type=r["record_type"],
        records=int(r["records"]),
        status=r["status"],
        attempts=int(r["attempts"] or 0),
        hub_rejected=int(r["hub_rejected"] or 0),
        last_code=r["last_code"],
        last_error=r["last_error"],
        created_at=shown(settings, r["created_at"]),
        updated_at=shown(settings, r["updated_at"]),
        next_attempt_at=shown(settings, r["next_attempt_at"]),
        dead_at=shown(settings, r["dead_at"]),
    )


def batches_page(
    settings: Settings, statuses: Sequence[str] = (), number: int = 1, size: int = DEFAULT_SIZE
) -> Page[BatchLine]:
    """Batches, newest (highest seq) first, optionally only those in ``statuses`` (``dead``: the dead
    letters)."""
    wanted = delivery_batch.c.status.in_(list(statuses)) if statuses else None
    count = select(func.count()).select_from(delivery_batch)
    stmt = select(*_LINE)
    if wanted is not None:
        count, stmt = count.where(wanted), stmt.where(wanted)
    with engine_for(settings.database_url).connect() as conn:
        total = int(conn.execute(count).scalar_one())
        at = window(number, size, total)
        rows = conn.execute(stmt.order_by(delivery_batch.c.seq.desc()).offset(at.offset).limit(at.size))
        items = [_line(settings, row) for row in rows]
    return Page(items, at.number, at.size, total)


def counts(settings: Settings) -> dict[str, int]:
    """Batches per state and records waiting in the outbox (the same figures `gateway deliveries` prints)."""
    return admin.counts(settings)


def batch_detail(settings: Settings, batch_id: str) -> BatchDetail | None:
    with engine_for(settings.database_url).connect() as conn:
        row = conn.execute(
            select(
                *_LINE,
                delivery_batch.c.envelope_sha256,
                delivery_batch.c.sent_at,
                delivery_batch.c.receipt,
                delivery_batch.c.receipt_signature,
            ).where(delivery_batch.c.batch_id == batch_id)
        ).first()
        if row is None:
            return None
        events = [
            Event(shown(settings, e.at), e.actor, e.action, e.detail or "")
            for e in conn.execute(
                select(audit.c.at, audit.c.actor, audit.c.action, audit.c.detail)
                .where(audit.c.subject_type == "delivery_batch", audit.c.subject_id == batch_id)
                .order_by(audit.c.at, audit.c.id)
            )
        ]
    seals = [
        Seal(s.seal_no, s.seq, s.sealed is not None and Path(s.envelope_path).is_file())
        for s in seal_history(settings, batch_id)
    ]
    return BatchDetail(
        batch=_line(settings, row),
        envelope_sha256=row.envelope_sha256,
        sent_at=shown(settings, row.sent_at),
        receipt=_receipt(row.receipt),
        receipt_signed=bool(row.receipt_signature),
        seals=seals,
        refusals=admin.hub_refusals(settings, [batch_id]),
        events=events,
    )


def _receipt(raw: str | None) -> dict[str, object] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
