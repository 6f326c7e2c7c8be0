"""What engineers see of deliveries and what they can do about them: list batches and the hub's refusals,
bring dead batches back (``gateway deliveries``).

Retrying a dead batch reopens it where it stood: a batch that was ever pushed goes back to ``sent``, so its
first push is the same envelope again and the hub answers with its stored receipt if it has the batch; one
never pushed goes back to ``sealed`` or ``built``. Its attempts start again from zero and its age from now.
A refused (``rejected``) batch is final at the hub, whose answer for that batch id will never change; retrying
it sends its records, except those the hub named, back to the outbox to travel in a new batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from gateway.delivery import ledger, states
from gateway.delivery.ledger import utc
from gateway.delivery.rejections import requeue_others
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import delivery_batch, outbox, record, record_version, source_file


class RetryError(ValueError):
    """The batch named cannot be retried; the message says why, in Chinese."""


def _iso(moment: datetime | None, settings: Settings) -> str | None:
    return settings.local_time(utc(moment)) if moment is not None else None  # type: ignore[arg-type]


def list_batches(
    settings: Settings, statuses: Sequence[str] = (), limit: int = 100
) -> list[dict[str, object]]:
    """Batches, newest first, optionally only in the given states."""
    stmt = select(
        delivery_batch.c.batch_id,
        delivery_batch.c.seq,
        delivery_batch.c.record_type,
        delivery_batch.c.records,
        delivery_batch.c.status,
        delivery_batch.c.attempts,
        delivery_batch.c.hub_rejected,
        delivery_batch.c.next_attempt_at,
        delivery_batch.c.last_code,
        delivery_batch.c.last_error,
        delivery_batch.c.created_at,
        delivery_batch.c.updated_at,
        delivery_batch.c.dead_at,
    )
    if statuses:
        stmt = stmt.where(delivery_batch.c.status.in_(list(statuses)))
    stmt = stmt.order_by(delivery_batch.c.seq.desc()).limit(limit)
    with engine_for(settings.database_url).connect() as conn:
        rows = [row._asdict() for row in conn.execute(stmt)]
    for row in rows:
        for key in ("next_attempt_at", "created_at", "updated_at", "dead_at"):
            row[key] = _iso(row[key], settings)
    return rows


def hub_refusals(
    settings: Settings, batch_ids: Sequence[str] | None = None, limit: int = 200
) -> list[dict[str, object]]:
    """Record versions the hub refused by name, newest first, with the file and row they came from."""
    stmt = (
        select(
            record_version.c.hub_batch_id.label("batch_id"),
            record.c.record_type,
            record.c.natural_key,
            record_version.c.version,
            source_file.c.source_id,
            source_file.c.file_name,
            record_version.c.source_row,
            record_version.c.hub_code,
            record_version.c.hub_message,
            record_version.c.hub_rejected_at,
        )
        .join(record, record.c.id == record_version.c.record_id)
        .join(source_file, source_file.c.id == record_version.c.source_file_id)
        .where(record_version.c.hub_code.is_not(None))
    )
    if batch_ids is not None:
        stmt = stmt.where(record_version.c.hub_batch_id.in_(list(batch_ids)))
    stmt = stmt.order_by(record_version.c.hub_rejected_at.desc(), record_version.c.id).limit(limit)
    with engine_for(settings.database_url).connect() as conn:
        rows = [row._asdict() for row in conn.execute(stmt)]
    for row in rows:
        row["hub_rejected_at"] = _iso(row["hub_rejected_at"], settings)
    return rows


@dataclass(frozen=True)
class Retried:
    batch_id: str
    previous: str
    status: str  # the state it is in now; for a refused batch, still "rejected"
    requeued: int = 0


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _reopen_state(batch: ledger.Batch) -> str:
    if batch.sent_at is not None:
        return states.SENT
    return states.SEALED if batch.envelope_sha256 else states.BUILT


def retry(settings: Settings, batch_id: str, *, by: str = "cli") -> Retried:
    now = _now()
    with engine_for(settings.database_url).begin() as conn:
        found = conn.execute(
            select(delivery_batch.c.batch_id).where(delivery_batch.c.batch_id == batch_id)
        ).first()
        if found is None:
            raise RetryError(f"没有批次 {batch_id}")
        batch = ledger.load_in(conn, batch_id)
        if batch.status == states.DEAD:
            target = _reopen_state(batch)
            ledger.move(
                conn,
                batch_id,
                now=now,
                action="batch.retried",
                detail={"by": by, "from": states.DEAD, "to": target, "attempts_before": batch.attempts},
                from_states=(states.DEAD,),
                status=target,
                attempts=0,
                open_since=now,
                next_attempt_at=None,
                dead_at=None,
            )
            return Retried(batch_id, states.DEAD, target)
        if batch.status == states.REJECTED:
            requeued = requeue_others(conn, batch_id)
            ledger.write_audit(conn, now, "batch.requeued", batch_id, {"by": by, "records": requeued})
            return Retried(batch_id, states.REJECTED, states.REJECTED, requeued)
        raise RetryError(f"批次 {batch_id} 的状态是 {batch.status}，只有 dead 或 rejected 的批次可以重试")


def retry_all_dead(settings: Settings, *, by: str = "cli") -> list[Retried]:
    return [retry(settings, b.batch_id, by=by) for b in ledger.batches(settings, (states.DEAD,))]


def counts(settings: Settings) -> dict[str, int]:
    """Batches per state, and records still waiting in the outbox for a batch."""
    with engine_for(settings.database_url).connect() as conn:
        per_state = dict(
            conn.execute(
                select(delivery_batch.c.status, func.count()).group_by(delivery_batch.c.status)
            ).all()
        )
        waiting = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.batch_id.is_(None))
        ).scalar_one()
    return {**{s: int(per_state.get(s, 0)) for s in states.ALL}, "outbox_waiting": int(waiting)}
