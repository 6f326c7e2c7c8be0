"""Key algorithms, looked up by the ``kty`` of a keyring entry, and the Signer / Decrypter seam.

The algorithm of a key is decided by the receiver's own keyring (configuration), never by a field on
the wire: a kid only *selects* an entry. Each key type knows how to generate, encode, store, use and
verify its keys; an entry may carry per-key parameters (for SM2: the signer's user id, the signature
encoding, the ciphertext layout), agreed with the peer and handed over with the public key.

Private-key operations go through :class:`Signer` and :class:`Decrypter`, so a key held in an HSM or a
signature server (GM/T 0018 SDF) can replace the local key without touching the protocol code; the
local-key implementations below are the only ones built.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM
from cryptography.hazmat.primitives.hpke import Suite as HpkeSuite
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from gateway.transfer import sm
from gateway.transfer.errors import FormatError, KeyringError, SignatureError
from gateway.transfer.wire import Fields, b64url, canonical_json, parse_json

# cryptography's key classes share no useful common base across algorithms; each KeyType knows its own.
PrivateKey = Any
PublicKey = Any

DEFAULT_KDF_ROUNDS = 200_000
MAX_KDF_ROUNDS = 10_000_000


class KeyParams(ABC):
    """Per-key agreements that travel with the public key in keyring files."""

    @abstractmethod
    def to_json(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class SM2SignParams(KeyParams):
    user_id: str = sm.DEFAULT_USER_ID
    signature: sm.SignatureEncoding = sm.DEFAULT_SIGNATURE_ENCODING

    def __post_init__(self) -> None:
        if not (1 <= len(self.user_id) <= 128 and self.user_id.isascii() and self.user_id.isprintable()):
            raise FormatError("SM2 用户标识须为 1..128 个可打印 ASCII 字符")
        if self.signature not in sm.SIGNATURE_ENCODINGS:
            raise FormatError(f"SM2 签名编码须为 {'、'.join(sm.SIGNATURE_ENCODINGS)} 之一")

    def to_json(self) -> dict[str, object]:
        return {"user_id": self.user_id, "signature": self.signature}


@dataclass(frozen=True)
class SM2EncryptParams(KeyParams):
    ciphertext: sm.CiphertextLayout = sm.DEFAULT_CIPHERTEXT_LAYOUT

    def __post_init__(self) -> None:
        if self.ciphertext not in sm.CIPHERTEXT_LAYOUTS:
            raise FormatError(f"SM2 密文格式须为 {'、'.join(sm.CIPHERTEXT_LAYOUTS)} 之一")

    def to_json(self) -> dict[str, object]:
        return {"ciphertext": self.ciphertext}


class KeyType(ABC):
    name: ClassVar[str]
    prefix: ClassVar[str]
    use: ClassVar[str]
    public_length: ClassVar[int]
    file_suffix: ClassVar[str]

    @abstractmethod
    def generate(self) -> PrivateKey: ...

    @abstractmethod
    def public_from_raw(self, raw: bytes) -> PublicKey: ...

    @abstractmethod
    def raw_public(self, public: PublicKey) -> bytes: ...

    def kid(self, public: PublicKey) -> str:
        """``<prefix>:`` + b64url(SHA-256(raw public)[:12]) (docs/protocol.md §1): stable, collision-safe."""
        return f"{self.prefix}:{b64url(hashlib.sha256(self.raw_public(public)).digest()[:12])}"

    def default_params(self) -> KeyParams | None:
        return None

    def params_from_json(self, obj: object) -> KeyParams | None:
        """Parse an entry's ``params``; ``obj`` is None when the member is absent."""
        if obj is not None:
            raise FormatError(f"{self.name} 密钥不带 params")
        return None

    @abstractmethod
    def dump_private(
        self, key: PrivateKey, passphrase: bytes | None, rounds: int = DEFAULT_KDF_ROUNDS
    ) -> bytes:
        """The private key file's bytes, encrypted under ``passphrase`` unless it is None. ``rounds`` is
        the passphrase KDF's work factor where the format lets us choose it."""

    @abstractmethod
    def load_private(self, data: bytes, passphrase: bytes | None) -> PrivateKey:
        """Inverse of :meth:`dump_private`; ValueError on a wrong passphrase or a damaged file."""

    @abstractmethod
    def is_encrypted(self, data: bytes) -> bool: ...

    def pair_consistent(self, private: PrivateKey) -> bool:
        """Whether ``private`` belongs to the public key it reports (derived, hence true, unless stored)."""
        return True

    def _params(self, params: KeyParams | None, cls: type[KeyParams]) -> Any:
        if params is None:
            return self.default_params()
        if not isinstance(params, cls):
            raise KeyringError(f"{self.name} 密钥的参数类型不符", code="bad_key_params")
        return params


