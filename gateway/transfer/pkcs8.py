"""Encrypted PKCS#8 (RFC 5958 ``EncryptedPrivateKeyInfo``): PBES2 (RFC 8018 §6.2) with scrypt (RFC 7914 §7).

cryptography writes encrypted PKCS#8 only through ``BestAvailableEncryption``, which in the installed
release (50.0) is PBES2 with PBKDF2-HMAC-SHA256 at a fixed 2048 rounds, and offers no builder for PKCS#8
(``PrivateFormat.PKCS8.encryption_builder()`` raises "only supported with PrivateFormat.OpenSSH and
PrivateFormat.PKCS12"). So the container is written here, in the form ``openssl pkcs8 -topk8 -scrypt``
writes and OpenSSL and cryptography read::

    EncryptedPrivateKeyInfo ::= SEQUENCE {
      encryptionAlgorithm SEQUENCE { id-PBES2 (1.2.840.113549.1.5.13),
        PBES2-params SEQUENCE {
          keyDerivationFunc SEQUENCE { id-scrypt (1.3.6.1.4.1.11591.4.11),
            scrypt-params SEQUENCE { salt OCTET STRING (16), costParameter INTEGER (N),
                                     blockSize INTEGER (r), parallelizationParameter INTEGER (p) } },
          encryptionScheme SEQUENCE { aes256-CBC (2.16.840.1.101.3.4.1.42), iv OCTET STRING (16) } } },
      encryptedData OCTET STRING }
    -- encryptedData = AES-256-CBC(key = scrypt(passphrase, salt, N, r, p) → 32 bytes, iv,
    --                             PKCS#7-padded DER PrivateKeyInfo)

and decrypted here too, so that a damaged structure (a "corrupt file") is told apart from a passphrase that
does not open it, and a file cannot ask for an unbounded KDF. Reading also accepts what earlier releases and
OpenSSL's defaults wrote: PBES2 with PBKDF2 (HMAC-SHA1, -SHA256 or -SHA512) and AES-128/192/256-CBC.
PBES2 has no integrity check: a wrong passphrase shows as bad padding or as a PrivateKeyInfo that does not
parse, and so does a damaged ciphertext; the caller's kid check catches anything else.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from gateway.transfer.keyprotect import (
    MAX_PBKDF2_ROUNDS,
    DamagedKeyFile,
    Protection,
    ScryptCost,
    WrongPassphrase,
    check_scrypt_params,
    scrypt_derive,
)

SALT_LEN = 16
IV_LEN = 16
MAX_SALT = 64
MAX_INT = 1 << 32
ENCRYPTED_LABEL = "ENCRYPTED PRIVATE KEY"
PLAIN_LABEL = "PRIVATE KEY"
_PEM = re.compile(rb"\s*-----BEGIN ([A-Z ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)\r?\n?-----END \1-----\s*")

_SEQUENCE, _INTEGER, _OCTET_STRING, _OID, _NULL = 0x30, 0x02, 0x04, 0x06, 0x05


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body.extend(reversed(chunk))
    return bytes(body)


def _oid_text(body: bytes) -> str:
    arcs, value = [], 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return "?"
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


PBES2 = _oid("1.2.840.113549.1.5.13")
SCRYPT = _oid("1.3.6.1.4.1.11591.4.11")
PBKDF2 = _oid("1.2.840.113549.1.5.12")
_PRFS = {
    _oid("1.2.840.113549.2.7"): ("sha1", hashes.SHA1),
    _oid("1.2.840.113549.2.9"): ("sha256", hashes.SHA256),
    _oid("1.2.840.113549.2.11"): ("sha512", hashes.SHA512),
}
_DEFAULT_PRF = _oid("1.2.840.113549.2.7")  # RFC 8018 Appendix A.2: hmacWithSHA1 when prf is absent
AES256_CBC = _oid("2.16.840.1.101.3.4.1.42")
_CIPHERS = {_oid("2.16.840.1.101.3.4.1.2"): 16, _oid("2.16.840.1.101.3.4.1.22"): 24, AES256_CBC: 32}


# ------------------------------------------------------------------------------------------------ DER


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _uint(value: int) -> bytes:
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


class _Reader:
    """Sequential reading of DER TLVs (definite lengths only), each failure a :class:`DamagedKeyFile`."""

    def __init__(self, data: bytes, where: str) -> None:
        self.data, self.pos, self.where = data, 0, where

    def at_end(self) -> bool:
        return self.pos == len(self.data)

    def peek(self) -> int | None:
        return None if self.at_end() else self.data[self.pos]

    def read(self, tag: int) -> bytes:
        data, pos = self.data, self.pos
        if pos + 2 > len(data) or data[pos] != tag:
            raise DamagedKeyFile(f"{self.where}: expected DER tag 0x{tag:02x}")
        first, pos = data[pos + 1], pos + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise DamagedKeyFile(f"{self.where}: bad DER length")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + length > len(data):
            raise DamagedKeyFile(f"{self.where}: truncated")
        self.pos = pos + length
        return data[pos : pos + length]

    def sequence(self, where: str) -> _Reader:
        return _Reader(self.read(_SEQUENCE), where)

    def uint(self, name: str) -> int:
        body = self.read(_INTEGER)
        if not body or body[0] & 0x80 or len(body) > 8:
            raise DamagedKeyFile(f"{self.where}: {name} is not a small non-negative INTEGER")
        return int.from_bytes(body, "big")

    def end(self) -> None:
        if not self.at_end():
            raise DamagedKeyFile(f"{self.where}: unexpected trailing data")


# ------------------------------------------------------------------------------------------------ PEM


def pem(der: bytes, label: str = ENCRYPTED_LABEL) -> bytes:
    """RFC 7468 textual encoding: base64 in 64-character lines."""
    text = base64.b64encode(der).decode("ascii")
    body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode("ascii")


def unpem(data: bytes) -> tuple[str, bytes]:
    """The label and DER of a single-block PEM file."""
    match = _PEM.fullmatch(data)
    if match is None:
        raise DamagedKeyFile("not a PEM file with one BEGIN/END block")
    try:
        der = base64.b64decode(re.sub(rb"\s", b"", match.group(2)), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DamagedKeyFile("PEM body is not base64") from exc
    return match.group(1).decode("ascii"), der


# ---------------------------------------------------------------------------------------------- PBES2


def encrypt(private_key_info: bytes, passphrase: bytes, cost: ScryptCost) -> bytes:
    """DER ``EncryptedPrivateKeyInfo`` of a DER ``PrivateKeyInfo``, PBES2 scrypt + AES-256-CBC."""
    salt, iv = os.urandom(SALT_LEN), os.urandom(IV_LEN)
    key = cost.derive(passphrase, salt, 32)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(private_key_info) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padded) + encryptor.finalize()
    kdf = _tlv(
        _SEQUENCE,
        _tlv(_OID, SCRYPT)
        + _tlv(_SEQUENCE, _tlv(_OCTET_STRING, salt) + _uint(cost.n) + _uint(cost.r) + _uint(cost.p)),
    )
    scheme = _tlv(_SEQUENCE, _tlv(_OID, AES256_CBC) + _tlv(_OCTET_STRING, iv))
    algorithm = _tlv(_SEQUENCE, _tlv(_OID, PBES2) + _tlv(_SEQUENCE, kdf + scheme))
    return _tlv(_SEQUENCE, algorithm + _tlv(_OCTET_STRING, sealed))


class _Parsed:
    """An ``EncryptedPrivateKeyInfo`` taken apart: what to derive, how to decrypt, what."""

    def __init__(self, der: bytes) -> None:
        outer = _Reader(der, "EncryptedPrivateKeyInfo")
        top = outer.sequence("EncryptedPrivateKeyInfo")
        outer.end()
        algorithm = top.sequence("encryptionAlgorithm")
        oid = algorithm.read(_OID)
        if oid != PBES2:
            raise DamagedKeyFile(f"unsupported encryption {_oid_text(oid)} (only PBES2 is read)")
        params = algorithm.sequence("PBES2-params")
        algorithm.end()
        self._kdf(params.sequence("keyDerivationFunc"))
        scheme = params.sequence("encryptionScheme")
        params.end()
        cipher = scheme.read(_OID)
        if cipher not in _CIPHERS:
            raise DamagedKeyFile(f"unsupported cipher {_oid_text(cipher)} (AES-CBC only)")
        self.key_len = _CIPHERS[cipher]
        if self.declared_len not in (None, self.key_len):
            raise DamagedKeyFile("keyLength does not match the cipher")
        self.iv = scheme.read(_OCTET_STRING)
        scheme.end()
        if len(self.iv) != IV_LEN:
            raise DamagedKeyFile("AES-CBC IV is not 16 bytes")
        self.sealed = top.read(_OCTET_STRING)
        top.end()
        if not self.sealed or len(self.sealed) % 16:
            raise DamagedKeyFile("encryptedData is not a whole number of AES blocks")

    def _kdf(self, kdf: _Reader) -> None:
        oid = kdf.read(_OID)
        self.declared_len: int | None = None
        if oid == SCRYPT:
            params = kdf.sequence("scrypt-params")
            kdf.end()
            self.salt = params.read(_OCTET_STRING)
            self.n, self.r, self.p = params.uint("N"), params.uint("r"), params.uint("p")
            if not params.at_end():
                self.declared_len = params.uint("keyLength")
            params.end()
            check_scrypt_params(self.n, self.r, self.p)
            self.protection = Protection("scrypt", n=self.n, r=self.r, p=self.p)
        elif oid == PBKDF2:
            params = kdf.sequence("PBKDF2-params")
            kdf.end()
            self.salt = params.read(_OCTET_STRING)
            self.rounds = params.uint("iterationCount")
            if params.peek() == _INTEGER:
                self.declared_len = params.uint("keyLength")
            prf = _DEFAULT_PRF
            if not params.at_end():
                prf_id = params.sequence("prf")
                prf = prf_id.read(_OID)
                if not prf_id.at_end():
                    prf_id.read(_NULL)
                prf_id.end()
            params.end()
            if prf not in _PRFS:
                raise DamagedKeyFile(f"unsupported PBKDF2 PRF {_oid_text(prf)}")
            if not 1 <= self.rounds <= MAX_PBKDF2_ROUNDS:
                raise DamagedKeyFile(f"PBKDF2 iteration count {self.rounds} out of range")
            name, self.hash = _PRFS[prf]
            self.protection = Protection(f"pbkdf2-hmac-{name}", rounds=self.rounds)
        else:
            raise DamagedKeyFile(f"unsupported key derivation {_oid_text(oid)} (scrypt or PBKDF2)")
        if not 1 <= len(self.salt) <= MAX_SALT:
            raise DamagedKeyFile("KDF salt length out of range")

    def key(self, passphrase: bytes) -> bytes:
        if self.protection.scheme == "scrypt":
            return scrypt_derive(passphrase, self.salt, self.n, self.r, self.p, self.key_len)
        return PBKDF2HMAC(self.hash(), self.key_len, self.salt, self.rounds).derive(passphrase)


def protection(der: bytes) -> Protection:
    """How an ``EncryptedPrivateKeyInfo`` is protected; :class:`DamagedKeyFile` if it is not one we read."""
    return _Parsed(der).protection


def decrypt(der: bytes, passphrase: bytes) -> bytes:
    """The DER ``PrivateKeyInfo`` inside; :class:`WrongPassphrase` (never certain) if the padding is wrong.

    The caller must still parse the result: a wrong passphrase passes the padding check about once in
    256 tries and then yields bytes that are no ``PrivateKeyInfo``."""
    parsed = _Parsed(der)
    decryptor = Cipher(algorithms.AES(parsed.key(passphrase)), modes.CBC(parsed.iv)).decryptor()
    padded = decryptor.update(parsed.sealed) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise WrongPassphrase(certain=False) from exc
