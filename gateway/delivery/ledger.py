"""The delivery_batch rows: read one, move it to its next state, record a seal; each with its audit row.

Every change here is its own transaction and checks the state it starts from, so a second deliverer (or a
rerun racing a slow first run) that finds the batch moved on changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, func, insert, select, update

from gateway.delivery import states
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import audit, delivery_batch, delivery_seal
from gateway.transfer import Manifest, Sealed


def utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything this package writes is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Batch:
    batch_id: str
    seq: int
    record_type: str
    records: int
    status: str
    xml_path: str | None
    envelope_path: str | None
    envelope_sha256: str | None
    manifest: str | None
    signature: str | None
    attempts: int
    last_error: str | None
    last_code: str | None
    seals: int
    created_at: datetime
    open_since: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    dead_at: datetime | None
    hub_rejected: int

    def current_seal(self) -> Sealed | None:
        """The recorded envelope, if its file is still there with the recorded size."""
        if not (self.envelope_path and self.envelope_sha256 and self.manifest and self.signature):
            return None
        return _sealed(self.envelope_path, self.envelope_sha256, self.manifest, self.signature)


@dataclass(frozen=True)
class SealRecord:
    seal_no: int
    seq: int
    envelope_path: str
    sealed: Sealed | None  # None when the envelope file is gone or no longer has the recorded size


def _sealed(path: str, sha256: str, manifest: str, signature: str) -> Sealed | None:
    raw = base64.b64decode(manifest)
    try:
        size = Path(path).stat().st_size
    except OSError:
        return None
    if size != Manifest.decode(raw).size:
        return None
    return Sealed(manifest=raw, signature=base64.b64decode(signature), envelope_sha256=sha256, size=size)


def _batch(row: dict[str, object]) -> Batch:
    created = utc(row["created_at"])  # type: ignore[arg-type]
    assert created is not None
    return Batch(
        batch_id=str(row["batch_id"]),
        seq=int(row["seq"]),  # type: ignore[call-overload]
        record_type=str(row["record_type"]),
        records=int(row["records"]),  # type: ignore[call-overload]
        status=str(row["status"]),
        xml_path=row["xml_path"],  # type: ignore[arg-type]
        envelope_path=row["envelope_path"],  # type: ignore[arg-type]
        envelope_sha256=row["envelope_sha256"],  # type: ignore[arg-type]
        manifest=row["manifest"],  # type: ignore[arg-type]
        signature=row["signature"],  # type: ignore[arg-type]
        attempts=int(row["attempts"]),  # type: ignore[call-overload]
        last_error=row["last_error"],  # type: ignore[arg-type]
        last_code=row["last_code"],  # type: ignore[arg-type]
        seals=int(row["seals"]),  # type: ignore[call-overload]
        created_at=created,
        open_since=utc(row["open_since"]) or created,  # type: ignore[arg-type]
        sent_at=utc(row["sent_at"]),  # type: ignore[arg-type]
        next_attempt_at=utc(row["next_attempt_at"]),  # type: ignore[arg-type]
        dead_at=utc(row["dead_at"]),  # type: ignore[arg-type]
        hub_rejected=int(row["hub_rejected"]),  # type: ignore[call-overload]
    )


def load(settings: Settings, batch_id: str) -> Batch:
    with engine_for(settings.database_url).connect() as conn:
        return load_in(conn, batch_id)


def load_in(conn: Connection, batch_id: str) -> Batch:
    row = conn.execute(select(delivery_batch).where(delivery_batch.c.batch_id == batch_id)).one()
    return _batch(row._asdict())


def batches(settings: Settings, statuses: Iterable[str]) -> list[Batch]:
    """Batches in the given states, oldest sequence number first."""
    stmt = (
        select(delivery_batch)
        .where(delivery_batch.c.status.in_(list(statuses)))
        .order_by(delivery_batch.c.seq)
    )
    with engine_for(settings.database_url).connect() as conn:
        return [_batch(row._asdict()) for row in conn.execute(stmt)]


@dataclass(frozen=True)
class Retry:
    """The failed batch the next delivery must start with, and when it may be pushed again."""

    batch_id: str
    attempts: int
    due: datetime


def next_retry(settings: Settings) -> Retry | None:
    """The first open batch (by sequence number: delivery goes in order, the others wait behind it) if it
    has failed before and waits for its backoff; None when nothing waits for a retry."""
    stmt = (
        select(delivery_batch.c.batch_id, delivery_batch.c.attempts, delivery_batch.c.next_attempt_at)
        .where(delivery_batch.c.status.in_(states.OPEN))
        .order_by(delivery_batch.c.seq)
        .limit(1)
    )
    with engine_for(settings.database_url).connect() as conn:
        row = conn.execute(stmt).first()
    if row is None or not row.attempts or row.next_attempt_at is None:
        return None
    return Retry(row.batch_id, int(row.attempts), utc(row.next_attempt_at))  # type: ignore[arg-type]


def write_audit(
    conn: Connection, at: datetime, action: str, batch_id: str, detail: dict[str, object]
) -> None:
    conn.execute(
        insert(audit),
        [
            {
                "at": at,
                "actor": "delivery",
                "action": action,
                "subject_type": "delivery_batch",
                "subject_id": batch_id,
                "detail": json.dumps(detail, ensure_ascii=False, default=str),
            }
        ],
    )


def move(
    conn: Connection,
    batch_id: str,
    *,
    now: datetime,
    action: str,
    detail: dict[str, object],
    from_states: Iterable[str],
    **values: object,
) -> bool:
    """Change the batch only if it is still in one of ``from_states``; False when it has moved on."""
    result = conn.execute(
        update(delivery_batch)
        .where(delivery_batch.c.batch_id == batch_id, delivery_batch.c.status.in_(list(from_states)))
        .values(updated_at=now, **values)
    )
    if result.rowcount != 1:
        return False
    write_audit(conn, now, action, batch_id, detail)
    return True


def transition(
    settings: Settings,
    batch_id: str,
    *,
    now: datetime,
    action: str,
    detail: dict[str, object],
    from_states: Iterable[str] = states.OPEN,
    **values: object,
) -> bool:
    with engine_for(settings.database_url).begin() as conn:
        return move(conn, batch_id, now=now, action=action, detail=detail, from_states=from_states, **values)


def record_seal(
    settings: Settings, batch: Batch, seal_no: int, seq: int, path: Path, sealed: Sealed, now: datetime
) -> bool:
    """The new envelope becomes the current one (status sealed) and joins the batch's seal history."""
    manifest = base64.b64encode(sealed.manifest).decode()
    signature = base64.b64encode(sealed.signature).decode()
    with engine_for(settings.database_url).begin() as conn:
        moved = move(
            conn,
            batch.batch_id,
            now=now,
            action="batch.sealed",
            detail={
                "seal": seal_no,
                "seq": seq,
                "envelope_sha256": sealed.envelope_sha256,
                "size": sealed.size,
            },
            from_states=(batch.status,),
            status=states.SEALED,
            seals=seal_no,
            envelope_path=str(path),
            envelope_sha256=sealed.envelope_sha256,
            manifest=manifest,
            signature=signature,
        )
        if moved:
            conn.execute(
                insert(delivery_seal),
                [
                    {
                        "batch_id": batch.batch_id,
                        "seal_no": seal_no,
                        "seq": seq,
                        "envelope_path": str(path),
                        "envelope_sha256": sealed.envelope_sha256,
                        "manifest": manifest,
                        "signature": signature,
                        "created_at": now,
                    }
                ],
            )
        return moved


