"""Deliver built batches: seal, push, and mark delivered only on a verified hub receipt.

State per batch moves built → sealed → acknowledged (or rejected), each step committed before the next
starts, so a rerun after any crash resumes where it stopped. A pushed batch that the hub already stored is
answered with the stored receipt (the batch id is the idempotency key), so a lost receipt never means a
duplicate at the hub.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from gateway.delivery.batcher import build_batches
from gateway.resolution import settle_from_registry
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import audit, delivery_batch
from gateway.transfer import HubClient, HubRejected, Receipt, Sealed, Sender, TransferError

log = logging.getLogger(__name__)
OPEN_STATES = ("built", "sealed")
# Hub error codes that mean "seal again and resend": the envelope itself was fine but too old to accept.
RESEAL_CODES = frozenset({"stale_timestamp"})


class DeliveryFailed(RuntimeError):
    """Some batches could not be delivered this run; they stay open and are retried next run."""


@dataclass(frozen=True)
class Outcome:
    batch_id: str
    status: str
    records: int
    accepted: int = 0
    error: str | None = None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def build_pending(settings: Settings) -> list[str]:
    """Attach what the registry can now place, then batch everything in the outbox."""
    record_types = load_record_types(settings.schemas_dir)
    settle_from_registry(settings, record_types)
    return [b.batch_id for b in build_batches(settings, record_types)]


def open_batches(settings: Settings) -> list[str]:
    with engine_for(settings.database_url).connect() as conn:
        stmt = (
            select(delivery_batch.c.batch_id)
            .where(delivery_batch.c.status.in_(OPEN_STATES))
            .order_by(delivery_batch.c.seq)
        )
        return list(conn.execute(stmt).scalars())


def _set(settings: Settings, batch_id: str, action: str, detail: dict[str, object], **values: object) -> None:
    now = _now()
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            update(delivery_batch)
            .where(delivery_batch.c.batch_id == batch_id)
            .values(updated_at=now, **values)
        )
        conn.execute(
            insert(audit),
            [
                {
                    "at": now,
                    "actor": "delivery",
                    "action": action,
                    "subject_type": "delivery_batch",
                    "subject_id": batch_id,
                    "detail": json.dumps(detail, ensure_ascii=False),
                }
            ],
        )


def _seal(settings: Settings, sender: Sender, row: dict[str, object]) -> Sealed:
    """Seal the batch XML; the envelope, manifest and signature are recorded before any push."""
    batch_id = str(row["batch_id"])
    envelope = settings.outbox_dir / f"{batch_id}.gwenv"
    sealed = sender.seal(Path(str(row["xml_path"])), envelope, batch_id=batch_id, seq=int(row["seq"]))  # type: ignore[call-overload]
    _set(
        settings,
        batch_id,
        "batch.sealed",
        {"envelope_sha256": sealed.envelope_sha256, "size": sealed.size},
        status="sealed",
        envelope_path=str(envelope),
        envelope_sha256=sealed.envelope_sha256,
        manifest=base64.b64encode(sealed.manifest).decode(),
        signature=base64.b64encode(sealed.signature).decode(),
    )
    return sealed


def _stored_seal(row: dict[str, object]) -> Sealed:
    return Sealed(
        manifest=base64.b64decode(str(row["manifest"])),
        signature=base64.b64decode(str(row["signature"])),
        envelope_sha256=str(row["envelope_sha256"]),
        size=Path(str(row["envelope_path"])).stat().st_size,
    )


def deliver_batch(settings: Settings, batch_id: str, sender: Sender, client: HubClient) -> Outcome:
    with engine_for(settings.database_url).connect() as conn:
        row = (
            conn.execute(select(delivery_batch).where(delivery_batch.c.batch_id == batch_id)).one()._asdict()
        )
    records = int(row["records"])
    if row["status"] not in OPEN_STATES:
        return Outcome(batch_id, str(row["status"]), records)
    envelope = settings.outbox_dir / f"{batch_id}.gwenv"
    sealed = (
        _stored_seal(row) if row["status"] == "sealed" and envelope.exists() else _seal(settings, sender, row)
    )
    attempts = int(row["attempts"])
    receipt: Receipt | None = None
    for may_reseal in (True, False):
        attempts += 1
        try:
            receipt = client.push(envelope, sealed, batch_id)
            break
        except HubRejected as exc:
            if exc.code in RESEAL_CODES and may_reseal:
                # The hub refused the envelope as too old without storing it: seal afresh, same seq.
                log.info("batch %s: hub says %s; sealing again with a fresh timestamp", batch_id, exc.code)
                sealed = _seal(settings, sender, row)
                continue
            if exc.receipt is None:
                return _push_failed(settings, batch_id, attempts, records, exc)
            receipt = exc.receipt
            break
        except TransferError as exc:
            return _push_failed(settings, batch_id, attempts, records, exc)
    assert receipt is not None
    status = "acknowledged" if receipt.status == "accepted" else "rejected"
    error = None if receipt.error is None else f"{receipt.error.code}: {receipt.error.message}"
    _set(
        settings,
        batch_id,
        f"batch.{status}",
        {"accepted": receipt.accepted, "rejected": len(receipt.rejected), "error": error},
        status=status,
        attempts=attempts,
        last_error=error,
        receipt=receipt.raw.decode(),
        receipt_signature=base64.b64encode(receipt.signature).decode(),
    )
    log.info(
        "batch %s: %s by the hub (%d of %d records accepted)", batch_id, status, receipt.accepted, records
    )
    return Outcome(batch_id, status, records, receipt.accepted, error)


def _push_failed(
    settings: Settings, batch_id: str, attempts: int, records: int, exc: TransferError
) -> Outcome:
    """Nothing verifiable came back: the batch stays open (sealed) and the next run pushes it again."""
    code = getattr(exc, "code", None)
    _set(
        settings,
        batch_id,
        "batch.push_failed",
        {"error": str(exc), "code": code},
        attempts=attempts,
        last_error=str(exc),
    )
    log.error("batch %s: not delivered (%s): %s", batch_id, code, exc)
    return Outcome(batch_id, "sealed", records, error=str(exc))


def deliver_all(settings: Settings, batch_ids: list[str] | None = None) -> dict[str, int]:
    """Deliver the given batches and every batch still open from earlier runs, oldest first."""
    wanted = list(dict.fromkeys([*open_batches(settings), *(batch_ids or [])]))
    totals = {"batches": len(wanted), "acknowledged": 0, "rejected": 0, "failed": 0, "records": 0}
    if not wanted:
        log.info("nothing to deliver: the outbox is empty")
        return totals
    sender = Sender.load(settings.keys_dir / "gateway", settings.sender_id)
    client = HubClient(settings.hub_url, sender, retries=settings.push_retries, verify=settings.hub_verify)
    for n, batch_id in enumerate(wanted, 1):
        outcome = deliver_batch(settings, batch_id, sender, client)
        log.info("[%d/%d] %s: %s", n, len(wanted), batch_id, outcome.status)
        if outcome.error and outcome.status in OPEN_STATES:
            totals["failed"] += 1
        elif outcome.status == "acknowledged":
            totals["acknowledged"] += 1
            totals["records"] += outcome.accepted
        elif outcome.status == "rejected":
            totals["rejected"] += 1
    if totals["failed"]:
        raise DeliveryFailed(
            f"{totals['failed']} of {len(wanted)} batches not delivered; they stay open "
            f"and are retried on the next run ({totals})"
        )
    return totals
