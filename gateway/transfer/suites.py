"""Cipher suites: the only place that names algorithms.

The framing (envelope.py), the manifest and the receipt call a :class:`Suite` for every primitive, so
a second suite (国密 SM2 + SM3 + SM4-GCM, issue #4) is one more subclass registered in ``SUITES`` with
the same header, nonce and segment layout. Suite ids are fixed strings; each party configures the ids
it accepts, and the id in a header only selects among those (it can never introduce an algorithm).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM
from cryptography.hazmat.primitives.hpke import Suite as HpkeSuite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.transfer.errors import EnvelopeError, SuiteNotAllowed
from gateway.transfer.keytypes import PrivateKey, PublicKey

DEFAULT_SUITE_ID = "GW1-X25519-HPKE-SHA256-AES256GCM-ED25519"
PAYLOAD_INFO = b"gwenv1 payload"
FILE_KEY_LEN = 32


class SegmentCipher(Protocol):
    """A one-shot AEAD keyed once per envelope (cryptography's AESGCM has exactly this shape)."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class Suite(ABC):
    id: ClassVar[str]
    encrypt_kty: ClassVar[str]
    sign_kty: ClassVar[str]
    wrapped_key_length: ClassVar[int]
    tag_length: ClassVar[int]

    @abstractmethod
    def wrap_key(self, file_key: bytes, recipient: PublicKey, info: bytes) -> bytes:
        """Encrypt the per-batch file key to the recipient, binding ``info`` (the header)."""

    @abstractmethod
    def unwrap_key(self, wrapped: bytes, recipient: PrivateKey, info: bytes) -> bytes:
        """Inverse of :meth:`wrap_key`; raise :class:`EnvelopeError` on any mismatch."""

    @abstractmethod
    def payload_key(self, file_key: bytes, salt: bytes) -> bytes: ...

    @abstractmethod
    def segment_cipher(self, payload_key: bytes) -> SegmentCipher: ...

    @abstractmethod
    def header_digest(self, data: bytes) -> bytes:
        """Digest of preamble ‖ header used as every segment's AAD."""


class X25519HpkeAesGcm(Suite):
    """The default: HPKE (RFC 9180, X25519 / HKDF-SHA256 / AES-256-GCM) wraps the file key; the payload
    is STREAM-segmented AES-256-GCM under HKDF-SHA256(file_key, salt, "gwenv1 payload"); Ed25519 signs."""

    id = DEFAULT_SUITE_ID
    encrypt_kty = "X25519"
    sign_kty = "Ed25519"
    wrapped_key_length = 32 + FILE_KEY_LEN + 16  # HPKE enc ‖ AES-GCM(file key) ‖ tag
    tag_length = 16
    _hpke = HpkeSuite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)

    def wrap_key(self, file_key: bytes, recipient: PublicKey, info: bytes) -> bytes:
        return self._hpke.encrypt(file_key, recipient, info=info)

    def unwrap_key(self, wrapped: bytes, recipient: PrivateKey, info: bytes) -> bytes:
        try:
            file_key = self._hpke.decrypt(wrapped, recipient, info=info)
        except (InvalidTag, ValueError) as exc:
            raise EnvelopeError(
                "无法解开文件密钥：信封头被改动，或信封不是发给本接收方密钥的", code="unwrap_failed"
            ) from exc
        if len(file_key) != FILE_KEY_LEN:
            raise EnvelopeError("文件密钥长度不符", code="unwrap_failed")
        return file_key

    def payload_key(self, file_key: bytes, salt: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=PAYLOAD_INFO).derive(file_key)

    def segment_cipher(self, payload_key: bytes) -> SegmentCipher:
        return AESGCM(payload_key)

    def header_digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()


SUITES: dict[str, Suite] = {s.id: s for s in (X25519HpkeAesGcm(),)}


def get_suite(suite_id: str, allowed: Iterable[str] = (DEFAULT_SUITE_ID,)) -> Suite:
    """The suite for ``suite_id`` if this party allows it; the wire alone never decides."""
    if suite_id not in set(allowed) or suite_id not in SUITES:
        raise SuiteNotAllowed(f"不接受的密码套件 {suite_id!r}")
    return SUITES[suite_id]
