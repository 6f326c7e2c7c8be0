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
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, Engine
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
from hub import db
from hub.fastpath import FastRead, NotFast, Sink, Timings
from hub.faults import crash_point
from hub.keys import HubKeys
from hub.settings import Settings
from hub.validate import BatchValidator, Row, Verdict

log = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES = ("application/xml",)
# Envelopes from this size on are stored while they are validated (Receiver._receive_streaming); smaller
# ones are checked first and stored in one short transaction, which holds the write lock a shorter time
# when many small batches arrive at once (bench/hub_abuse.py).
STREAM_FROM = 8 * 2**20
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


_ENVELOPE_FAULTS = (EnvelopeError, SuiteNotAllowed, KeyringError)


def _envelope_refusal(exc: EnvelopeError | SuiteNotAllowed | KeyringError) -> Refusal:
    """The refusal for a fault of an authentic envelope: the sender's, recorded."""
    if isinstance(exc, KeyringError):
        return Refusal(422, "unknown_recipient_kid", exc.message, persist=True)
    # A suite this hub does not accept, named in the header of an envelope whose signed manifest names an
    # accepted one, is the sender's doing like any other header fault: 422, recorded.
    return Refusal(422, exc.code, exc.message, persist=True)


class _Tee:
    """Where the decryption writes: the plaintext file and the fast path, segment by segment."""

    def __init__(self, file: BinaryIO, fast: FastRead) -> None:
        self.file = file
        self.fast = fast
        self.fast_s = 0.0  # of the decryption's time, what the fast path took

    def write(self, data: bytes) -> int:
        self.file.write(data)
        start = time.perf_counter()
        self.fast.write(data)
        self.fast_s += time.perf_counter() - start
        return len(data)


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
            seen = db.nonce_user(conn, m.sender, m.nonce)
            last = db.last_seq(conn, m.sender)
        if seen is not None:
            raise Refusal(409, "replayed_nonce", f"清单随机数已被批次 {seen} 使用（重放）")
        if last is not None and m.seq <= last:
            raise Refusal(409, "seq_not_increasing", f"序号 {m.seq} 不大于已接收的最大序号 {last}")
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
            self._check_header(m, body)
            if m.size >= STREAM_FROM and self.validator.lean_schema is not None:
                answer = self._receive_streaming(admitted, body, plaintext)
                if answer is not None:
                    return answer
            verdict, rows, timings = self._open_and_check(m, body, plaintext)
            return self._accept(admitted, plaintext, verdict, rows, timings)
        except Refusal as refusal:
            return self._refuse(admitted, refusal)
        finally:
            plaintext.unlink(missing_ok=True)

    def _check_header(self, m: Manifest, body: Path) -> None:
        try:
            with body.open("rb") as src:
                header, head = read_header(src, allowed_suites=self.settings.allowed_suites)
        except _ENVELOPE_FAULTS as exc:
            raise _envelope_refusal(exc) from exc
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

    def _decrypt(self, m: Manifest, body: Path, dst: BinaryIO | _Tee) -> None:
        """Decrypt ``body`` into ``dst``; a fault of the envelope or its payload is the sender's, recorded."""
        start = time.perf_counter()
        try:
            with body.open("rb") as src:
                info = open_envelope(
                    src,
                    dst,  # type: ignore[arg-type]  # _Tee is file-like: it only needs write()
                    private_key_for=self.keys.decryption_key,
                    allowed_suites=self.settings.allowed_suites,
                )
        except _ENVELOPE_FAULTS as exc:
            raise _envelope_refusal(exc) from exc
        if isinstance(dst, _Tee):
            dst.fast.timings.decrypt = time.perf_counter() - start - dst.fast_s
        if (info.payload_sha256, info.segments) != (m.payload_sha256, m.segments):
            raise Refusal(
                422, "payload_mismatch", "解密后的载荷与清单中的 SHA-256 或分段数不符", persist=True
            )

    def _open_and_check(
        self, m: Manifest, body: Path, plaintext: Path
    ) -> tuple[Verdict, list[Row] | None, Timings | None]:
        """Decrypt and validate, the records read in the same pass when the fast path can (then returned,
        else None: :meth:`_accept` reads them from the file). Records are kept in memory only for a batch
        below STREAM_FROM; a larger one gets here only when its own path lost a race (rare), and then its
        records are read from the file again, a stream, rather than held."""
        rows: list[Row] = []
        keep = m.size < STREAM_FROM

        def sink(_record_type: str, piece: list[Row]) -> None:
            if keep:
                rows.extend(piece)

        fast = self._fast_read(m, sink)
        try:
            with open_private(plaintext) as file:
                self._decrypt(m, body, file if fast is None else _Tee(file, fast))
            if fast is not None:
                try:
                    return fast.finish(), rows if keep else None, fast.timings
                except NotFast as exc:
                    log.info("batch %s/%s: checked the careful way (%s)", m.sender, m.batch_id, exc)
        finally:
            if fast is not None:
                fast.close()
        return self._careful_check(m, plaintext), None, None

    def _fast_read(self, m: Manifest, sink: Sink) -> FastRead | None:
        if self.validator.lean_schema is None:
            return None
        return FastRead(self.validator, batch_id=m.batch_id, sender=m.sender, seq=m.seq, sink=sink)

    def _careful_check(self, m: Manifest, plaintext: Path) -> Verdict:
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

    def _receive_streaming(self, admitted: Admitted, body: Path, plaintext: Path) -> Answer | None:
        """A large batch stored while it is decrypted and validated, in one transaction that commits only
        if the fast path accepts it: the inserts overlap the validation instead of following it.

        The transaction claims the batch first (sequence compare-and-set, the batch row with its receipt
        still to come). If that fails, a concurrent push won or the batch id or nonce is taken: None, and
        the caller takes the ordinary path, which answers such races as it always has. An envelope fault
        rolls back and is refused as on the ordinary path; so is a batch the fast path cannot vouch for,
        which the careful path then checks (and, valid after all, stores the ordinary way). A crash
        anywhere before the commit leaves nothing, as SQLite rolls the transaction back."""
        m = admitted.manifest
        final = self._final_path(m)
        with self.engine.connect() as conn:
            trans = conn.begin()
            try:
                batch_pk = self._claim(conn, admitted, final)
                if batch_pk is None:
                    trans.rollback()
                    return None
                head = (batch_pk, m.sender, m.batch_id)

                def sink(record_type: str, rows: list[Row]) -> None:
                    db.insert_records(conn, (*head, record_type), rows)

                with FastRead(
                    self.validator, batch_id=m.batch_id, sender=m.sender, seq=m.seq, sink=sink
                ) as fast:
                    with open_private(plaintext) as file:
                        self._decrypt(m, body, _Tee(file, fast))
                    verdict = fast.finish()
                receipt = self._receipt(m, "accepted", verdict.count, (), None)
                raw, signature = self.keys.sign(receipt)
                db.update_batch(
                    conn,
                    batch_pk,
                    {
                        "received_at": receipt.received_at,
                        "records": verdict.count,
                        "record_type": verdict.record_type,
                        "receipt": raw,
                        "receipt_signature": signature,
                    },
                )
                self._publish(plaintext, final)
                trans.commit()
            except NotFast as exc:
                trans.rollback()
                log.info("batch %s/%s: checked the careful way (%s)", m.sender, m.batch_id, exc)
                careful = True
            except BaseException:
                trans.rollback()
                raise
            else:
                careful = False
        if careful:
            return self._accept(admitted, plaintext, self._careful_check(m, plaintext), None, None)
        crash_point("after_commit")
        self._log_accepted(m, verdict.count, fast.timings)
        return Answer(200, raw, signature)

    def _claim(self, conn: Connection, admitted: Admitted, final: Path) -> int | None:
        """In ``conn``'s transaction: advance the sender's sequence and insert the batch row (its receipt
        filled in at the end); the batch's primary key, or None when a concurrent push got there first."""
        m = admitted.manifest
        # Compare-and-set in the batch's own transaction: two racing batches cannot both pass.
        if not db.advance_seq(conn, m.sender, m.seq):
            return None
        provisional = self._receipt(m, "accepted", 0, (), None)
        try:
            return db.insert_batch(conn, self._batch_row(admitted, provisional, b"", b"", 200, str(final)))
        except IntegrityError:
            return None

    def _final_path(self, m: Manifest) -> Path:
        return self.settings.received_dir / m.sender / f"{m.batch_id}.xml"

    def _publish(self, plaintext: Path, final: Path) -> None:
        # Published inside the transaction: if the rename fails nothing is committed; if the commit fails
        # after it, the sender's retry rewrites the same file.
        private_dir(final.parent)
        os.replace(plaintext, final)  # keeps the 0600 it was created with
        crash_point("during_commit")

    def _accept(
        self,
        admitted: Admitted,
        plaintext: Path,
        verdict: Verdict,
        rows: Iterable[Row] | None,
        timings: Timings | None,
    ) -> Answer:
        """Store a checked batch; ``rows`` None: read them from the file (the careful path's reading, a
        stream consumed inside the transaction)."""
        m = admitted.manifest
        receipt = self._receipt(m, "accepted", verdict.count, (), None)
        raw, signature = self.keys.sign(receipt)
        final = self._final_path(m)
        if rows is None:
            rows = (
                (r.idx, r.op, r.record_id, r.natural_key, r.version, r.entity, r.payload, r.reason)
                for r in self.validator.records(plaintext, verdict.record_type)
            )
        try:
            with self.engine.begin() as conn:
                # Compare-and-set in the batch's own transaction: two racing batches cannot both pass.
                if not db.advance_seq(conn, m.sender, m.seq):
                    raise _LostRace
                batch_pk = db.insert_batch(
                    conn,
                    {
                        **self._batch_row(admitted, receipt, raw, signature, 200, str(final)),
                        "record_type": verdict.record_type,
                    },
                )
                db.insert_records(conn, (batch_pk, m.sender, m.batch_id, verdict.record_type), rows)
                self._publish(plaintext, final)
        except IntegrityError:
            return self._after_race(admitted, Refusal(409, "replayed_nonce", "清单随机数已被使用（重放）"))
        except _LostRace:
            return self._after_race(
                admitted, Refusal(409, "seq_not_increasing", f"序号 {m.seq} 不大于已接收的最大序号")
            )
        crash_point("after_commit")
        self._log_accepted(m, verdict.count, timings)
        return Answer(200, raw, signature)

    def _log_accepted(self, m: Manifest, count: int, timings: Timings | None) -> None:
        # The timings ride along as ``hub_timings`` for bench/delivery.py; the line says the gist.
        extra = {"hub_timings": asdict(timings) if timings is not None else None}
        if timings is None:
            log.info("batch %s/%s accepted: %d records", m.sender, m.batch_id, count, extra=extra)
        else:
            log.info(
                "batch %s/%s accepted: %d records (XSD %.2f s on the worker, reading %.2f s, storing %.2f s)",
                m.sender,
                m.batch_id,
                count,
                timings.xsd,
                timings.read,
                timings.sink,
                extra=extra,
            )

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
                    db.insert_batch(
                        conn, self._batch_row(admitted, receipt, raw, signature, refusal.status, None)
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
            row = db.stored_batch(conn, m.sender, m.batch_id)
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
