"""SM2 (GB/T 32918) through gmssl-pyx, and the byte encodings peers disagree on.

gmssl-pyx is a C extension over GmSSL 3.2; the pure-Python ``gmssl`` package is never used (its nonces
come from ``random`` and its decryption skips the C3 check, docs/protocol.md §12.2). gmssl-pyx speaks one
encoding of each thing: DER ``SEQUENCE {r, s}`` signatures and DER ``SEQUENCE {x, y, C3, C2}`` (C1C3C2)
ciphertexts. Other systems use raw r‖s, raw C1C3C2 or the legacy C1C2C3 order, so this module converts
between them, parsing strictly (minimal DER, points on the curve, exact lengths) before anything reaches
the C library. The 国密 suite's symmetric parts (SM3, SM4-GCM) come from cryptography instead, which is
faster than gmssl-pyx there.

gmssl-pyx cannot derive a public key from a private one, so a private key is always kept together with
its public key; and it draws the signing nonce and the encryption ephemeral key itself, so neither can be
fixed for known-answer tests (tests/vectors checks verification of fixed values instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import gmssl_pyx
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

SignatureEncoding = Literal["der", "raw"]
CiphertextLayout = Literal["c1c3c2-der", "c1c3c2", "c1c2c3"]
SIGNATURE_ENCODINGS: tuple[SignatureEncoding, ...] = ("der", "raw")
CIPHERTEXT_LAYOUTS: tuple[CiphertextLayout, ...] = ("c1c3c2-der", "c1c3c2", "c1c2c3")

DEFAULT_USER_ID = "1234567812345678"  # GB/T 35276 §5.3 / GM/T 0009 default signer id
DEFAULT_SIGNATURE_ENCODING: SignatureEncoding = "der"
DEFAULT_CIPHERTEXT_LAYOUT: CiphertextLayout = "c1c3c2-der"

# Curve sm2p256v1 (GB/T 32918.5): field prime p, coefficients a and b, group order n (cofactor 1).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
COORD = 32
POINT_LEN = 1 + 2 * COORD  # 04 ‖ x ‖ y, the uncompressed SEC 1 encoding
HASH_LEN = 32
RAW_SIGNATURE_LEN = 2 * COORD  # r ‖ s
# DER SEQUENCE { INTEGER r, INTEGER s } with minimal integers below n: 2 + 2·(2 + 33) bytes at most
# (an integer takes 33 content bytes when its top bit is set), 8 at least (r = s = 1).
MAX_DER_SIGNATURE_LEN = 72
MAX_PLAINTEXT = 255  # gmssl-pyx's limit; the suite encrypts 16-byte keys

_SEQUENCE, _INTEGER, _OCTET_STRING = 0x30, 0x02, 0x04


class SM2Error(ValueError):
    """Malformed input or a failed SM2 operation; deliberately without detail (no oracle)."""


def signature_encoding(name: str) -> SignatureEncoding:
    """A configured name as a signature encoding, or SM2Error naming the choices."""
    for encoding in SIGNATURE_ENCODINGS:
        if encoding == name:
            return encoding
    raise SM2Error(f"SM2 签名编码须为 {'、'.join(SIGNATURE_ENCODINGS)} 之一")


def ciphertext_layout(name: str) -> CiphertextLayout:
    """A configured name as a ciphertext layout, or SM2Error naming the choices."""
    for layout in CIPHERTEXT_LAYOUTS:
        if layout == name:
            return layout
    raise SM2Error(f"SM2 密文格式须为 {'、'.join(CIPHERTEXT_LAYOUTS)} 之一")


def _on_curve(x: int, y: int) -> bool:
    return x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0


@dataclass(frozen=True)
class SM2PublicKey:
    """A point on sm2p256v1, validated on construction (invalid-curve inputs never reach GmSSL)."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not _on_curve(self.x, self.y):
            raise SM2Error("SM2 公钥不是曲线上的点")

    @classmethod
    def from_bytes(cls, raw: bytes) -> SM2PublicKey:
        """Only the 65-byte uncompressed form: one encoding per key keeps kids unambiguous."""
        if len(raw) != POINT_LEN or raw[0] != 0x04:
            raise SM2Error("SM2 公钥必须是 65 字节的非压缩点（04 ‖ x ‖ y）")
        return cls(int.from_bytes(raw[1 : 1 + COORD], "big"), int.from_bytes(raw[1 + COORD :], "big"))

    def to_bytes(self) -> bytes:
        return b"\x04" + self.x.to_bytes(COORD, "big") + self.y.to_bytes(COORD, "big")

    def _gmssl(self) -> bytes:
        return self.to_bytes()[1:]