def seal_history(settings: Settings, batch_id: str) -> list[SealRecord]:
    """Every envelope sealed for the batch, newest first."""
    stmt = (
        select(delivery_seal)
        .where(delivery_seal.c.batch_id == batch_id)
        .order_by(delivery_seal.c.seal_no.desc())
    )
    with engine_for(settings.database_url).connect() as conn:
        return [
            SealRecord(
                r.seal_no,
                r.seq,
                r.envelope_path,
                _sealed(r.envelope_path, r.envelope_sha256, r.manifest, r.signature),
            )
            for r in conn.execute(stmt)
        ]


def adopt_seal(settings: Settings, batch: Batch, seal: SealRecord, sealed: Sealed, now: datetime) -> bool:
    """An earlier envelope is the one the hub holds: make it the current one again (its seq with it)."""
    return transition(
        settings,
        batch.batch_id,
        now=now,
        action="batch.seal_adopted",
        detail={"seal": seal.seal_no, "seq": seal.seq, "envelope_sha256": sealed.envelope_sha256},
        from_states=(batch.status,),
        seq=seal.seq,
        envelope_path=seal.envelope_path,
        envelope_sha256=sealed.envelope_sha256,
        manifest=base64.b64encode(sealed.manifest).decode(),
        signature=base64.b64encode(sealed.signature).decode(),
    )


def next_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(delivery_batch.c.seq), 0))).scalar_one()) + 1
