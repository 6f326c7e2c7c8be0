"""Key algorithms, looked up by the ``kty`` of a keyring entry.

The algorithm of a key is decided by the receiver's own keyring (configuration), never by a field on
the wire: a kid only *selects* an entry. A new suite (国密 SM2, issue #4) adds its key types here and
nothing in the framing changes.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from gateway.transfer.errors import FormatError, KeyringError, SignatureError
from gateway.transfer.wire import b64url

# cryptography's key classes share no useful common base across algorithms; each KeyType knows its own.
PrivateKey = Any
PublicKey = Any


class KeyType(ABC):
    name: ClassVar[str]
    prefix: ClassVar[str]
    use: ClassVar[str]
    public_length: ClassVar[int]

    @abstractmethod
    def generate(self) -> PrivateKey: ...

    @abstractmethod
    def public_from_raw(self, raw: bytes) -> PublicKey: ...

    @abstractmethod
    def raw_public(self, public: PublicKey) -> bytes: ...

    def kid(self, public: PublicKey) -> str:
        """``<prefix>:`` + b64url(SHA-256(raw public)[:12]) (transfer.md §3): stable, collision-safe."""
        return f"{self.prefix}:{b64url(hashlib.sha256(self.raw_public(public)).digest()[:12])}"


class SigningKeyType(KeyType):
    use = "sign"

    @abstractmethod
    def sign(self, private: PrivateKey, data: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, public: PublicKey, signature: bytes, data: bytes) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is valid over ``data``."""


class X25519(KeyType):
    name = "X25519"
    prefix = "x25519"
    use = "encrypt"
    public_length = 32

    def generate(self) -> X25519PrivateKey:
        return X25519PrivateKey.generate()

    def public_from_raw(self, raw: bytes) -> X25519PublicKey:
        if len(raw) != self.public_length:
            raise FormatError("X25519 公钥必须是 32 字节")
        return X25519PublicKey.from_public_bytes(raw)

    def raw_public(self, public: X25519PublicKey) -> bytes:
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Ed25519(SigningKeyType):
    name = "Ed25519"
    prefix = "ed25519"
    public_length = 32

    def generate(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.generate()

    def public_from_raw(self, raw: bytes) -> Ed25519PublicKey:
        if len(raw) != self.public_length:
            raise FormatError("Ed25519 公钥必须是 32 字节")
        return Ed25519PublicKey.from_public_bytes(raw)

    def raw_public(self, public: Ed25519PublicKey) -> bytes:
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, private: Ed25519PrivateKey, data: bytes) -> bytes:
        return private.sign(data)

    def verify(self, public: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
        if len(signature) != 64:
            raise SignatureError("Ed25519 签名必须是 64 字节")
        try:
            public.verify(signature, data)
        except InvalidSignature as exc:
            raise SignatureError("签名验证失败：数据被篡改或签名密钥不符") from exc


KEY_TYPES: dict[str, KeyType] = {kt.name: kt for kt in (X25519(), Ed25519())}


def key_type(name: str) -> KeyType:
    try:
        return KEY_TYPES[name]
    except KeyError:
        raise KeyringError(f"不支持的密钥类型 {name!r}", code="unsupported_key_type") from None


def signing_key_type(name: str) -> SigningKeyType:
    kt = key_type(name)
    if not isinstance(kt, SigningKeyType):
        raise KeyringError(f"密钥类型 {name} 不能用于签名", code="wrong_key_use")
    return kt
