"""The GWENV1 envelope: age's construction (c2sp.org/age) with a JSON header, on a pluggable suite.

Layout::

    "GWENV1\\n" ‖ u32 big-endian header length ‖ canonical JSON header ‖ segment_0 ‖ … ‖ segment_n

Each segment is AEAD(payload_key, nonce_i, plaintext_i, aad) with nonce_i = 11-byte big-endian i ‖
(0x01 if last else 0x00) and aad = suite digest(preamble ‖ header). Every segment but the last holds
exactly ``seg`` plaintext bytes; the last holds 1..seg bytes, or 0 only when the payload is empty. The
last-flag is what makes truncation at a segment boundary and appended data detectable (STREAM).

Both directions stream with at most two segments in memory (the one being processed and a look-ahead
to learn whether it is the last). Opening writes plaintext as segments authenticate, so ``dst`` holds
attacker-influenced bytes until :func:`open_envelope` returns; callers write to a temporary file and
publish it only on success.

Randomness (file key, salt) comes from ``randbytes``, which only known-answer tests replace; the key
wrap's own randomness (HPKE's ephemeral key, SM2's k) stays inside the libraries, so the vectors fix the
wrapped key instead (tests/vectors).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag

from gateway.transfer.errors import EnvelopeError, FormatError, SuiteNotAllowed
from gateway.transfer.keyring import KeyEntry
from gateway.transfer.keytypes import Decrypter, LocalDecrypter, PrivateKey, encryption_key_type
from gateway.transfer.suites import DEFAULT_SUITE_ID, SegmentCipher, Suite, get_suite
from gateway.transfer.wire import (
    BATCH_ID_RE,
    ID_RE,
    KID_RE,
    MAX_CREATED_AT,
    Fields,
    b64url,
    b64url_decode,
    canonical_json,
    check_id,
    parse_versioned,
)

MAGIC = b"GWENV1\n"
VERSION = 1
SEGMENT_SIZE = 1 << 20
MIN_SEGMENT_SIZE = 1 << 10
MAX_SEGMENT_SIZE = 1 << 22
MAX_HEADER_SIZE = 16 << 10
SALT_LEN = 16
WRAP_INFO_PREFIX = b"gwenv1|"
_LEN = struct.Struct(">I")
_CONTENT_TYPE_RE = re.compile(r"[a-z]+/[a-z0-9.+-]{1,60}")
HEADER_KEYS = (
    "v",
    "suite",
    "rcpt_kid",
    "seg",
    "salt",
    "batch_id",
    "seq",
    "sender",
    "created_at",
    "content_type",
    "wrapped_key",
)


@dataclass(frozen=True)
class Header:
    suite: str
    rcpt_kid: str
    seg: int
    salt: bytes
    batch_id: str
    seq: int
    sender: str
    created_at: int
    content_type: str
    wrapped_key: bytes

    def core(self) -> dict[str, object]:
        """Every field but ``wrapped_key``: what the key wrap binds (it cannot bind its own output)."""
        return {
            "v": VERSION,
            "suite": self.suite,
            "rcpt_kid": self.rcpt_kid,
            "seg": self.seg,
            "salt": b64url(self.salt),
            "batch_id": self.batch_id,
            "seq": self.seq,
            "sender": self.sender,
            "created_at": self.created_at,
            "content_type": self.content_type,
        }

    def wrap_info(self) -> bytes:
        return WRAP_INFO_PREFIX + canonical_json(self.core(), where="信封头")

    def encode(self) -> bytes:
        return canonical_json({**self.core(), "wrapped_key": b64url(self.wrapped_key)}, where="信封头")

    @classmethod
    def decode(cls, raw: bytes, *, allowed_suites: Iterable[str]) -> Header:
        """Check the header in the documented order (docs/protocol.md §3.5); the first failure is reported.

        Strict parse, ``v`` (``unsupported_version``), canonical form, exact key set, ``suite`` on the
        allow-list (``unsupported_suite``), then each field in :data:`HEADER_KEYS` order.
        """
        obj = parse_versioned(raw, max_size=MAX_HEADER_SIZE, where="信封头", version=VERSION)
        f = Fields(obj, HEADER_KEYS, "信封头")
        suite = get_suite(f.str("suite", max_len=128), allowed_suites)
        rcpt_kid = f.str("rcpt_kid", KID_RE)
        seg = f.int("seg", MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE)
        if seg & (seg - 1):
            raise FormatError("信封头.seg 必须是 2 的幂")
        salt = f.bytes("salt", SALT_LEN)
        batch_id = f.str("batch_id", BATCH_ID_RE)
        seq = f.int("seq")
        sender = f.str("sender", ID_RE)
        created_at = f.int("created_at", 0, MAX_CREATED_AT)
        content_type = f.str("content_type", _CONTENT_TYPE_RE)
        wrapped = b64url_decode(f.raw("wrapped_key"), where="信封头.wrapped_key")
        if len(wrapped) not in suite.wrapped_key_lengths:
            raise FormatError(f"信封头.wrapped_key 的长度 {len(wrapped)} 不符合套件 {suite.id}")
        return cls(
            suite=suite.id,
            rcpt_kid=rcpt_kid,
            seg=seg,
            salt=salt,
            batch_id=batch_id,
            seq=seq,
            sender=sender,
            created_at=created_at,
            content_type=content_type,
            wrapped_key=wrapped,
        )


@dataclass(frozen=True)
class EnvelopeInfo:
    """What a sealed or opened envelope amounts to; the manifest is built from (and checked against) it."""

    header: Header
    header_sha256: str
    envelope_sha256: str
    payload_sha256: str
    segments: int
    size: int
    payload_size: int


def _preamble(header_bytes: bytes) -> bytes:
    return MAGIC + _LEN.pack(len(header_bytes))


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _read_exact(src: BinaryIO, n: int) -> bytes:
    """Read n bytes, fewer only at end of stream (file objects and sockets may return short reads)."""
    parts: list[bytes] = []
    remaining = n
    while remaining:
        chunk = src.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def seal(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    suite: Suite,
    recipient: KeyEntry,
    batch_id: str,
    seq: int,
    sender: str,
    created_at: int,
    content_type: str = "application/xml",
    segment_size: int = SEGMENT_SIZE,
    randbytes: Callable[[int], bytes] = os.urandom,
) -> EnvelopeInfo:
    """Encrypt ``src`` to ``recipient`` under a fresh random file key and salt."""
    if recipient.kty != suite.encrypt_kty or recipient.use != "encrypt":
        raise EnvelopeError(f"接收方密钥 {recipient.kid} 不能用于套件 {suite.id}", code="wrong_key_use")
    unwrapped = Header(
        suite=suite.id,
        rcpt_kid=recipient.kid,
        seg=segment_size,
        salt=randbytes(SALT_LEN),
        batch_id=check_id(batch_id, "批次号", BATCH_ID_RE),
        seq=seq,
        sender=check_id(sender, "发送方"),
        created_at=created_at,
        content_type=content_type,
        wrapped_key=b"",
    )
    file_key = randbytes(suite.file_key_length)
    wrapped = suite.wrap_key(file_key, recipient, unwrapped.wrap_info())
    header = dataclasses.replace(unwrapped, wrapped_key=wrapped)
    # Round-trip through the strict decoder so a sender can never emit a header a receiver refuses.
    Header.decode(header.encode(), allowed_suites=(suite.id,))
    return write_envelope(src, dst, header=header, file_key=file_key, suite=suite)


def write_envelope(
    src: BinaryIO, dst: BinaryIO, *, header: Header, file_key: bytes, suite: Suite
) -> EnvelopeInfo:
    """The deterministic part of sealing (given key, salt and wrapped key): frozen by known-answer tests."""
    header_bytes = header.encode()
    head = _preamble(header_bytes) + header_bytes
    aad = suite.header_digest(head)
    cipher = suite.segment_cipher(suite.payload_key(file_key, header.salt))
    envelope_hash = hashlib.sha256(head)
    payload_hash = hashlib.sha256()
    dst.write(head)
    size, payload_size, index = len(head), 0, 0
    current = _read_exact(src, header.seg)
    while True:
        following = _read_exact(src, header.seg) if len(current) == header.seg else b""
        last = not following
        segment = cipher.encrypt(_nonce(index, last), current, aad)
        dst.write(segment)
        envelope_hash.update(segment)
        payload_hash.update(current)
        size += len(segment)
        payload_size += len(current)
        if last:
            break
        current, index = following, index + 1
    return EnvelopeInfo(
        header=header,
        header_sha256=hashlib.sha256(head).hexdigest(),
        envelope_sha256=envelope_hash.hexdigest(),
        payload_sha256=payload_hash.hexdigest(),
        segments=index + 1,
        size=size,
        payload_size=payload_size,
    )


class EnvelopeSuiteNotAllowed(EnvelopeError, SuiteNotAllowed):
    """The header names a suite this receiver does not accept: an envelope error like the others (so a
    receiver handling :class:`EnvelopeError` answers it with its code) and a suite refusal."""

    code = "unsupported_suite"


def read_header(
    src: BinaryIO, *, allowed_suites: Iterable[str] = (DEFAULT_SUITE_ID,)
) -> tuple[Header, bytes]:
    """Parse the preamble and header; returns the header and the exact bytes read (preamble included)."""
    preamble = _read_exact(src, len(MAGIC) + _LEN.size)
    if len(preamble) < len(MAGIC) or preamble[: len(MAGIC)] != MAGIC:
        raise EnvelopeError("不是 GWENV1 信封（文件头标识不符）", code="bad_magic")
    if len(preamble) != len(MAGIC) + _LEN.size:
        raise EnvelopeError("信封在头部长度处被截断", code="truncated")
    (length,) = _LEN.unpack(preamble[len(MAGIC) :])
    if length > MAX_HEADER_SIZE:
        raise EnvelopeError(f"信封头长度 {length} 超过上限 {MAX_HEADER_SIZE}", code="header_too_large")
    header_bytes = _read_exact(src, length)
    if len(header_bytes) != length:
        raise EnvelopeError("信封在头部内被截断", code="truncated")
    try:
        header = Header.decode(header_bytes, allowed_suites=allowed_suites)
    except SuiteNotAllowed as exc:
        raise EnvelopeSuiteNotAllowed(exc.message) from exc
    except FormatError as exc:
        code = "unsupported_version" if exc.code == "unsupported_version" else "bad_header"
        raise EnvelopeError(exc.message, code=code) from exc
    return header, preamble + header_bytes


def _open_segment(cipher: SegmentCipher, index: int, segment: bytes, aad: bytes, last: bool) -> bytes:
    try:
        return cipher.decrypt(_nonce(index, last), segment, aad)
    except InvalidTag:
        pass
    # Only for the error message: does the segment authenticate with the other last-flag?
    try:
        cipher.decrypt(_nonce(index, not last), segment, aad)
    except InvalidTag:
        raise EnvelopeError(
            f"第 {index} 段认证失败：数据被篡改、分段顺序被调换或信封头被替换", code="segment_tampered"
        ) from None
    if last:
        raise EnvelopeError(f"信封被截断：第 {index} 段之后缺少最后一段", code="truncated")
    raise EnvelopeError(f"最后一段（第 {index} 段）之后还有多余数据", code="trailing_data")


def _as_decrypter(key: PrivateKey | Decrypter, header: Header, suite: Suite) -> Decrypter:
    """A bare private key (tests, simple callers) is used with its key type's default parameters."""
    if isinstance(key, Decrypter):
        return key
    return LocalDecrypter(header.rcpt_kid, encryption_key_type(suite.encrypt_kty), key)


