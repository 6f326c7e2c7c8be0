"""The hub's signed receipt: evidence of what the hub accepted, kept by the sender with the manifest.

A batch is delivered only when a receipt signed with the hub's registered receipt key names the same
batch_id and envelope_sha256 as the push (X-Road's signed-evidence idea). The signature covers
``b"gwenv1 receipt\\0" ‖ receipt bytes`` (domain separation: a receipt signature can never be replayed as
a manifest signature or the other way round).

The receipt's wire form is described once, here: each field of :class:`BatchReceipt`, :class:`Rejection`
and :class:`Problem` that travels carries its rule (``Annotated[type, rule]``), and encoding, decoding and
the hub's published JSON schema (hub/openapi.py) are all read from those rules (:func:`wire_fields`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Literal

from gateway.transfer.errors import FormatError, KeyringError, ReceiptMismatch
from gateway.transfer.keyring import Keyring
from gateway.transfer.keytypes import PrivateKey, Signer, as_signer
from gateway.transfer.manifest import Manifest
from gateway.transfer.suites import SUITES
from gateway.transfer.wire import (
    BATCH_ID_RE,
    HEX64_RE,
    ID_RE,
    KID_RE,
    MAX_SAFE_INT,
    Fields,
    canonical_json,
    parse_versioned,
)

RECEIPT_DOMAIN = b"gwenv1 receipt\0"
RECEIPT_VERSION = 1
MAX_RECEIPT_SIZE = 4 << 20
# The most refused records one receipt may list (docs/protocol.md §5). A hub finding more lists the first
# MAX_REJECTIONS; a sender refuses a receipt listing more, which bounds what it parses and archives.
MAX_REJECTIONS = 1000
CODE_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_MESSAGE = 4000
Status = Literal["accepted", "rejected"]

# ------------------------------------------------------------------------------------- field rules


@dataclass(frozen=True)
class Text:
    """A string of at most ``max_len`` characters that, when ``pattern`` is given, matches it in full."""

    doc: str
    pattern: re.Pattern[str] | None = None
    max_len: int = 256

    def read(self, f: Fields, key: str, where: str) -> str:
        return f.str(key, self.pattern, self.max_len)

    def dump(self, value: Any) -> object:
        return value


@dataclass(frozen=True)
class Choice:
    """A string that is one of ``values``."""

    doc: str
    values: tuple[str, ...]

    def read(self, f: Fields, key: str, where: str) -> str:
        value = f.str(key)
        if value not in self.values:
            raise FormatError(f"{where}.{key} 取值不合法：{value!r}")
        return value

    def dump(self, value: Any) -> object:
        return value


@dataclass(frozen=True)
class Integer:
    """An integer (never a boolean) in ``lo..hi``."""

    doc: str
    lo: int = 0
    hi: int = MAX_SAFE_INT

    def read(self, f: Fields, key: str, where: str) -> int:
        return f.int(key, self.lo, self.hi)

    def dump(self, value: Any) -> object:
        return value


@dataclass(frozen=True)
class Version:
    """The format version: exactly ``value``; another number is ``unsupported_version``."""

    doc: str
    value: int

    def read(self, f: Fields, key: str, where: str) -> int:
        if f.int(key) != self.value:
            raise FormatError(f"不支持的{where}版本 {f.raw(key)}", code="unsupported_version")
        return self.value

    def dump(self, value: Any) -> object:
        return self.value


@dataclass(frozen=True)
class ListOf:
    """A list of at most ``max_items`` ``item`` objects (a tuple in Python)."""

    doc: str
    item: type
    max_items: int

    def read(self, f: Fields, key: str, where: str) -> tuple[object, ...]:
        value = f.raw(key)
        if not isinstance(value, list):
            raise FormatError(f"{where}.{key} 必须是列表")
        if len(value) > self.max_items:
            raise FormatError(f"{where}.{key} 有 {len(value)} 项，超过上限 {self.max_items}")
        return tuple(read_object(self.item, v, f"{where}.{key}", what="的元素必须是对象") for v in value)

    def dump(self, value: Any) -> object:
        return [dump_object(v) for v in value]


@dataclass(frozen=True)
class OneOrNull:
    """One ``item`` object, or null."""

    doc: str
    item: type

    def read(self, f: Fields, key: str, where: str) -> object:
        value = f.raw(key)
        return None if value is None else read_object(self.item, value, f"{where}.{key}", "必须是对象或 null")

    def dump(self, value: Any) -> object:
        return None if value is None else dump_object(value)


Rule = Text | Choice | Integer | Version | ListOf | OneOrNull


@functools.cache
def wire_fields(cls: type) -> Mapping[str, Rule]:
    """The members ``cls`` has on the wire, in declaration order, each with its rule.

    A member is a dataclass field annotated with a rule (``Annotated[type, rule]``), or, for a versioned
    object, its ``WIRE_VERSION`` (a ``v`` member that is not a Python attribute). Fields without a rule
    (a receipt's ``raw`` and ``signature``) are not on the wire.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    members: dict[str, Rule] = {}
    version = getattr(cls, "WIRE_VERSION", None)
    if version is not None:
        members["v"] = version
    for f in dataclasses.fields(cls):
        rules = [m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Rule)]
        if rules:
            members[f.name] = rules[0]
    return MappingProxyType(members)