@dataclass(frozen=True)
class SM2PrivateKey:
    """The scalar d with its public key (gmssl-pyx needs both to sign and cannot derive one from d)."""

    d: bytes = field(repr=False)
    public: SM2PublicKey

    def __post_init__(self) -> None:
        if len(self.d) != COORD or not 1 <= int.from_bytes(self.d, "big") <= N - 2:
            raise SM2Error("SM2 私钥必须是 1..n-2 之间的 32 字节整数")

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(
            private,
            SM2PublicKey(int.from_bytes(public[:COORD], "big"), int.from_bytes(public[COORD:], "big")),
        )

    def public_key(self) -> SM2PublicKey:
        return self.public


# --------------------------------------------------------------------------------------------- DER


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_uint(value: int) -> bytes:
    return _der(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _der_read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """One TLV of the expected tag at ``pos``; only minimal definite lengths are accepted."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise SM2Error("DER 结构不符")
    first, pos = data[pos + 1], pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 2 or pos + count > len(data) or data[pos] == 0:
            raise SM2Error("DER 长度不合法")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        if length < 0x80 or (count == 2 and length < 0x100):
            raise SM2Error("DER 长度不是最短形式")
    if pos + length > len(data):
        raise SM2Error("DER 数据被截断")
    return data[pos : pos + length], pos + length


def _der_read_uint(data: bytes, pos: int) -> tuple[int, int]:
    content, pos = _der_read(data, pos, _INTEGER)
    if not content or content[0] & 0x80 or (len(content) > 1 and content[0] == 0 and content[1] < 0x80):
        raise SM2Error("DER 整数不是最短形式的非负数")
    return int.from_bytes(content, "big"), pos


# ------------------------------------------------------------------------------------------ signing


def sign(private: SM2PrivateKey, data: bytes, *, user_id: str, encoding: SignatureEncoding) -> bytes:
    """SM2 signature over SM3(Z_A ‖ data), Z_A computed from ``user_id`` and the signer's public key."""
    der = gmssl_pyx.sm2_sign(private.d, private.public._gmssl(), data, signer_id=user_id.encode("ascii"))
    return der if encoding == "der" else convert_signature(der, "der", encoding)


def _signature_der(signature: bytes, encoding: SignatureEncoding) -> bytes:
    if encoding == "raw":
        if len(signature) != RAW_SIGNATURE_LEN:
            raise SM2Error("r‖s 签名必须是 64 字节")
        r, s = int.from_bytes(signature[:COORD], "big"), int.from_bytes(signature[COORD:], "big")
    else:
        if len(signature) > MAX_DER_SIGNATURE_LEN:
            raise SM2Error("DER 签名超过 72 字节")
        body, end = _der_read(signature, 0, _SEQUENCE)
        if end != len(signature):
            raise SM2Error("DER 签名后有多余数据")
        r, pos = _der_read_uint(body, 0)
        s, pos = _der_read_uint(body, pos)
        if pos != len(body):
            raise SM2Error("DER 签名结构不符")
    if not (1 <= r < N and 1 <= s < N):
        raise SM2Error("签名值超出范围")
    return encode_dss_signature(r, s)


def verify(
    public: SM2PublicKey, signature: bytes, data: bytes, *, user_id: str, encoding: SignatureEncoding
) -> bool:
    try:
        der = _signature_der(signature, encoding)
    except SM2Error:
        return False
    return bool(gmssl_pyx.sm2_verify(public._gmssl(), data, der, signer_id=user_id.encode("ascii")))


# --------------------------------------------------------------------------------------- encryption


@dataclass(frozen=True)
class _Ciphertext:
    c1: SM2PublicKey  # the ephemeral point
    c3: bytes
    c2: bytes

    def der(self) -> bytes:
        body = (
            _der_uint(self.c1.x)
            + _der_uint(self.c1.y)
            + _der(_OCTET_STRING, self.c3)
            + _der(_OCTET_STRING, self.c2)
        )
        return _der(_SEQUENCE, body)

    def encode(self, layout: CiphertextLayout) -> bytes:
        if layout == "c1c3c2-der":
            return self.der()
        if layout == "c1c3c2":
            return self.c1.to_bytes() + self.c3 + self.c2
        return self.c1.to_bytes() + self.c2 + self.c3

    @classmethod
    def decode(cls, data: bytes, layout: CiphertextLayout) -> _Ciphertext:
        if layout == "c1c3c2-der":
            body, end = _der_read(data, 0, _SEQUENCE)
            if end != len(data):
                raise SM2Error("DER 密文后有多余数据")
            x, pos = _der_read_uint(body, 0)
            y, pos = _der_read_uint(body, pos)
            c3, pos = _der_read(body, pos, _OCTET_STRING)
            c2, pos = _der_read(body, pos, _OCTET_STRING)
            if pos != len(body):
                raise SM2Error("DER 密文结构不符")
            c1 = SM2PublicKey(x, y)
        else:
            if len(data) <= POINT_LEN + HASH_LEN:
                raise SM2Error("SM2 密文过短")
            c1 = SM2PublicKey.from_bytes(data[:POINT_LEN])
            rest = data[POINT_LEN:]
            c3, c2 = (
                (rest[:HASH_LEN], rest[HASH_LEN:])
                if layout == "c1c3c2"
                else (rest[-HASH_LEN:], rest[:-HASH_LEN])
            )
        if len(c3) != HASH_LEN or not 1 <= len(c2) <= MAX_PLAINTEXT:
            raise SM2Error("SM2 密文长度不符")
        return cls(c1, c3, c2)


def encrypt(public: SM2PublicKey, plaintext: bytes, *, layout: CiphertextLayout) -> bytes:
    if not 1 <= len(plaintext) <= MAX_PLAINTEXT:
        raise SM2Error("SM2 加密的明文长度须为 1..255 字节")
    der = gmssl_pyx.sm2_encrypt(public._gmssl(), plaintext)
    return _Ciphertext.decode(der, "c1c3c2-der").encode(layout)


def decrypt(private: SM2PrivateKey, ciphertext: bytes, *, layout: CiphertextLayout) -> bytes:
    """Decrypt, checking C3 (GmSSL does); every failure is the same :class:`SM2Error`."""
    parsed = _Ciphertext.decode(ciphertext, layout)
    try:
        return gmssl_pyx.sm2_decrypt(private.d, parsed.der())
    except gmssl_pyx.GmsslInnerError as exc:
        raise SM2Error("SM2 解密失败") from exc


def convert_ciphertext(data: bytes, src: CiphertextLayout, dst: CiphertextLayout) -> bytes:
    """Re-encode an SM2 ciphertext between layouts (interop checks, and peers that disagree)."""
    return _Ciphertext.decode(data, src).encode(dst)


def convert_signature(signature: bytes, src: SignatureEncoding, dst: SignatureEncoding) -> bytes:
    der = _signature_der(signature, src)
    if dst == "der":
        return der
    r, s = decode_dss_signature(der)
    return r.to_bytes(COORD, "big") + s.to_bytes(COORD, "big")
