"""Deliver batches: seal, push, and settle each only on a verified, signed hub receipt.

The states, the order of commits and the argument that a delivery killed at any point neither loses nor
duplicates a record at the hub are in states.py. This module walks a batch through them:

* a batch whose hub answer proves the hub does not hold it is sealed again (or renumbered) at once;
* a failure leaves it open with a backoff (policy.py) and ends the run: later batches wait, so the hub gets
  them in order;
* too many failures, or too old, and it is dead: reported in every run's summary and logged as an error
  until someone runs ``gateway deliveries retry``.

The run (``deliver_all``) fails — so the DAG run is red — only when a batch died in it, or when it tried
batches and none of them could be delivered (the hub is down). A run that finds every open batch still
waiting out its backoff tries nothing and succeeds, saying when the next attempt is due.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from gateway.delivery import hub_receipts, ledger, rejections, sealing, states
from gateway.delivery.batcher import build_batches
from gateway.delivery.ledger import Batch
from gateway.delivery.policy import DeliveryPolicy
from gateway.progress import BATCHES, advance, begin
from gateway.schema import load_record_types
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import delivery_batch
from gateway.transfer import BatchReceipt, HubClient, HubRejected, Manifest, Sealed, Sender, TransferError

log = logging.getLogger(__name__)
OPEN_STATES = states.OPEN


class DeliveryFailed(RuntimeError):
    """A batch died in this run, or none of the batches tried could be delivered; ``summary`` says which."""

    def __init__(self, message: str, summary: dict[str, object]) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class Outcome:
    batch_id: str
    status: str
    records: int
    accepted: int = 0
    error: str | None = None
    code: str | None = None
    hub_rejected: int = 0
    requeued: int = 0
    died: bool = False
    attempted: bool = True
    # The hub could not be reached or did not answer usably: the batches after this one wait for the next
    # run rather than being pushed out of order (or, when the hub is down, each failing in turn).
    blocking: bool = False


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Run:
    """What one delivery run works with; tests and the fault driver pass their own client and clock."""

    settings: Settings
    sender: Sender
    client: HubClient
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy.from_env)
    record_types: Mapping[str, RecordType] = field(default_factory=dict)
    clock: Callable[[], datetime] = _now
    rng: random.Random = field(default_factory=random.Random)

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def record_type(self, name: str) -> RecordType:
        if not self.record_types:
            self.record_types = load_record_types(self.settings.schemas_dir)
        return self.record_types[name]


def build_pending(settings: Settings, record_types: Mapping[str, RecordType] | None = None) -> list[str]:
    """Batch everything in the outbox; returns the batches built.

    Records waiting for an entity are not delivery's business: gateway.outbound.settle_and_batch first
    attaches what the registry can now place (gateway.resolution), then calls this."""
    if record_types is None:
        record_types = load_record_types(settings.schemas_dir)
    return [b.batch_id for b in build_batches(settings, record_types)]


def open_batches(settings: Settings) -> list[str]:
    return [b.batch_id for b in ledger.batches(settings, OPEN_STATES)]


# ------------------------------------------------------------------------------------------ one batch


def _moved_on(settings: Settings, batch_id: str) -> Outcome:
    """Another deliverer changed the batch under us: report where it is and touch nothing."""
    batch = ledger.load(settings, batch_id)
    log.warning("batch %s moved to %s while this run worked on it; left alone", batch_id, batch.status)
    return Outcome(batch_id, batch.status, batch.records, attempted=False)


def _created_at(sealed: Sealed) -> int:
    return Manifest.decode(sealed.manifest).created_at


def _prepare(run: Run, batch: Batch, *, reseal: bool) -> tuple[Batch, Path, Sealed] | None:
    """The envelope to push: the current one when it can still be pushed, else a new seal."""
    current = batch.current_seal()
    must_seal = reseal or batch.status == states.BUILT or current is None
    if not must_seal and batch.status == states.SEALED and current is not None:
        # Never pushed, so the hub cannot hold it; too old for the hub's window, so seal it afresh now.
        must_seal = run.policy.envelope_stale(_created_at(current), run.now())
    if must_seal:
        if batch.status == states.SENT and current is None and not reseal:
            log.warning("batch %s: its envelope file is gone or damaged; sealing a new one", batch.batch_id)
        return sealing.seal(run.settings, run.sender, batch, run.record_type(batch.record_type), run.now())
    assert current is not None and batch.envelope_path is not None
    return batch, Path(batch.envelope_path), current


def _mark_sent(run: Run, batch: Batch) -> Batch | None:
    now = run.now()
    moved = ledger.transition(
        run.settings,
        batch.batch_id,
        now=now,
        action="batch.push",
        detail={"attempt": batch.attempts + 1, "seal": batch.seals, "envelope_sha256": batch.envelope_sha256},
        from_states=(batch.status,),
        status=states.SENT,
        attempts=batch.attempts + 1,
        sent_at=batch.sent_at or now,
    )
    return ledger.load(run.settings, batch.batch_id) if moved else None


def deliver_batch(run: Run, batch_id: str) -> Outcome:
    batch = ledger.load(run.settings, batch_id)
    if batch.status not in OPEN_STATES:
        return Outcome(batch_id, batch.status, batch.records, attempted=False)
    if batch.attempts >= run.policy.max_attempts:
        # Only reachable when earlier attempts never came back (the process died each time).
        return _die(run, batch, f"已尝试 {batch.attempts} 次，每次都未能完成", "attempts_exhausted")
    reseal = False
    reseals = 0
    while True:
        try:
            prepared = _prepare(run, batch, reseal=reseal)
        except TransferError as exc:  # no usable key to seal with, say: visible on the batch, run stops
            return _failed(run, batch, exc)
        if prepared is None:
            return _moved_on(run.settings, batch_id)
        batch, envelope, sealed = prepared
        sent = _mark_sent(run, batch)
        if sent is None:
            return _moved_on(run.settings, batch_id)
        batch = sent
        try:
            receipt = run.client.push(envelope, sealed, batch_id)
        except HubRejected as exc:
            signed = exc.receipt is not None
            if exc.code in states.HOPELESS_CODES:
                return _die(run, batch, "平台拒收且重试无法解决", exc.code, str(exc))
            if signed and exc.code in states.RESEAL_CODES | states.RENUMBER_CODES:
                if reseals >= run.policy.max_reseals_per_run:
                    return _failed(run, batch, exc)
                reseals += 1
                log.info(
                    "batch %s: hub says %s (it does not hold the batch); sealing again", batch_id, exc.code
                )
                if exc.code in states.RENUMBER_CODES:
                    batch = sealing.renumber(
                        run.settings, batch, run.record_type(batch.record_type), run.now()
                    )
                reseal = True
                continue
            if signed and exc.code == states.CONFLICT_CODE:
                return _settle_conflict(run, batch, exc)
            if signed and exc.code not in states.NOT_STORED_CODES:
                assert exc.receipt is not None
                return _settle(run, batch, exc.receipt)
            return _failed(run, batch, exc)
        except TransferError as exc:
            return _failed(run, batch, exc)
        return _settle(run, batch, receipt)


def _settle(run: Run, batch: Batch, receipt: BatchReceipt) -> Outcome:
    """Record the hub's verdict, the records it named, and tell their departments; one transaction."""
    now = run.now()
    status = states.ACKNOWLEDGED if receipt.status == "accepted" else states.REJECTED
    error = None if receipt.error is None else f"{receipt.error.code}: {receipt.error.message}"
    with engine_for(run.settings.database_url).begin() as conn:
        moved = ledger.move(
            conn,
            batch.batch_id,
            now=now,
            action=f"batch.{status}",
            detail={"accepted": receipt.accepted, "rejected": len(receipt.rejected), "error": error},
            from_states=(states.SENT,),
            status=status,
            last_error=error,
            last_code=receipt.error.code if receipt.error else None,
            next_attempt_at=None,
            receipt=receipt.raw.decode(),
            receipt_signature=base64.b64encode(receipt.signature).decode(),
        )
        if not moved:
            return _moved_on(run.settings, batch.batch_id)
        applied = rejections.apply(conn, batch.batch_id, receipt.rejected, now)
        requeued = 0
        if status == states.REJECTED and applied.marked:
            requeued = rejections.requeue_others(conn, batch.batch_id)
        conn.execute(
            delivery_batch.update()
            .where(delivery_batch.c.batch_id == batch.batch_id)
            .values(hub_rejected=applied.marked)
        )
        if requeued:
            ledger.write_audit(conn, now, "batch.requeued", batch.batch_id, {"records": requeued})
        hub_receipts.write_for_files(conn, run.settings, applied.source_files, now)
    if status == states.ACKNOWLEDGED:
        log.info(
            "batch %s: acknowledged by the hub (%d of %d records accepted)",
            batch.batch_id,
            receipt.accepted,
            batch.records,
        )
    else:
        log.error(
            "batch %s: REJECTED by the hub (%s); %d records named, %d sent back to the outbox",
            batch.batch_id,
            error,
            applied.marked,
            requeued,
        )
    return Outcome(
        batch.batch_id,
        status,
        batch.records,
        receipt.accepted,
        error,
        receipt.error.code if receipt.error else None,
        hub_rejected=applied.marked,
        requeued=requeued,
    )