def read_object(cls: type, value: object, where: str, what: str = "必须是对象") -> Any:
    """Build ``cls`` from one parsed JSON object: exactly its wire members, each by its rule."""
    if not isinstance(value, dict):
        raise FormatError(f"{where} {what}")
    members = wire_fields(cls)
    f = Fields(value, members, where)
    values = {key: rule.read(f, key, where) for key, rule in members.items()}
    values.pop("v", None)
    return cls(**values)


def dump_object(obj: object) -> dict[str, object]:
    """The JSON value of a wire object (the inverse of :func:`read_object`)."""
    return {key: rule.dump(getattr(obj, key, None)) for key, rule in wire_fields(type(obj)).items()}


# ------------------------------------------------------------------------------------------ receipt


@dataclass(frozen=True)
class Rejection:
    """One refused record: its 0-based position in the batch, its natural key if known, and why."""

    index: Annotated[int, Integer("0-based position of the record in the batch")]
    key: Annotated[str, Text("the record's natural key (Record/@key), empty when unknown", max_len=1024)]
    code: Annotated[str, Text("stable machine code of the refusal", CODE_RE)]
    message: Annotated[str, Text("中文说明，供工程师阅读", max_len=MAX_MESSAGE)]

    def to_json(self) -> dict[str, object]:
        return dump_object(self)

    @classmethod
    def from_json(cls, obj: object) -> Rejection:
        rejection: Rejection = read_object(cls, obj, "回执.rejected", "的元素必须是对象")
        return rejection


@dataclass(frozen=True)
class Problem:
    """A refusal's stable code (docs/protocol.md §7.3) and message: a receipt's ``error``, a plain error."""

    code: Annotated[str, Text("stable machine code (docs/protocol.md §7.3)", CODE_RE)]
    message: Annotated[str, Text("中文说明，供工程师阅读", max_len=MAX_MESSAGE)]

    def to_json(self) -> dict[str, object]:
        return dump_object(self)