def open_envelope(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    private_key_for: Callable[[Header], PrivateKey | Decrypter],
    allowed_suites: Iterable[str] = (DEFAULT_SUITE_ID,),
) -> EnvelopeInfo:
    """Decrypt ``src`` into ``dst``. ``private_key_for`` picks (and vets) the key for the header's kid:
    a :class:`Decrypter` (an HSM, or a local key with its keyring parameters) or a bare private key."""
    header, head = read_header(src, allowed_suites=allowed_suites)
    suite = get_suite(header.suite, allowed_suites)
    decrypter = _as_decrypter(private_key_for(header), header, suite)
    file_key = suite.unwrap_key(header.wrapped_key, decrypter, header.wrap_info())
    aad = suite.header_digest(head)
    cipher = suite.segment_cipher(suite.payload_key(file_key, header.salt))
    envelope_hash = hashlib.sha256(head)
    payload_hash = hashlib.sha256()
    full = header.seg + suite.tag_length
    size, payload_size, index = len(head), 0, 0
    current = _read_exact(src, full)
    while True:
        if len(current) < suite.tag_length:
            raise EnvelopeError(f"信封被截断：第 {index} 段不完整或缺失", code="truncated")
        following = _read_exact(src, full) if len(current) == full else b""
        last = not following
        plaintext = _open_segment(cipher, index, current, aad, last)
        if last and index > 0 and not plaintext:
            raise EnvelopeError("最后一段为空（只有空载荷才允许空段）", code="bad_segment")
        dst.write(plaintext)
        envelope_hash.update(current)
        payload_hash.update(plaintext)
        size += len(current)
        payload_size += len(plaintext)
        if last:
            break
        current, index = following, index + 1
    return EnvelopeInfo(
        header=header,
        header_sha256=hashlib.sha256(head).hexdigest(),
        envelope_sha256=envelope_hash.hexdigest(),
        payload_sha256=payload_hash.hexdigest(),
        segments=index + 1,
        size=size,
        payload_size=payload_size,
    )