def _settle_conflict(run: Run, batch: Batch, refusal: HubRejected) -> Outcome:
    """The hub holds this batch id under another envelope: push the earlier ones until it names its own."""
    for seal in ledger.seal_history(run.settings, batch.batch_id):
        if seal.sealed is None or seal.sealed.envelope_sha256 == batch.envelope_sha256:
            continue
        try:
            receipt = run.client.push(Path(seal.envelope_path), seal.sealed, batch.batch_id)
        except HubRejected as exc:
            if exc.receipt is None or exc.code in states.NOT_STORED_CODES:
                continue
            receipt = exc.receipt
        except TransferError as exc:
            return _failed(run, batch, exc)
        log.info(
            "batch %s: the hub holds seal %d; settling with its stored receipt", batch.batch_id, seal.seal_no
        )
        if not ledger.adopt_seal(run.settings, batch, seal, seal.sealed, run.now()):
            return _moved_on(run.settings, batch.batch_id)
        return _settle(run, ledger.load(run.settings, batch.batch_id), receipt)
    return _die(
        run, batch, "平台已用另一信封保存此批次号，且本地没有可对应的信封", refusal.code, str(refusal)
    )


def _failed(run: Run, batch: Batch, exc: TransferError) -> Outcome:
    """Nothing that settles the batch came back: try again after the backoff, or give up."""
    now = run.now()
    reason = run.policy.exhausted(batch.attempts, batch.open_since, now)
    if reason is not None:
        return dataclasses.replace(_die(run, batch, reason, exc.code, str(exc)), blocking=True)
    wait = run.policy.backoff(batch.attempts, run.rng)
    due = now + wait
    ledger.transition(
        run.settings,
        batch.batch_id,
        now=now,
        action="batch.push_failed",
        detail={"error": str(exc), "code": exc.code, "attempt": batch.attempts, "next_attempt_at": due},
        from_states=(batch.status,),
        last_error=str(exc),
        last_code=exc.code,
        next_attempt_at=due,
    )
    log.error(
        "batch %s: not delivered (attempt %d, %s): %s; next attempt after %s",
        batch.batch_id,
        batch.attempts,
        exc.code,
        exc,
        due.isoformat(),
    )
    return Outcome(batch.batch_id, batch.status, batch.records, error=str(exc), code=exc.code, blocking=True)


