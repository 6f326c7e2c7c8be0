"""Cipher suites: the only place that combines algorithms into a protocol.

The framing (envelope.py), the manifest and the receipt call a :class:`Suite` for every primitive, and
both suites share the header, nonce and segment layout. Suite ids are fixed strings; each party
configures the ids it accepts, and the id in a header only selects among those (it can never introduce
an algorithm). Key algorithms themselves live in keytypes.py, with per-key agreements in the keyring.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.transfer.errors import EnvelopeError, SuiteNotAllowed
from gateway.transfer.keyring import KeyEntry
from gateway.transfer.keytypes import Decrypter, encryption_key_type

DEFAULT_SUITE_ID = "GW1-X25519-HPKE-SHA256-AES256GCM-ED25519"
SM_SUITE_ID = "GW1-SM2-SM3-SM4GCM"
SUITE_ALIASES = {"default": DEFAULT_SUITE_ID, "sm": SM_SUITE_ID}
PAYLOAD_INFO = b"gwenv1 payload"
FILE_KEY_LEN = 32  # the default suite's; each suite states its own file_key_length
GCM_TAG_LEN = 16


class SegmentCipher(Protocol):
    """A one-shot AEAD keyed once per envelope (cryptography's AESGCM has exactly this shape).

    ``decrypt`` returns plaintext only after the tag has verified and raises ``InvalidTag`` otherwise."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class SM4GCM:
    """SM4-GCM with the AESGCM call shape; cryptography offers SM4 only through the streaming Cipher API.

    That API's decryptor hands out plaintext from ``update()`` before ``finalize()`` checks the tag
    (docs/protocol.md §12.1), so :meth:`decrypt` keeps the whole segment's plaintext local and returns it only
    after ``finalize()`` has succeeded: one Cipher object per segment, used one-shot.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("SM4 key must be 16 bytes")
        self._key = key

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated_data or b"")
        ciphertext = encryptor.update(data) + encryptor.finalize()
        return ciphertext + encryptor.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        if len(data) < GCM_TAG_LEN:
            raise InvalidTag
        body, tag = data[:-GCM_TAG_LEN], data[-GCM_TAG_LEN:]
        decryptor = Cipher(
            algorithms.SM4(self._key), modes.GCM(nonce, tag, min_tag_length=GCM_TAG_LEN)
        ).decryptor()
        decryptor.authenticate_additional_data(associated_data or b"")
        plaintext = decryptor.update(body)
        decryptor.finalize()  # raises InvalidTag; the plaintext above is dropped with the exception
        return plaintext


class Suite(ABC):
    id: ClassVar[str]
    encrypt_kty: ClassVar[str]
    sign_kty: ClassVar[str]
    file_key_length: ClassVar[int]
    wrapped_key_lengths: ClassVar[range]
    tag_length: ClassVar[int] = GCM_TAG_LEN

    def wrap_key(self, file_key: bytes, recipient: KeyEntry, info: bytes) -> bytes:
        """Encrypt the per-batch file key to the recipient, binding ``info`` (the header) where the
        algorithm can (HPKE); SM2 cannot, and the header is then bound by the segments' AAD alone."""
        if recipient.kty != self.encrypt_kty or recipient.use != "encrypt":
            raise EnvelopeError(f"接收方密钥 {recipient.kid} 不能用于套件 {self.id}", code="wrong_key_use")
        kt = encryption_key_type(recipient.kty)
        return recipient.encrypt(file_key, info if kt.binds_info else b"")

    def unwrap_key(self, wrapped: bytes, decrypter: Decrypter, info: bytes) -> bytes:
        """Inverse of :meth:`wrap_key`; raise :class:`EnvelopeError` on any mismatch."""
        kt = encryption_key_type(self.encrypt_kty)
        try:
            file_key = decrypter.decrypt(wrapped, info if kt.binds_info else b"")
        except (InvalidTag, ValueError) as exc:
            raise EnvelopeError(
                "无法解开文件密钥：信封头被改动，或信封不是发给本接收方密钥的", code="unwrap_failed"
            ) from exc
        if len(file_key) != self.file_key_length:
            raise EnvelopeError("文件密钥长度不符", code="unwrap_failed")
        return file_key

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
    file_key_length = FILE_KEY_LEN
    wrapped_key_lengths = range(32 + FILE_KEY_LEN + 16, 32 + FILE_KEY_LEN + 16 + 1)  # enc ‖ ct ‖ tag

    def payload_key(self, file_key: bytes, salt: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=PAYLOAD_INFO).derive(file_key)

    def segment_cipher(self, payload_key: bytes) -> SegmentCipher:
        return AESGCM(payload_key)

    def header_digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()


class SM2SM3SM4Gcm(Suite):
    """国密: SM2 encrypts a 16-byte file key (数字信封, GM/T 0010 style); the payload is STREAM-segmented
    SM4-GCM under HKDF-SM3(file_key, salt, "gwenv1 payload", 16); the AAD is SM3(preamble ‖ header); SM2
    with SM3 and Z_A signs. The file key is SM2-encrypted alone (no header in the plaintext) so an HSM's
    SM2 session-key import can take it as is."""

    id = SM_SUITE_ID
    encrypt_kty = "SM2-ENC"
    sign_kty = "SM2-SIGN"
    file_key_length = 16
    # DER C1C3C2 of a 16-byte plaintext is 1xx bytes (INTEGERs are minimal); raw layouts are 65+32+16.
    wrapped_key_lengths = range(1, 257)

    def payload_key(self, file_key: bytes, salt: bytes) -> bytes:
        return HKDF(algorithm=hashes.SM3(), length=16, salt=salt, info=PAYLOAD_INFO).derive(file_key)

    def segment_cipher(self, payload_key: bytes) -> SegmentCipher:
        return SM4GCM(payload_key)

    def header_digest(self, data: bytes) -> bytes:
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize()


SUITES: dict[str, Suite] = {s.id: s for s in (X25519HpkeAesGcm(), SM2SM3SM4Gcm())}


def get_suite(suite_id: str, allowed: Iterable[str] = (DEFAULT_SUITE_ID,)) -> Suite:
    """The suite for ``suite_id`` if this party allows it; the wire alone never decides."""
    if suite_id not in set(allowed) or suite_id not in SUITES:
        raise SuiteNotAllowed(f"不接受的密码套件 {suite_id!r}")
    return SUITES[suite_id]


def resolve_suite_id(name: str) -> str:
    """A configured suite name (``default``, ``sm`` or a full id) as its full id."""
    suite_id = SUITE_ALIASES.get(name.strip().lower(), name.strip())
    if suite_id not in SUITES:
        known = "、".join([*SUITE_ALIASES, *SUITES])
        raise SuiteNotAllowed(f"未知的密码套件 {name!r}，可选：{known}")
    return suite_id


def parse_suite_list(text: str) -> tuple[str, ...]:
    """A comma list of suite names (HUB_SUITES, --suites) as full ids, in order, without repeats."""
    ids = [resolve_suite_id(part) for part in text.split(",") if part.strip()]
    if not ids:
        raise SuiteNotAllowed("至少要接受一个密码套件")
    return tuple(dict.fromkeys(ids))