@dataclass(frozen=True)
class BatchReceipt:
    """The hub's answer about one pushed batch, signed by the hub's receipt key."""

    WIRE_VERSION: typing.ClassVar[Version] = Version("receipt format version", RECEIPT_VERSION)

    batch_id: Annotated[str, Text("the manifest's batch_id", BATCH_ID_RE)]
    sender: Annotated[str, Text("the manifest's sender", ID_RE)]
    envelope_sha256: Annotated[str, Text("the manifest's envelope_sha256", HEX64_RE)]
    status: Annotated[Status, Choice("the hub's decision on the whole batch", typing.get_args(Status))]
    accepted: Annotated[int, Integer("records stored; 0 when rejected")]
    rejected: Annotated[
        tuple[Rejection, ...],
        ListOf(f"refused records, at most {MAX_REJECTIONS}; empty when accepted", Rejection, MAX_REJECTIONS),
    ]
    error: Annotated[Problem | None, OneOrNull("why the batch was rejected; null when accepted", Problem)]
    received_at: Annotated[int, Integer("hub time, Unix seconds")]
    hub_kid: Annotated[str, Text("the hub signing key that signed this receipt", KID_RE)]
    # The exact bytes and signature this receipt was verified from, for the sender's evidence archive;
    # empty on a receipt being built. Not part of the receipt's value (compare=False), not on the wire.
    raw: bytes = field(default=b"", compare=False, repr=False)
    signature: bytes = field(default=b"", compare=False, repr=False)

    def encode(self) -> bytes:
        return canonical_json(dump_object(self), where="回执")

    @classmethod
    def decode(cls, raw: bytes) -> BatchReceipt:
        """Size, strict parse, ``v`` (``unsupported_version``), canonical form, members by their rules,
        then the statements between members (docs/protocol.md §5); format failures are ``bad_receipt``."""
        try:
            obj = parse_versioned(raw, max_size=MAX_RECEIPT_SIZE, where="回执", version=RECEIPT_VERSION)
            receipt: BatchReceipt = read_object(cls, obj, "回执")
            receipt.check_consistent()
        except FormatError as exc:
            if exc.code == "unsupported_version":
                raise
            raise FormatError(exc.message, code="bad_receipt") from exc
        return dataclasses.replace(receipt, raw=raw)

    def check_consistent(self) -> None:
        """An accepted receipt has no error and no refused records; a rejected one stored nothing."""
        if self.status == "accepted" and (self.error is not None or self.rejected):
            raise FormatError("已接收的回执不得带 error 或 rejected")
        if self.status == "rejected" and (self.error is None or self.accepted != 0):
            raise FormatError("拒收的回执必须带 error，且 accepted 为 0")


RECEIPT_KEYS = tuple(wire_fields(BatchReceipt))


def sign_receipt(
    receipt: BatchReceipt, key: Signer | PrivateKey, kty: str | None = None
) -> tuple[bytes, bytes]:
    """Return (receipt bytes, detached signature); ``key`` as for :func:`sign_manifest`."""
    raw = receipt.encode()
    return raw, as_signer(key, kty, receipt.hub_kid).sign(RECEIPT_DOMAIN + raw)


def verify_receipt(
    raw: bytes,
    signature: bytes,
    keyring: Keyring,
    *,
    hub_id: str | None = None,
    pushed: Manifest | None = None,
) -> BatchReceipt:
    """Verify a receipt over the exact bytes received, with a signing key the keyring trusts for a hub.

    In order (docs/protocol.md §5): the format (:meth:`BatchReceipt.decode`), ``hub_kid`` in the keyring
    (``unknown_kid``) as a signing key (``wrong_key_use``), owned by ``hub_id`` when given and never by the
    keyring's own party (``receipt_wrong_signer``: a sender must not accept a "receipt" signed with its own
    key), of the pushed batch's suite (``receipt_wrong_suite``: an SM batch never accepts an Ed25519
    receipt, nor the reverse), the signature (``bad_signature``), the key valid at ``received_at``
    (``key_not_valid``), and naming the pushed batch (``receipt_mismatch``). A sender passes the manifest it
    pushed as ``pushed``; without it (re-checking an archived receipt) the last two steps that need it,
    the suite and the batch, are not checked.
    """
    receipt = BatchReceipt.decode(raw)
    entry = keyring.get(receipt.hub_kid, use="sign")
    if entry.owner == keyring.party or (hub_id is not None and entry.owner != hub_id):
        raise KeyringError(f"回执签名密钥 {receipt.hub_kid} 不属于接收平台", code="receipt_wrong_signer")
    if pushed is not None:
        suite = SUITES.get(pushed.suite)
        if suite is None or entry.kty != suite.sign_kty:
            raise KeyringError(
                f"回执签名密钥 {receipt.hub_kid}（{entry.kty}）不是批次套件 {pushed.suite} 的签名密钥",
                code="receipt_wrong_suite",
            )
    entry.verify(signature, RECEIPT_DOMAIN + raw)
    keyring.get(receipt.hub_kid, use="sign", at=receipt.received_at)
    if pushed is not None and (receipt.batch_id, receipt.sender, receipt.envelope_sha256) != (
        pushed.batch_id,
        pushed.sender,
        pushed.envelope_sha256,
    ):
        raise ReceiptMismatch(
            f"回执对应批次 {receipt.batch_id}/{receipt.envelope_sha256[:12]}，"
            f"而推送的是 {pushed.batch_id}/{pushed.envelope_sha256[:12]}"
        )
    return dataclasses.replace(receipt, signature=signature)