def _die(run: Run, batch: Batch, reason: str, code: str, error: str | None = None) -> Outcome:
    now = run.now()
    text = reason if error is None else f"{reason}；最后一次错误：{error}"
    moved = ledger.transition(
        run.settings,
        batch.batch_id,
        now=now,
        action="batch.dead",
        detail={"reason": reason, "code": code, "error": error, "attempts": batch.attempts},
        from_states=(batch.status,),
        status=states.DEAD,
        dead_at=now,
        next_attempt_at=None,
        last_error=text,
        last_code=code,
    )
    if not moved:
        return _moved_on(run.settings, batch.batch_id)
    log.error(
        "DEAD LETTER: batch %s (%d %s records, %d attempts) given up: %s. "
        "Fix the cause, then: gateway deliveries retry %s",
        batch.batch_id,
        batch.records,
        batch.record_type,
        batch.attempts,
        text,
        batch.batch_id,
    )
    return Outcome(batch.batch_id, states.DEAD, batch.records, error=text, code=code, died=True)


# ------------------------------------------------------------------------------------------ a whole run


def dead_letters(settings: Settings) -> list[dict[str, object]]:
    stmt = (
        select(
            delivery_batch.c.batch_id,
            delivery_batch.c.record_type,
            delivery_batch.c.records,
            delivery_batch.c.attempts,
            delivery_batch.c.last_code,
            delivery_batch.c.last_error,
            delivery_batch.c.dead_at,
        )
        .where(delivery_batch.c.status == states.DEAD)
        .order_by(delivery_batch.c.seq)
    )
    with engine_for(settings.database_url).connect() as conn:
        return [
            {**row._asdict(), "dead_at": (ledger.utc(row.dead_at) or row.dead_at).isoformat()}
            for row in conn.execute(stmt)
        ]


