"""Receiving one batch, independent of HTTP: admit (headers only), then verify, decrypt, validate, store.

Order of checks, cheapest and least trusting first:
1. ``admit``: the manifest's signature against the sender's registered key, the idempotency key, a stored
   batch with the same id (answered with its stored receipt), then freshness, nonce and sequence — all
   before a byte of the body is trusted or stored;
2. ``receive``: the body must be exactly the envelope the manifest names (size and SHA-256). Only then is
   the batch *authentic*, and from there on every refusal is the sender's own fault, answered with a
   signed "rejected" receipt and recorded, so a retry gets the same answer.
Refusals before authenticity are plain JSON errors (nothing is signed for a party we cannot identify);
refusals of an authentic manifest that must not consume its batch id (stale, replay, out-of-order) are
signed but not recorded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from gateway.transfer import (
    BatchReceipt,
    EnvelopeError,
    FormatError,
    KeyringError,
    Manifest,
    Problem,
    Rejection,
    SignatureError,
    SuiteNotAllowed,
    open_envelope,
    read_header,
    verify_manifest,
)
from gateway.transfer.manifest import MAX_MANIFEST_SIZE
from gateway.transfer.private_files import open_private, private_dir
from gateway.transfer.protocol import (
    IDEMPOTENCY_HEADER,
    MANIFEST_HEADER,
    MAX_SIGNATURE_SIZE,
    SIGNATURE_HEADER,
)
from gateway.transfer.receipt import Status
from gateway.transfer.wire import b64_std_decode
from hub.db import batch, record, sender_state
from hub.faults import crash_point
from hub.keys import HubKeys
from hub.settings import Settings
from hub.validate import BatchValidator, Verdict

log = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES = ("application/xml",)
INSERT_CHUNK = 1000
_KEY_ERROR_STATUS = {"sender_mismatch": 403}


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, body (receipt bytes or a JSON error), receipt signature if signed."""

    status: int
    body: bytes
    signature: bytes | None = None
    replayed: bool = False

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Answer:
        body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode("utf-8")
        return cls(status, body)


