"""The signed manifest: the sender's detached, non-repudiable statement about one envelope.

It binds the batch identity (batch_id, seq, sender), freshness (created_at, a random nonce), the
intended recipient key (so a batch cannot be re-encrypted to a third party and still look fresh) and
the hashes of the header, the whole envelope and the plaintext. The signature covers
``b"gwenv1 manifest\\0" ‖ manifest bytes``; verification runs over the exact bytes received and the
parsed object is only trusted afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from gateway.transfer.envelope import EnvelopeInfo
from gateway.transfer.errors import FormatError, KeyringError
from gateway.transfer.keyring import Keyring
from gateway.transfer.keytypes import PrivateKey, Signer, as_signer
from gateway.transfer.suites import DEFAULT_SUITE_ID, get_suite
from gateway.transfer.wire import (
    BATCH_ID_RE,
    HEX64_RE,
    ID_RE,
    KID_RE,
    MAX_CREATED_AT,
    Fields,
    b64url,
    canonical_json,
    parse_versioned,
)

MANIFEST_DOMAIN = b"gwenv1 manifest\0"
MANIFEST_VERSION = 1
MAX_MANIFEST_SIZE = 4 << 10
NONCE_LEN = 16
MANIFEST_KEYS = (
    "v",
    "suite",
    "kid",
    "nonce",
    "batch_id",
    "seq",
    "sender",
    "recipient_kid",
    "created_at",
    "header_sha256",
    "envelope_sha256",
    "payload_sha256",
    "segments",
    "size",
)


@dataclass(frozen=True)
class Manifest:
    v: int
    suite: str
    kid: str
    nonce: str
    batch_id: str
    seq: int
    sender: str
    recipient_kid: str
    created_at: int
    header_sha256: str
    envelope_sha256: str
    payload_sha256: str
    segments: int
    size: int

    def encode(self) -> bytes:
        return canonical_json(asdict(self), where="清单")

    @classmethod
    def decode(cls, raw: bytes, *, allowed_suites: Iterable[str] | None = None) -> Manifest:
        """Check the manifest in the documented order (docs/protocol.md §4): size, strict parse, ``v``
        (``unsupported_version``), canonical form, key set, ``suite`` (on the allow-list when one is given:
        ``unsupported_suite``), then each field. Format failures are ``bad_manifest``."""
        try:
            obj = parse_versioned(raw, max_size=MAX_MANIFEST_SIZE, where="清单", version=MANIFEST_VERSION)
            f = Fields(obj, MANIFEST_KEYS, "清单")
            suite = f.str("suite", max_len=128)
            if allowed_suites is not None:
                get_suite(suite, allowed_suites)
            kid = f.str("kid", KID_RE)
            nonce = f.str("nonce")
            f.bytes("nonce", NONCE_LEN)
            return cls(
                v=MANIFEST_VERSION,
                suite=suite,
                kid=kid,
                nonce=nonce,
                batch_id=f.str("batch_id", BATCH_ID_RE),
                seq=f.int("seq"),
                sender=f.str("sender", ID_RE),
                recipient_kid=f.str("recipient_kid", KID_RE),
                created_at=f.int("created_at", 0, MAX_CREATED_AT),
                header_sha256=f.str("header_sha256", HEX64_RE),
                envelope_sha256=f.str("envelope_sha256", HEX64_RE),
                payload_sha256=f.str("payload_sha256", HEX64_RE),
                segments=f.int("segments", 1),
                size=f.int("size", 1),
            )
        except FormatError as exc:
            if exc.code == "unsupported_version":
                raise
            raise FormatError(exc.message, code="bad_manifest") from exc

    @classmethod
    def for_envelope(cls, info: EnvelopeInfo, *, kid: str, nonce: bytes | None = None) -> Manifest:
        """``nonce`` is fresh and random unless a known-answer test fixes it."""
        header = info.header
        if nonce is not None and len(nonce) != NONCE_LEN:
            raise FormatError(f"清单随机数必须是 {NONCE_LEN} 字节")
        return cls(
            v=MANIFEST_VERSION,
            suite=header.suite,
            kid=kid,
            nonce=b64url(os.urandom(NONCE_LEN) if nonce is None else nonce),
            batch_id=header.batch_id,
            seq=header.seq,
            sender=header.sender,
            recipient_kid=header.rcpt_kid,
            created_at=header.created_at,
            header_sha256=info.header_sha256,
            envelope_sha256=info.envelope_sha256,
            payload_sha256=info.payload_sha256,
            segments=info.segments,
            size=info.size,
        )


def sign_manifest(
    manifest: Manifest, key: Signer | PrivateKey, kty: str | None = None
) -> tuple[bytes, bytes]:
    """Return (manifest bytes, detached signature). ``key`` is a :class:`Signer`, or a bare private key
    of type ``kty`` used with that type's default parameters."""
    raw = manifest.encode()
    return raw, as_signer(key, kty, manifest.kid).sign(MANIFEST_DOMAIN + raw)


def verify_manifest(
    raw: bytes, signature: bytes, keyring: Keyring, *, allowed_suites: Iterable[str] = (DEFAULT_SUITE_ID,)
) -> Manifest:
    """Verify ``signature`` over the exact ``raw`` bytes with the sender's registered key.

    Checks, in order (docs/protocol.md §4): the format (:meth:`Manifest.decode`, with the suite on the
    allow-list), the kid is in the keyring (``unknown_kid``) as a signing key (``wrong_key_use``), owned by
    the manifest's sender (``sender_mismatch``), of the suite's key type (``wrong_key_use``: an SM batch is
    never accepted under an Ed25519 signature, nor the reverse), the signature (``bad_signature``), and
    finally the key's validity window at ``created_at`` (``key_not_valid``; last, so a forged timestamp
    cannot probe key dates).
    """
    manifest = Manifest.decode(raw, allowed_suites=allowed_suites)
    suite = get_suite(manifest.suite, allowed_suites)
    entry = keyring.get(manifest.kid, use="sign")
    if entry.owner != manifest.sender:
        raise KeyringError(
            f"签名密钥 {manifest.kid} 属于 {entry.owner}，不属于清单中的发送方 {manifest.sender}",
            code="sender_mismatch",
        )
    if entry.kty != suite.sign_kty:
        raise KeyringError(f"签名密钥 {manifest.kid} 的类型与套件 {suite.id} 不符", code="wrong_key_use")
    entry.verify(signature, MANIFEST_DOMAIN + raw)
    keyring.get(manifest.kid, use="sign", at=manifest.created_at)
    return manifest