@dataclass
class Summary:
    batches: int = 0
    acknowledged: int = 0
    rejected: int = 0
    failed: int = 0
    deferred: int = 0
    records: int = 0
    hub_rejected_records: int = 0
    requeued: int = 0
    died: list[str] = field(default_factory=list)
    dead: list[dict[str, object]] = field(default_factory=list)
    next_attempt_at: str | None = None

    def add(self, outcome: Outcome) -> None:
        if outcome.died:
            self.died.append(outcome.batch_id)
        elif outcome.status == states.ACKNOWLEDGED:
            self.acknowledged += 1
            self.records += outcome.accepted
        elif outcome.status == states.REJECTED:
            self.rejected += 1
        elif outcome.status in OPEN_STATES and outcome.attempted:
            self.failed += 1
        self.hub_rejected_records += outcome.hub_rejected
        self.requeued += outcome.requeued


def deliver_all(
    settings: Settings,
    batch_ids: list[str] | None = None,
    *,
    policy: DeliveryPolicy | None = None,
    client: HubClient | None = None,
    sender: Sender | None = None,
    clock: Callable[[], datetime] = _now,
) -> dict[str, object]:
    """Deliver every open batch (``batch_ids``, just built, are among them), oldest seq first.

    Returns the run's summary (JSON-serialisable, it becomes the DAG task's result); raises
    DeliveryFailed with the same summary when a batch died or nothing that was tried could be delivered.
    """
    policy = policy or DeliveryPolicy.from_env()
    pending = ledger.batches(settings, OPEN_STATES)
    known = {b.batch_id for b in pending}
    missing = [b for b in (batch_ids or []) if b not in known]
    if missing:
        log.info("%d batches built for this run are already settled: %s", len(missing), missing[:5])
    summary = Summary(batches=len(pending))
    if pending:
        _deliver_in_order(settings, pending, summary, policy, client, sender, clock)
    else:
        log.info("nothing to deliver: no open batches")
    summary.dead = dead_letters(settings)
    for item in summary.dead:
        log.error(
            "DEAD LETTER: batch %s (%s records of %s, %s attempts, dead since %s): %s",
            item["batch_id"],
            item["records"],
            item["record_type"],
            item["attempts"],
            item["dead_at"],
            item["last_error"],
        )
    result = asdict(summary)
    tried = summary.acknowledged + summary.rejected + summary.failed + len(summary.died)
    if summary.died:
        raise DeliveryFailed(
            f"{len(summary.died)} batches were given up in this run (dead letters): {summary.died}; "
            "see `gateway deliveries list --status dead`",
            result,
        )
    if tried and not summary.acknowledged + summary.rejected:
        raise DeliveryFailed(
            f"none of the {tried} batches tried could be delivered; they stay open and are tried again "
            f"after {summary.next_attempt_at} ({result})",
            result,
        )
    log.info("delivery run: %s", {k: v for k, v in result.items() if k != "dead"})
    return result


def _deliver_in_order(
    settings: Settings,
    pending: list[Batch],
    summary: Summary,
    policy: DeliveryPolicy,
    client: HubClient | None,
    sender: Sender | None,
    clock: Callable[[], datetime],
) -> None:
    run: Run | None = None
    own_client = client is None
    begin(BATCHES, len(pending))
    try:
        for n, batch in enumerate(pending, 1):
            now = clock().astimezone(UTC)
            if batch.next_attempt_at is not None and batch.next_attempt_at > now:
                summary.deferred = len(pending) - n + 1
                summary.next_attempt_at = batch.next_attempt_at.isoformat()
                log.info(
                    "batch %s waits until %s (backoff after %d attempts); %d later batches wait behind it",
                    batch.batch_id,
                    summary.next_attempt_at,
                    batch.attempts,
                    summary.deferred - 1,
                )
                return
            if run is None:
                sender = sender or Sender.load(
                    settings.keys_dir / "gateway",
                    settings.sender_id,
                    suite_id=settings.suite,
                    passphrase=settings.key_passphrase,
                )
                client = client or HubClient(
                    settings.hub_url,
                    sender,
                    retries=settings.push_retries,
                    verify=settings.hub_verify,
                    cert=settings.hub_cert,
                )
                run = Run(settings, sender, client, policy, clock=clock)
            outcome = deliver_batch(run, batch.batch_id)
            summary.add(outcome)
            advance(BATCHES)
            log.info("[%d/%d] %s: %s", n, len(pending), batch.batch_id, outcome.status)
            if outcome.blocking:
                summary.deferred = len(pending) - n
                summary.next_attempt_at = _due(settings, batch.batch_id)
                if summary.deferred:
                    log.warning(
                        "%d later batches wait for the next run: %s did not get through",
                        summary.deferred,
                        batch.batch_id,
                    )
                return
    finally:
        if own_client and client is not None:
            client.close()


def _due(settings: Settings, batch_id: str) -> str | None:
    due = ledger.load(settings, batch_id).next_attempt_at
    return due.isoformat() if due else None
