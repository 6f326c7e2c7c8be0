"""Receiving one batch by the format alone: manifest, recipient key, body, header, segments, in that order.

These are the receiver's checks of docs/protocol.md §7.2 that need nothing but the bytes, the keyring and
the private keys: what a receiver *remembers* (batches already decided, nonces, the sender's last
sequence number, its clock) is left to it, between :func:`check_manifest` and :func:`open_batch`. The
order is the document's, so that every receiver gives one input the same code, and the test vectors
(tests/vectors/cases) hold this module, the reference hub and a reader written from the document alone
to the same answer for each case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from gateway.transfer.envelope import EnvelopeInfo, Header, open_envelope, read_header
from gateway.transfer.errors import EnvelopeError, KeyringError
from gateway.transfer.keyring import KeyEntry, Keyring
from gateway.transfer.keytypes import Decrypter, PrivateKey
from gateway.transfer.manifest import Manifest, verify_manifest
from gateway.transfer.suites import DEFAULT_SUITE_ID, get_suite

ACCEPTED_CONTENT_TYPES = ("application/xml",)
_CHUNK = 1 << 20

PrivateKeyFor = Callable[[KeyEntry], PrivateKey | Decrypter]


@dataclass(frozen=True)
class Checked:
    """A verified manifest and the decrypter of the receiver's key it names."""

    manifest: Manifest
    recipient: KeyEntry
    decrypter: Decrypter


@dataclass(frozen=True)
class Opened:
    manifest: Manifest
    info: EnvelopeInfo


def recipient_entry(keyring: Keyring, kid: str, *, at: int, suite_id: str) -> KeyEntry:
    """The receiver's own encryption key ``kid`` of the suite valid at ``at``; else unknown_recipient_kid.

    Every way of naming a key the receiver cannot decrypt with (not in its keyring, a signing key, a
    peer's key, outside its window, another suite's key type) is the one code: to the sender they all
    mean "seal again to the receiver's current key" (docs/protocol.md §7.7).
    """
    try:
        entry = keyring.get(kid, use="encrypt", at=at)
    except KeyringError as exc:
        raise KeyringError(exc.message, code="unknown_recipient_kid") from exc
    suite = get_suite(suite_id, (suite_id,))
    if entry.owner != keyring.party or entry.kty != suite.encrypt_kty:
        raise KeyringError(
            f"信封的接收方密钥 {kid} 不是本方 {suite.id} 套件的加密密钥", code="unknown_recipient_kid"
        )
    return entry


def check_manifest(
    raw: bytes,
    signature: bytes,
    keyring: Keyring,
    *,
    private_key_for: PrivateKeyFor,
    allowed_suites: Iterable[str] = (DEFAULT_SUITE_ID,),
) -> Checked:
    """Step 1 and the recipient check of step 3 (docs/protocol.md §7.2): before any byte of the body.

    ``private_key_for`` gives the private key (or a :class:`Decrypter`) of a recipient entry, raising
    :class:`KeyringError` when the receiver does not hold it (then ``unknown_recipient_kid`` too).
    """
    manifest = verify_manifest(raw, signature, keyring, allowed_suites=allowed_suites)
    entry = recipient_entry(keyring, manifest.recipient_kid, at=manifest.created_at, suite_id=manifest.suite)
    try:
        key = private_key_for(entry)
    except KeyringError as exc:
        raise KeyringError(exc.message, code="unknown_recipient_kid") from exc
    decrypter = key if isinstance(key, Decrypter) else entry.decrypter(key)
    return Checked(manifest, entry, decrypter)


def _hash_stream(src: BinaryIO) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _header_facts(header: Header, head: bytes) -> tuple[object, ...]:
    return (
        header.suite,
        header.rcpt_kid,
        header.batch_id,
        header.seq,
        header.sender,
        header.created_at,
        hashlib.sha256(head).hexdigest(),
    )


def _manifest_facts(m: Manifest) -> tuple[object, ...]:
    return (m.suite, m.recipient_kid, m.batch_id, m.seq, m.sender, m.created_at, m.header_sha256)


def open_batch(
    envelope: BinaryIO,
    dst: BinaryIO,
    checked: Checked,
    *,
    allowed_suites: Iterable[str] = (DEFAULT_SUITE_ID,),
    content_types: Iterable[str] = ACCEPTED_CONTENT_TYPES,
) -> Opened:
    """Steps 4 and 5 (docs/protocol.md §7.2) on a seekable ``envelope``, writing the plaintext to ``dst``.

    ``dst`` holds untrusted bytes unless this returns (write it to a temporary file). Codes:
    ``envelope_mismatch`` (the body is not the envelope the manifest names), the header codes of §3.5,
    ``header_mismatch``, ``unsupported_content_type``, the segment codes of §3.3, ``payload_mismatch``.
    """
    m = checked.manifest
    allowed = tuple(allowed_suites)
    start = envelope.tell()
    envelope_sha256, size = _hash_stream(envelope)
    if (size, envelope_sha256) != (m.size, m.envelope_sha256):
        raise EnvelopeError(
            "信封与签名清单中的大小或 SHA-256 不符（传输中被改动或截断）", code="envelope_mismatch"
        )
    envelope.seek(start)
    header, head = read_header(envelope, allowed_suites=allowed)
    if _header_facts(header, head) != _manifest_facts(m):
        raise EnvelopeError("信封头与签名清单不一致", code="header_mismatch")
    if header.content_type not in set(content_types):
        raise EnvelopeError(f"不接受的载荷类型 {header.content_type}", code="unsupported_content_type")
    envelope.seek(start)
    info = open_envelope(envelope, dst, private_key_for=lambda _h: checked.decrypter, allowed_suites=allowed)
    if (info.payload_sha256, info.segments) != (m.payload_sha256, m.segments):
        raise EnvelopeError("解密后的载荷与清单中的 SHA-256 或分段数不符", code="payload_mismatch")
    return Opened(m, info)