class SigningKeyType(KeyType):
    use = "sign"

    @abstractmethod
    def sign(self, private: PrivateKey, data: bytes, params: KeyParams | None = None) -> bytes: ...

    @abstractmethod
    def verify(
        self, public: PublicKey, signature: bytes, data: bytes, params: KeyParams | None = None
    ) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is valid over ``data``."""


class EncryptionKeyType(KeyType):
    """Public-key encryption of a short secret (the file key). ``binds_info``: the algorithm takes a
    context string that must match on decryption (HPKE ``info``); SM2 has none and ignores it."""

    use = "encrypt"
    binds_info: ClassVar[bool]

    @abstractmethod
    def encrypt(
        self, public: PublicKey, plaintext: bytes, info: bytes, params: KeyParams | None = None
    ) -> bytes: ...

    @abstractmethod
    def decrypt(
        self, private: PrivateKey, ciphertext: bytes, info: bytes, params: KeyParams | None = None
    ) -> bytes:
        """Raise ValueError (or cryptography's InvalidTag) on any failure, without detail."""


class _Pkcs8(KeyType):
    """PKCS#8 PEM through cryptography, so OpenSSL and HSM import tools read the files.

    Encryption is cryptography's ``BestAvailableEncryption`` (PBES2, PBKDF2-HMAC-SHA256 with a fixed 2048
    rounds, AES-256-CBC); the rounds cannot be raised for PKCS#8, so passphrases must be random secrets
    (docs/protocol.md §6), not words a person chose.
    """

    file_suffix = ".pem"
    _ENCRYPTED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"

    def dump_private(
        self, key: PrivateKey, passphrase: bytes | None, rounds: int = DEFAULT_KDF_ROUNDS
    ) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        )
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def load_private(self, data: bytes, passphrase: bytes | None) -> PrivateKey:
        try:
            return serialization.load_pem_private_key(data, password=passphrase)
        except TypeError as exc:
            raise ValueError("PKCS#8 key") from exc

    def is_encrypted(self, data: bytes) -> bool:
        return data.lstrip().startswith(self._ENCRYPTED)


class X25519(_Pkcs8, EncryptionKeyType):
    """An HPKE recipient: RFC 9180 Base mode, X25519 / HKDF-SHA256 / AES-256-GCM, single-shot."""

    name = "X25519"
    prefix = "x25519"
    public_length = 32
    binds_info = True
    _hpke = HpkeSuite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)

    def generate(self) -> X25519PrivateKey:
        return X25519PrivateKey.generate()

    def public_from_raw(self, raw: bytes) -> X25519PublicKey:
        if len(raw) != self.public_length:
            raise FormatError("X25519 公钥必须是 32 字节")
        return X25519PublicKey.from_public_bytes(raw)

    def raw_public(self, public: X25519PublicKey) -> bytes:
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def encrypt(
        self, public: X25519PublicKey, plaintext: bytes, info: bytes, params: KeyParams | None = None
    ) -> bytes:
        return self._hpke.encrypt(plaintext, public, info=info)

    def decrypt(
        self, private: X25519PrivateKey, ciphertext: bytes, info: bytes, params: KeyParams | None = None
    ) -> bytes:
        return self._hpke.decrypt(ciphertext, private, info=info)


class Ed25519(_Pkcs8, SigningKeyType):
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

    def sign(self, private: Ed25519PrivateKey, data: bytes, params: KeyParams | None = None) -> bytes:
        return private.sign(data)

    def verify(
        self, public: Ed25519PublicKey, signature: bytes, data: bytes, params: KeyParams | None = None
    ) -> None:
        if len(signature) != 64:
            raise SignatureError("Ed25519 签名必须是 64 字节")
        try:
            public.verify(signature, data)
        except InvalidSignature as exc:
            raise SignatureError("签名验证失败：数据被篡改或签名密钥不符") from exc