class Refusal(Exception):
    """A refusal of an authentic manifest; ``persist`` records it (and its receipt) against the batch id."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        persist: bool = False,
        rejections: Iterable[Rejection] = (),
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.persist = persist
        self.rejections = tuple(rejections)


class _LostRace(Exception):
    """The sequence compare-and-set found a newer seq: decided after the rollback, see _after_race."""


@dataclass(frozen=True)
class Admitted:
    manifest: Manifest
    raw_manifest: bytes
    signature: bytes


class Receiver:
    def __init__(
        self,
        settings: Settings,
        keys: HubKeys,
        engine: Engine,
        validator: BatchValidator,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.engine = engine
        self.validator = validator
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------------------------------ admit

    def admit(self, headers: Mapping[str, str]) -> Admitted | Answer:
        values = {name: headers.get(name) for name in (MANIFEST_HEADER, SIGNATURE_HEADER, IDEMPOTENCY_HEADER)}
        missing = [name for name, value in values.items() if not value]
        if missing:
            return Answer.error(400, "missing_header", f"缺少请求头 {', '.join(missing)}")
        try:
            raw = b64_std_decode(
                values[MANIFEST_HEADER] or "", where=MANIFEST_HEADER, max_size=MAX_MANIFEST_SIZE
            )
            signature = b64_std_decode(
                values[SIGNATURE_HEADER] or "", where=SIGNATURE_HEADER, max_size=MAX_SIGNATURE_SIZE
            )
            manifest = verify_manifest(
                raw, signature, self.keys.keyring, allowed_suites=self.settings.allowed_suites
            )
        except SuiteNotAllowed as exc:
            return Answer.error(400, exc.code, exc.message)
        except FormatError as exc:
            # A later GWENV version is said as such (unsupported_version), not as a malformed manifest.
            code = exc.code if exc.code == "unsupported_version" else "bad_manifest"
            return Answer.error(400, code, exc.message)
        except SignatureError as exc:
            return Answer.error(401, exc.code, exc.message)
        except KeyringError as exc:
            return Answer.error(_KEY_ERROR_STATUS.get(exc.code, 401), exc.code, exc.message)
        if values[IDEMPOTENCY_HEADER] != manifest.batch_id:
            return Answer.error(
                400, "idempotency_key_mismatch", f"{IDEMPOTENCY_HEADER} 与清单中的批次号不一致"
            )
        admitted = Admitted(manifest, raw, signature)
        stored = self._stored_answer(admitted)
        if stored is not None:
            return stored
        try:
            self._check_fresh(manifest)
        except Refusal as refusal:
            # A concurrent push of this very batch may have committed since the look above: then its
            # sequence number or nonce is what fails here, and the answer is its receipt, not a refusal.
            return self._after_race(admitted, refusal)
        return admitted

    def _check_fresh(self, m: Manifest) -> None:
        skew = abs(self.now() - m.created_at)
        if skew > self.settings.max_skew:
            raise Refusal(
                422,
                "stale_timestamp",
                f"清单时间与平台时间相差 {skew} 秒，超过 {self.settings.max_skew} 秒的窗口",
            )
        with self.engine.connect() as conn:
            seen = conn.execute(
                select(batch.c.batch_id).where(batch.c.sender == m.sender, batch.c.nonce == m.nonce)
            ).first()
            last_seq = conn.execute(
                select(sender_state.c.last_seq).where(sender_state.c.sender == m.sender)
            ).scalar_one_or_none()
        if seen is not None:
            raise Refusal(409, "replayed_nonce", f"清单随机数已被批次 {seen.batch_id} 使用（重放）")
        if last_seq is not None and m.seq <= last_seq:
            raise Refusal(409, "seq_not_increasing", f"序号 {m.seq} 不大于已接收的最大序号 {last_seq}")
        try:
            self.keys.check_recipient(m.recipient_kid, m.created_at)
        except KeyringError as exc:
            raise Refusal(422, "unknown_recipient_kid", exc.message) from exc
        if m.size > self.settings.max_body:
            raise Refusal(413, "too_large", f"信封 {m.size} 字节，超过平台上限 {self.settings.max_body} 字节")

    # ---------------------------------------------------------------------------------------- receive

    def receive(self, admitted: Admitted, body: Path, body_sha256: str, body_size: int) -> Answer:
        """``body`` is the spooled request body; its hash and size were computed while spooling."""
        m = admitted.manifest
        if body_size != m.size or body_sha256 != m.envelope_sha256:
            log.warning("batch %s/%s: body does not match its manifest", m.sender, m.batch_id)
            return Answer.error(
                422, "envelope_mismatch", "请求体与签名清单中的信封大小或 SHA-256 不符（传输中被改动或截断）"
            )
        plaintext = self.settings.tmp_dir / f"{uuid.uuid4().hex}.xml"
        try:
            verdict = self._open_and_check(m, body, plaintext)
            return self._accept(admitted, plaintext, verdict)
        except Refusal as refusal:
            return self._refuse(admitted, refusal)
        finally:
            plaintext.unlink(missing_ok=True)

    def _open_and_check(self, m: Manifest, body: Path, plaintext: Path) -> Verdict:
        suites = self.settings.allowed_suites
        try:
            with body.open("rb") as src:
                header, head = read_header(src, allowed_suites=suites)
            expected = (m.suite, m.recipient_kid, m.batch_id, m.seq, m.sender, m.created_at, m.header_sha256)
            actual = (
                header.suite,
                header.rcpt_kid,
                header.batch_id,
                header.seq,
                header.sender,
                header.created_at,
                hashlib.sha256(head).hexdigest(),
            )
            if actual != expected:
                raise Refusal(422, "header_mismatch", "信封头与签名清单不一致", persist=True)
            if header.content_type not in ACCEPTED_CONTENT_TYPES:
                raise Refusal(
                    422, "unsupported_content_type", f"不接受的载荷类型 {header.content_type}", persist=True
                )
            with body.open("rb") as src, open_private(plaintext) as dst:
                info = open_envelope(
                    src, dst, private_key_for=self.keys.decryption_key, allowed_suites=suites
                )
        except (EnvelopeError, SuiteNotAllowed) as exc:
            # A suite this hub does not accept, named in the header of an envelope whose signed manifest
            # names an accepted one, is the sender's doing like any other header fault: 422, recorded.
            raise Refusal(422, exc.code, exc.message, persist=True) from exc
        except KeyringError as exc:
            raise Refusal(422, "unknown_recipient_kid", exc.message, persist=True) from exc
        if (info.payload_sha256, info.segments) != (m.payload_sha256, m.segments):
            raise Refusal(
                422, "payload_mismatch", "解密后的载荷与清单中的 SHA-256 或分段数不符", persist=True
            )
        verdict = self.validator.check(plaintext, batch_id=m.batch_id, sender=m.sender, seq=m.seq)
        if verdict.problem is not None:
            raise Refusal(
                422,
                verdict.problem.code,
                verdict.problem.message,
                persist=True,
                rejections=verdict.rejections,
            )
        return verdict

    def _accept(self, admitted: Admitted, plaintext: Path, verdict: Verdict) -> Answer:
        m = admitted.manifest
        receipt = self._receipt(m, "accepted", verdict.count, (), None)
        raw, signature = self.keys.sign(receipt)
        final = self.settings.received_dir / m.sender / f"{m.batch_id}.xml"
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sqlite_insert(sender_state).values(sender=m.sender, last_seq=-1).on_conflict_do_nothing()
                )
                # Compare-and-set in the batch's own transaction: two racing batches cannot both pass.
                advanced = conn.execute(
                    update(sender_state)
                    .where(sender_state.c.sender == m.sender, sender_state.c.last_seq < m.seq)
                    .values(last_seq=m.seq)
                )
                if advanced.rowcount != 1:
                    raise _LostRace
                batch_pk = conn.execute(
                    insert(batch).values(
                        **self._batch_row(admitted, receipt, raw, signature, 200, str(final)),
                        record_type=verdict.record_type,
                    )
                ).inserted_primary_key[0]
                rows = (
                    {"batch_pk": batch_pk, "sender": m.sender, "batch_id": m.batch_id, **asdict(r)}
                    for r in self.validator.records(plaintext, verdict.record_type)
                )
                for chunk in iter(lambda: list(itertools.islice(rows, INSERT_CHUNK)), []):
                    conn.execute(insert(record), chunk)
                # Published inside the transaction: if the rename fails nothing is committed; if the commit
                # fails after it, the sender's retry rewrites the same file.
                private_dir(final.parent)
                os.replace(plaintext, final)  # keeps the 0600 it was created with
                crash_point("during_commit")
        except IntegrityError:
            return self._after_race(admitted, Refusal(409, "replayed_nonce", "清单随机数已被使用（重放）"))
        except _LostRace:
            return self._after_race(
                admitted, Refusal(409, "seq_not_increasing", f"序号 {m.seq} 不大于已接收的最大序号")
            )
        crash_point("after_commit")
        log.info("batch %s/%s accepted: %d records", m.sender, m.batch_id, verdict.count)
        return Answer(200, raw, signature)

    # --------------------------------------------------------------------------------------- answers

    def _receipt(
        self,
        m: Manifest,
        status: Status,
        accepted: int,
        rejected: Iterable[Rejection],
        error: Problem | None,
    ) -> BatchReceipt:
        """The receipt about ``m``, dated now and naming the receipt key of the batch's suite."""
        received_at = self.now()
        return BatchReceipt(
            batch_id=m.batch_id,
            sender=m.sender,
            envelope_sha256=m.envelope_sha256,
            status=status,
            accepted=accepted,
            rejected=tuple(rejected),
            error=error,
            received_at=received_at,
            hub_kid=self.keys.receipt_kid(received_at, m.suite),
        )

    def _batch_row(
        self,
        admitted: Admitted,
        receipt: BatchReceipt,
        raw: bytes,
        signature: bytes,
        status: int,
        path: str | None,
    ) -> dict[str, object]:
        m = admitted.manifest
        return {
            "sender": m.sender,
            "batch_id": m.batch_id,
            "seq": m.seq,
            "nonce": m.nonce,
            "created_at": m.created_at,
            "received_at": receipt.received_at,
            "envelope_sha256": m.envelope_sha256,
            "payload_sha256": m.payload_sha256,
            "size": m.size,
            "records": receipt.accepted,
            "status": receipt.status,
            "error_code": receipt.error.code if receipt.error else None,
            "http_status": status,
            "path": path,
            "manifest": admitted.raw_manifest,
            "signature": admitted.signature,
            "receipt": raw,
            "receipt_signature": signature,
        }

    def _refuse(self, admitted: Admitted, refusal: Refusal) -> Answer:
        m = admitted.manifest
        receipt = self._receipt(m, "rejected", 0, refusal.rejections, Problem(refusal.code, refusal.message))
        raw, signature = self.keys.sign(receipt)
        if refusal.persist:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(batch).values(
                            **self._batch_row(admitted, receipt, raw, signature, refusal.status, None)
                        )
                    )
            except IntegrityError:
                return self._after_race(
                    admitted, Refusal(409, "replayed_nonce", "清单随机数已被使用（重放）")
                )
        log.info("batch %s/%s refused: %s", m.sender, m.batch_id, refusal.code)
        return Answer(refusal.status, raw, signature)

    def _stored_answer(self, admitted: Admitted) -> Answer | None:
        """The stored answer for a batch id already decided; a conflicting retry is refused."""
        m = admitted.manifest
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    batch.c.envelope_sha256, batch.c.http_status, batch.c.receipt, batch.c.receipt_signature
                ).where(batch.c.sender == m.sender, batch.c.batch_id == m.batch_id)
            ).first()
        if row is None:
            return None
        if row.envelope_sha256 != m.envelope_sha256:
            return self._refuse(
                admitted,
                Refusal(
                    409, "batch_conflict", f"批次号 {m.batch_id} 已用于另一个信封；同一批次号只能对应一个信封"
                ),
            )
        return Answer(row.http_status, row.receipt, row.receipt_signature, replayed=True)

    def _after_race(self, admitted: Admitted, otherwise: Refusal) -> Answer:
        """A concurrent push committed first: the same batch (answer with its receipt) or a rival."""
        stored = self._stored_answer(admitted)
        if stored is not None:
            return stored
        return self._refuse(admitted, otherwise)
