"""The hub's signed receipt: evidence of what the hub accepted, kept by the sender with the manifest.

A batch is delivered only when a receipt signed with the hub's registered receipt key names the same
batch_id and envelope_sha256 as the push (X-Road's signed-evidence idea). The signature covers
``b"gwenv1 receipt\\0" ‖ receipt bytes`` (domain separation: a receipt signature can never be replayed as
a manifest signature or the other way round).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Literal

from gateway.transfer.errors import FormatError, KeyringError
from gateway.transfer.keyring import Keyring
from gateway.transfer.keytypes import PrivateKey, Signer, as_signer
from gateway.transfer.wire import BATCH_ID_RE, HEX64_RE, ID_RE, KID_RE, Fields, canonical_json, parse_json

RECEIPT_DOMAIN = b"gwenv1 receipt\0"
RECEIPT_VERSION = 1
MAX_RECEIPT_SIZE = 4 << 20
CODE_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
RECEIPT_KEYS = (
    "v",
    "batch_id",
    "sender",
    "envelope_sha256",
    "status",
    "accepted",
    "rejected",
    "error",
    "received_at",
    "hub_kid",
)
Status = Literal["accepted", "rejected"]


@dataclass(frozen=True)
class Rejection:
    """One refused record: its 0-based position in the batch, its natural key if known, and why."""

    index: int
    key: str
    code: str
    message: str

    def to_json(self) -> dict[str, object]:
        return {"index": self.index, "key": self.key, "code": self.code, "message": self.message}

    @classmethod
    def from_json(cls, obj: object) -> Rejection:
        if not isinstance(obj, dict):
            raise FormatError("回执.rejected 的元素必须是对象")
        f = Fields(obj, ("index", "key", "code", "message"), "回执.rejected")
        return cls(
            f.int("index"), f.str("key", max_len=1024), f.str("code", CODE_RE), f.str("message", max_len=4000)
        )


@dataclass(frozen=True)
class Problem:
    code: str
    message: str

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class BatchReceipt:
    batch_id: str
    sender: str
    envelope_sha256: str
    status: Status
    accepted: int
    rejected: tuple[Rejection, ...]
    error: Problem | None
    received_at: int
    hub_kid: str
    # The exact bytes and signature this receipt was verified from, for the sender's evidence archive;
    # empty on a receipt being built. Not part of the receipt's value (compare=False).
    raw: bytes = field(default=b"", compare=False, repr=False)
    signature: bytes = field(default=b"", compare=False, repr=False)

    def encode(self) -> bytes:
        return canonical_json(
            {
                "v": RECEIPT_VERSION,
                "batch_id": self.batch_id,
                "sender": self.sender,
                "envelope_sha256": self.envelope_sha256,
                "status": self.status,
                "accepted": self.accepted,
                "rejected": [r.to_json() for r in self.rejected],
                "error": self.error.to_json() if self.error else None,
                "received_at": self.received_at,
                "hub_kid": self.hub_kid,
            },
            where="回执",
        )

    @classmethod
    def decode(cls, raw: bytes) -> BatchReceipt:
        f = Fields(parse_json(raw, max_size=MAX_RECEIPT_SIZE, where="回执"), RECEIPT_KEYS, "回执")
        if f.int("v") != RECEIPT_VERSION:
            raise FormatError(f"不支持的回执版本 {f.raw('v')}", code="unsupported_version")
        status = f.str("status")
        if status not in ("accepted", "rejected"):
            raise FormatError(f"回执.status 取值不合法：{status!r}")
        rejected = f.raw("rejected")
        if not isinstance(rejected, list):
            raise FormatError("回执.rejected 必须是列表")
        error_obj = f.raw("error")
        error: Problem | None = None
        if error_obj is not None:
            if not isinstance(error_obj, dict):
                raise FormatError("回执.error 必须是对象或 null")
            ef = Fields(error_obj, ("code", "message"), "回执.error")
            error = Problem(ef.str("code", CODE_RE), ef.str("message", max_len=4000))
        return cls(
            batch_id=f.str("batch_id", BATCH_ID_RE),
            sender=f.str("sender", ID_RE),
            envelope_sha256=f.str("envelope_sha256", HEX64_RE),
            status=status,  # type: ignore[arg-type]
            accepted=f.int("accepted"),
            rejected=tuple(Rejection.from_json(r) for r in rejected),
            error=error,
            received_at=f.int("received_at"),
            hub_kid=f.str("hub_kid", KID_RE),
            raw=raw,
        )


def sign_receipt(
    receipt: BatchReceipt, key: Signer | PrivateKey, kty: str | None = None
) -> tuple[bytes, bytes]:
    """Return (receipt bytes, detached signature); ``key`` as for :func:`sign_manifest`."""
    raw = receipt.encode()
    return raw, as_signer(key, kty, receipt.hub_kid).sign(RECEIPT_DOMAIN + raw)


def verify_receipt(
    raw: bytes, signature: bytes, keyring: Keyring, *, hub_id: str | None = None
) -> BatchReceipt:
    """Verify a receipt over the exact bytes received, with a signing key the keyring trusts for a hub.

    The key must belong to ``hub_id`` when given, and never to the keyring's own party (a sender must not
    accept a "receipt" signed with its own key).
    """
    receipt = BatchReceipt.decode(raw)
    entry = keyring.get(receipt.hub_kid, use="sign")
    if entry.owner == keyring.party or (hub_id is not None and entry.owner != hub_id):
        raise KeyringError(f"回执签名密钥 {receipt.hub_kid} 不属于接收平台", code="receipt_wrong_signer")
    entry.verify(signature, RECEIPT_DOMAIN + raw)
    keyring.get(receipt.hub_kid, use="sign", at=receipt.received_at)
    return dataclasses.replace(receipt, signature=signature)