class _SM2(KeyType):
    """SM2 keys in a small JSON key file, because no library at hand reads or writes SM2 PKCS#8.

    cryptography refuses the SM2 curve and gmssl-pyx exposes no key import/export, so the file is
    canonical JSON ``{v, kty, public, private}``, or, encrypted, ``{v, kty, public, kdf, rounds, salt,
    nonce, sealed}`` where sealed = SM4-GCM(PBKDF2-HMAC-SM3(passphrase, salt, rounds), nonce, d,
    aad = canonical JSON of the other members). The public key is kept because gmssl-pyx cannot derive it.
    """

    public_length = sm.POINT_LEN
    file_suffix = ".json"
    _PLAIN_KEYS = ("v", "kty", "public", "private")
    _SEALED_KEYS = ("v", "kty", "public", "kdf", "rounds", "salt", "nonce", "sealed")
    _KDF = "pbkdf2-hmac-sm3"

    def generate(self) -> sm.SM2PrivateKey:
        return sm.SM2PrivateKey.generate()

    def public_from_raw(self, raw: bytes) -> sm.SM2PublicKey:
        try:
            return sm.SM2PublicKey.from_bytes(raw)
        except sm.SM2Error as exc:
            raise FormatError(str(exc)) from exc

    def raw_public(self, public: sm.SM2PublicKey) -> bytes:
        return public.to_bytes()

    @staticmethod
    def _kek(passphrase: bytes, salt: bytes, rounds: int) -> bytes:
        return PBKDF2HMAC(hashes.SM3(), 16, salt, rounds).derive(passphrase)

    def dump_private(
        self, key: sm.SM2PrivateKey, passphrase: bytes | None, rounds: int = DEFAULT_KDF_ROUNDS
    ) -> bytes:
        head: dict[str, object] = {"v": 1, "kty": self.name, "public": b64url(key.public.to_bytes())}
        if passphrase is None:
            return canonical_json({**head, "private": b64url(key.d)}) + b"\n"
        salt, nonce = os.urandom(16), os.urandom(12)
        head |= {"kdf": self._KDF, "rounds": rounds, "salt": b64url(salt), "nonce": b64url(nonce)}
        encryptor = Cipher(algorithms.SM4(self._kek(passphrase, salt, rounds)), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(canonical_json(head))
        sealed = encryptor.update(key.d) + encryptor.finalize() + encryptor.tag
        return canonical_json({**head, "sealed": b64url(sealed)}) + b"\n"

    def load_private(self, data: bytes, passphrase: bytes | None) -> sm.SM2PrivateKey:
        obj = parse_json(data.rstrip(b"\n"), max_size=4096, where="SM2 私钥文件")
        encrypted = "sealed" in obj
        f = Fields(obj, self._SEALED_KEYS if encrypted else self._PLAIN_KEYS, "SM2 私钥文件")
        if f.int("v") != 1 or f.str("kty") != self.name:
            raise ValueError("SM2 key file version or type")
        public = self.public_from_raw(f.bytes("public", sm.POINT_LEN))
        if not encrypted:
            return sm.SM2PrivateKey(f.bytes("private", sm.COORD), public)
        if passphrase is None or f.str("kdf") != self._KDF:
            raise ValueError("SM2 key file passphrase or KDF")
        rounds, salt, nonce = f.int("rounds", 1, MAX_KDF_ROUNDS), f.bytes("salt", 16), f.bytes("nonce", 12)
        sealed = f.bytes("sealed", sm.COORD + 16)
        head = {k: v for k, v in obj.items() if k != "sealed"}
        kek = self._kek(passphrase, salt, rounds)
        decryptor = Cipher(algorithms.SM4(kek), modes.GCM(nonce, sealed[-16:], min_tag_length=16)).decryptor()
        decryptor.authenticate_additional_data(canonical_json(head))
        try:
            d = decryptor.update(sealed[:-16]) + decryptor.finalize()
        except InvalidTag as exc:
            raise ValueError("SM2 key file does not open") from exc
        return sm.SM2PrivateKey(d, public)

    def is_encrypted(self, data: bytes) -> bool:
        try:
            return "sealed" in parse_json(data.rstrip(b"\n"), max_size=4096, where="SM2 私钥文件")
        except FormatError:
            return False


class SM2Sign(_SM2, SigningKeyType):
    """SM2 signatures with SM3 and Z_A (GB/T 32918.2); user id and encoding from the entry's params."""

    name = "SM2-SIGN"
    prefix = "sm2sig"

    def default_params(self) -> SM2SignParams:
        return SM2SignParams()

    def params_from_json(self, obj: object) -> SM2SignParams:
        if not isinstance(obj, dict):
            raise FormatError(f"{self.name} 密钥必须带 params 对象")
        f = Fields(obj, ("user_id", "signature"), f"{self.name}.params")
        try:
            return SM2SignParams(f.str("user_id", max_len=128), sm.signature_encoding(f.str("signature")))
        except sm.SM2Error as exc:
            raise FormatError(str(exc)) from exc

    def pair_consistent(self, private: sm.SM2PrivateKey) -> bool:
        probe = os.urandom(32)
        return sm.verify(
            private.public,
            sm.sign(private, probe, user_id="probe", encoding="der"),
            probe,
            user_id="probe",
            encoding="der",
        )

    def sign(self, private: sm.SM2PrivateKey, data: bytes, params: KeyParams | None = None) -> bytes:
        p: SM2SignParams = self._params(params, SM2SignParams)
        return sm.sign(private, data, user_id=p.user_id, encoding=p.signature)

    def verify(
        self, public: sm.SM2PublicKey, signature: bytes, data: bytes, params: KeyParams | None = None
    ) -> None:
        p: SM2SignParams = self._params(params, SM2SignParams)
        if not sm.verify(public, signature, data, user_id=p.user_id, encoding=p.signature):
            raise SignatureError("签名验证失败：数据被篡改、签名密钥不符，或 SM2 用户标识/签名编码与约定不符")


class SM2Encrypt(_SM2, EncryptionKeyType):
    """SM2 public-key encryption (GB/T 32918.4) of the file key, the 数字信封 of GM/T 0010."""

    name = "SM2-ENC"
    prefix = "sm2enc"
    binds_info = False

    def default_params(self) -> SM2EncryptParams:
        return SM2EncryptParams()

    def params_from_json(self, obj: object) -> SM2EncryptParams:
        if not isinstance(obj, dict):
            raise FormatError(f"{self.name} 密钥必须带 params 对象")
        f = Fields(obj, ("ciphertext",), f"{self.name}.params")
        try:
            return SM2EncryptParams(sm.ciphertext_layout(f.str("ciphertext")))
        except sm.SM2Error as exc:
            raise FormatError(str(exc)) from exc

    def pair_consistent(self, private: sm.SM2PrivateKey) -> bool:
        probe = os.urandom(16)
        try:
            return (
                sm.decrypt(private, sm.encrypt(private.public, probe, layout="c1c3c2"), layout="c1c3c2")
                == probe
            )
        except sm.SM2Error:
            return False

    def encrypt(
        self, public: sm.SM2PublicKey, plaintext: bytes, info: bytes, params: KeyParams | None = None
    ) -> bytes:
        p: SM2EncryptParams = self._params(params, SM2EncryptParams)
        return sm.encrypt(public, plaintext, layout=p.ciphertext)

    def decrypt(
        self, private: sm.SM2PrivateKey, ciphertext: bytes, info: bytes, params: KeyParams | None = None
    ) -> bytes:
        p: SM2EncryptParams = self._params(params, SM2EncryptParams)
        return sm.decrypt(private, ciphertext, layout=p.ciphertext)


KEY_TYPES: dict[str, KeyType] = {kt.name: kt for kt in (X25519(), Ed25519(), SM2Sign(), SM2Encrypt())}
KEY_TYPES_BY_PREFIX: dict[str, KeyType] = {kt.prefix: kt for kt in KEY_TYPES.values()}


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


def encryption_key_type(name: str) -> EncryptionKeyType:
    kt = key_type(name)
    if not isinstance(kt, EncryptionKeyType):
        raise KeyringError(f"密钥类型 {name} 不能用于加密", code="wrong_key_use")
    return kt


# ------------------------------------------------------------------------------- the HSM seam


@runtime_checkable
class Signer(Protocol):
    """Signs with one private key; returns the signature in the key's agreed wire encoding."""

    @property
    def kid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@runtime_checkable
class Decrypter(Protocol):
    """Decrypts a wrapped file key with one private key (HPKE open with ``info``; SM2 ignores ``info``)."""

    @property
    def kid(self) -> str: ...

    def decrypt(self, ciphertext: bytes, info: bytes) -> bytes: ...


@dataclass(frozen=True)
class LocalSigner:
    kid: str
    key_type: SigningKeyType
    private: PrivateKey = field(repr=False)
    params: KeyParams | None = None

    def sign(self, data: bytes) -> bytes:
        return self.key_type.sign(self.private, data, self.params)


@dataclass(frozen=True)
class LocalDecrypter:
    kid: str
    key_type: EncryptionKeyType
    private: PrivateKey = field(repr=False)
    params: KeyParams | None = None

    def decrypt(self, ciphertext: bytes, info: bytes) -> bytes:
        return self.key_type.decrypt(self.private, ciphertext, info, self.params)


def as_signer(key: Signer | PrivateKey, kty: str | None, kid: str) -> Signer:
    """``key`` itself if it is a :class:`Signer`; else a bare private key of type ``kty``, wrapped."""
    if isinstance(key, Signer):
        if key.kid != kid:
            raise KeyringError(f"签名者的密钥 {key.kid} 与声明的 {kid} 不符", code="wrong_signer")
        return key
    if kty is None:
        raise KeyringError("裸私钥签名需要指明密钥类型", code="unsupported_key_type")
    return LocalSigner(kid, signing_key_type(kty), key)
