"""HPKE and SM2 with their randomness fixed, for making test vectors only (tests/vectors/make_cases.py).

The libraries draw HPKE's ephemeral key (cryptography) and SM2's k (GmSSL) themselves, so a vector made
with them cannot be made again byte for byte. These small implementations take that randomness as an
argument instead, so the case generator is deterministic; every output is checked against the libraries
(cryptography's HPKE opens it, gmssl-pyx decrypts and verifies it) before it is written.

Never use this outside test vectors: k is derived from the key and the message (like RFC 6979, without its
care), the arithmetic is not constant-time, and nothing here is hardened.

Sources: RFC 9180 §4 (LabeledExtract/Expand), §4.1 (DHKEM), §5.1 (key schedule), §5.2 (single-shot seal);
GB/T 32918.2 §6.1 (SM2 signature with Z_A), GB/T 32918.4 §6.1 (SM2 encryption, C1 ‖ C3 ‖ C2),
GB/T 32918.5 (the curve sm2p256v1).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

# ------------------------------------------------------------------------------------------ HPKE

_KEM_SUITE = b"KEM" + (0x0020).to_bytes(2, "big")
_HPKE_SUITE = (
    b"HPKE" + (0x0020).to_bytes(2, "big") + (0x0001).to_bytes(2, "big") + (0x0002).to_bytes(2, "big")
)


def _labeled_extract(salt: bytes, label: bytes, ikm: bytes, suite: bytes) -> bytes:
    # HKDF-Extract with an empty salt is HMAC under a zero key; HMAC pads an empty key with zeros anyway.
    return hmac.new(salt, b"HPKE-v1" + suite + label + ikm, hashlib.sha256).digest()


def _labeled_expand(prk: bytes, label: bytes, info: bytes, length: int, suite: bytes) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def hpke_seal(recipient: X25519PublicKey, info: bytes, plaintext: bytes, ephemeral: bytes) -> bytes:
    """RFC 9180 Base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, single shot, aad = "":
    returns enc ‖ ciphertext, as ``cryptography.hazmat.primitives.hpke.Suite.encrypt`` does."""
    sk_e = X25519PrivateKey.from_private_bytes(ephemeral)
    enc = _raw(sk_e.public_key())
    dh = sk_e.exchange(recipient)
    eae_prk = _labeled_extract(b"", b"eae_prk", dh, _KEM_SUITE)
    shared = _labeled_expand(eae_prk, b"shared_secret", enc + _raw(recipient), 32, _KEM_SUITE)
    psk_id_hash = _labeled_extract(b"", b"psk_id_hash", b"", _HPKE_SUITE)
    info_hash = _labeled_extract(b"", b"info_hash", info, _HPKE_SUITE)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(shared, b"secret", b"", _HPKE_SUITE)
    key = _labeled_expand(secret, b"key", context, 32, _HPKE_SUITE)
    nonce = _labeled_expand(secret, b"base_nonce", context, 12, _HPKE_SUITE)
    return enc + AESGCM(key).encrypt(nonce, plaintext, b"")


# ------------------------------------------------------------------------------------------- SM2

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
Point = tuple[int, int] | None


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    # The tangent's slope when doubling, the chord's otherwise.
    lam = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P if p1 == p2 else (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def mul(k: int, point: Point = G) -> tuple[int, int]:
    result: Point = None
    addend = point
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        k >>= 1
    assert result is not None
    return result


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _b32(n: int) -> bytes:
    return n.to_bytes(32, "big")


def point_bytes(point: tuple[int, int]) -> bytes:
    return b"\x04" + _b32(point[0]) + _b32(point[1])


def sm2_private(label: str) -> tuple[bytes, bytes]:
    """(d, 04 ‖ x ‖ y) for a fixed label: 1 ≤ d ≤ n − 2, as the library requires."""
    d = int.from_bytes(hashlib.sha256(f"gwenv1 case sm2 key {label}".encode()).digest(), "big") % (N - 2) + 1
    return _b32(d), point_bytes(mul(d))


def _k(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"gwenv1 case k" + b"".join(parts)).digest(), "big") % (N - 1) + 1


def z_a(user_id: str, public: bytes) -> bytes:
    ident = user_id.encode("ascii")
    entl = (8 * len(ident)).to_bytes(2, "big")
    return _sm3(entl + ident + _b32(A) + _b32(B) + _b32(G[0]) + _b32(G[1]) + public[1:])


def sm2_sign_rs(d: bytes, public: bytes, message: bytes, user_id: str) -> tuple[int, int]:
    """(r, s) over SM3(Z_A ‖ message), with k derived from d and the message."""
    e = int.from_bytes(_sm3(z_a(user_id, public) + message), "big")
    dn = int.from_bytes(d, "big")
    k = _k(d, message)
    while True:
        x1, _ = mul(k)
        r = (e + x1) % N
        s = pow(1 + dn, -1, N) * (k - r * dn) % N
        if r and r + k != N and s:
            return r, s
        k = k % (N - 1) + 1  # practically unreachable; keeps the function total


def _kdf(z: bytes, length: int) -> bytes:
    out = b""
    counter = 1
    while len(out) < length:
        out += _sm3(z + counter.to_bytes(4, "big"))
        counter += 1
    return out[:length]


def sm2_encrypt_parts(public: bytes, message: bytes) -> tuple[bytes, bytes, bytes]:
    """(C1 = 04 ‖ x ‖ y, C3, C2) with k derived from the recipient and the message."""
    point = (int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big"))
    k = _k(public, message)
    c1 = point_bytes(mul(k))
    x2, y2 = mul(k, point)
    t = _kdf(_b32(x2) + _b32(y2), len(message))
    assert any(t)
    c2 = bytes(a ^ b for a, b in zip(message, t, strict=True))
    c3 = _sm3(_b32(x2) + message + _b32(y2))
    return c1, c3, c2


# ------------------------------------------------------------------------------------ DER helpers


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + der_length(len(content)) + content


def der_uint(value: int) -> bytes:
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def der_signature(r: int, s: int) -> bytes:
    return der(0x30, der_uint(r) + der_uint(s))


def der_ciphertext(c1: bytes, c3: bytes, c2: bytes) -> bytes:
    x, y = int.from_bytes(c1[1:33], "big"), int.from_bytes(c1[33:], "big")
    return der(0x30, der_uint(x) + der_uint(y) + der(0x04, c3) + der(0x04, c2))
