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
import hmac
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM
from cryptography.hazmat.primitives.hpke import Suite as HpkeSuite
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from gateway.transfer import pkcs8, sm
from gateway.transfer.errors import FormatError, KeyringError, SignatureError
from gateway.transfer.keyprotect import (
    MAX_PBKDF2_ROUNDS,
    PRODUCTION_COST,
    DamagedKeyFile,
    Protection,
    ScryptCost,
    WrongPassphrase,
    check_scrypt_params,
    scrypt_derive,
)
from gateway.transfer.wire import Fields, b64url, canonical_json, parse_json

# cryptography's key classes share no useful common base across algorithms; each KeyType knows its own.
PrivateKey = Any
PublicKey = Any


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
        self, key: PrivateKey, passphrase: bytes | None, cost: ScryptCost = PRODUCTION_COST
    ) -> bytes:
        """The private key file's bytes, encrypted under ``passphrase`` with scrypt at ``cost`` unless the
        passphrase is None (clear text)."""

    @abstractmethod
    def load_private(self, data: bytes, passphrase: bytes | None) -> PrivateKey:
        """Inverse of :meth:`dump_private`, for this release's files and earlier ones.

        Raises :class:`WrongPassphrase` when the passphrase does not open the file and
        :class:`DamagedKeyFile` when the file is not one we read or was altered."""

    @abstractmethod
    def protection(self, data: bytes) -> Protection:
        """How the file is protected, read without the passphrase; :class:`DamagedKeyFile` if unreadable."""

    def is_encrypted(self, data: bytes) -> bool:
        try:
            return self.protection(data).encrypted
        except DamagedKeyFile:
            return False

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
    """PKCS#8 PEM, so OpenSSL and HSM import tools read the files.

    Encrypted: PBES2 with scrypt at the store's cost and AES-256-CBC, written and read by
    :mod:`gateway.transfer.pkcs8` (cryptography 50 writes PKCS#8 only with PBKDF2 at 2048 rounds). Files of
    earlier releases (that PBKDF2 form) still open; ``gateway keys reencrypt`` or a rotation rewrites them.
    """

    file_suffix = ".pem"

    def dump_private(
        self, key: PrivateKey, passphrase: bytes | None, cost: ScryptCost = PRODUCTION_COST
    ) -> bytes:
        if passphrase is None:
            return key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        info = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pkcs8.pem(pkcs8.encrypt(info, passphrase, cost))

    def _unpem(self, data: bytes) -> tuple[bool, bytes]:
        label, der = pkcs8.unpem(data)
        if label not in (pkcs8.ENCRYPTED_LABEL, pkcs8.PLAIN_LABEL):
            raise DamagedKeyFile(f"PEM label {label!r} is not a PKCS#8 private key")
        return label == pkcs8.ENCRYPTED_LABEL, der

    def protection(self, data: bytes) -> Protection:
        encrypted, der = self._unpem(data)
        return pkcs8.protection(der) if encrypted else Protection("plaintext")

    def load_private(self, data: bytes, passphrase: bytes | None) -> PrivateKey:
        encrypted, der = self._unpem(data)
        if not encrypted:
            try:
                return serialization.load_der_private_key(der, password=None)
            except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
                raise DamagedKeyFile("the PrivateKeyInfo does not parse") from exc
        if passphrase is None:
            raise WrongPassphrase(certain=True)
        info = pkcs8.decrypt(der, passphrase)
        try:
            return serialization.load_der_private_key(info, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            # The padding happened to look right (1 in 256 for a wrong key); the content says otherwise.
            raise WrongPassphrase(certain=False) from exc


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

    cryptography refuses the SM2 curve and gmssl-pyx exposes no key import/export, so the file is canonical
    JSON (docs/protocol.md §6 specifies it completely). Encrypted (v 2)::

        {"check", "kdf": "scrypt", "kty", "n", "nonce", "p", "public", "r", "salt", "sealed", "v": 2}

    K = scrypt(passphrase, salt, N=n, r, p, dkLen=32); the SM4 key is K[0:16] and ``check`` = K[16:32],
    which tells a wrong passphrase (check differs) from an altered file (check right, tag wrong), as the
    password verification value of WinZip's AES format does. sealed = SM4-GCM(K[0:16], nonce, d) with the
    16-byte tag appended, AAD = canonical JSON of every member but ``sealed``. Clear text (v 1):
    ``{kty, private, public, v}``. Earlier releases wrote v 1 sealed files (PBKDF2-HMAC-SM3, no check
    value); they still open. The public key is kept because gmssl-pyx cannot derive it.
    """

    public_length = sm.POINT_LEN
    file_suffix = ".json"
    _PLAIN_KEYS = ("v", "kty", "public", "private")
    _V1_SEALED_KEYS = ("v", "kty", "public", "kdf", "rounds", "salt", "nonce", "sealed")
    _V2_KEYS = ("v", "kty", "public", "kdf", "n", "r", "p", "salt", "check", "nonce", "sealed")
    _V1_KDF = "pbkdf2-hmac-sm3"
    _KDF = "scrypt"
    _SALT, _NONCE, _TAG, _KEY, _CHECK = 16, 12, 16, 16, 16
    _MAX_FILE = 4096

    def generate(self) -> sm.SM2PrivateKey:
        return sm.SM2PrivateKey.generate()

    def public_from_raw(self, raw: bytes) -> sm.SM2PublicKey:
        try:
            return sm.SM2PublicKey.from_bytes(raw)
        except sm.SM2Error as exc:
            raise FormatError(str(exc)) from exc

    def raw_public(self, public: sm.SM2PublicKey) -> bytes:
        return public.to_bytes()

    def dump_private(
        self, key: sm.SM2PrivateKey, passphrase: bytes | None, cost: ScryptCost = PRODUCTION_COST
    ) -> bytes:
        head: dict[str, object] = {"kty": self.name, "public": b64url(key.public.to_bytes())}
        if passphrase is None:
            return canonical_json({**head, "v": 1, "private": b64url(key.d)}) + b"\n"
        salt, nonce = os.urandom(self._SALT), os.urandom(self._NONCE)
        derived = cost.derive(passphrase, salt, self._KEY + self._CHECK)
        head |= {
            "v": 2,
            "kdf": self._KDF,
            "n": cost.n,
            "r": cost.r,
            "p": cost.p,
            "salt": b64url(salt),
            "check": b64url(derived[self._KEY :]),
            "nonce": b64url(nonce),
        }
        encryptor = Cipher(algorithms.SM4(derived[: self._KEY]), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(canonical_json(head))
        sealed = encryptor.update(key.d) + encryptor.finalize() + encryptor.tag
        return canonical_json({**head, "sealed": b64url(sealed)}) + b"\n"

    def _fields(self, data: bytes) -> tuple[Fields, dict[str, object]]:
        """The file's members, checked for their exact set by version; DamagedKeyFile otherwise."""
        try:
            obj = parse_json(data.rstrip(b"\n"), max_size=self._MAX_FILE, where="SM2 私钥文件")
            version = obj.get("v")
            if version == 2:
                keys: tuple[str, ...] = self._V2_KEYS
            elif version == 1:
                keys = self._V1_SEALED_KEYS if "sealed" in obj else self._PLAIN_KEYS
            else:
                raise DamagedKeyFile(f"SM2 key file version {version!r} is not 1 or 2")
            f = Fields(obj, keys, "SM2 私钥文件")
            if f.str("kty") != self.name:
                raise DamagedKeyFile(f"the key file holds a {f.str('kty')} key, not {self.name}")
        except FormatError as exc:
            raise DamagedKeyFile(exc.message) from exc
        return f, obj

    def protection(self, data: bytes) -> Protection:
        f, obj = self._fields(data)
        try:
            if obj["v"] == 2:
                if f.str("kdf") != self._KDF:
                    raise DamagedKeyFile(f"SM2 key file kdf {f.str('kdf')!r} is not {self._KDF!r}")
                n, r, p = f.int("n", 2, 1 << 30), f.int("r", 1, 64), f.int("p", 1, 64)
                check_scrypt_params(n, r, p)
                return Protection("scrypt", n=n, r=r, p=p)
            if "sealed" in obj:
                if f.str("kdf") != self._V1_KDF:
                    raise DamagedKeyFile(f"SM2 key file kdf {f.str('kdf')!r} is not {self._V1_KDF!r}")
                return Protection(self._V1_KDF, rounds=f.int("rounds", 1, MAX_PBKDF2_ROUNDS))
        except FormatError as exc:
            raise DamagedKeyFile(exc.message) from exc
        return Protection("plaintext")

    def load_private(self, data: bytes, passphrase: bytes | None) -> sm.SM2PrivateKey:
        protection = self.protection(data)
        f, obj = self._fields(data)
        try:
            public = self.public_from_raw(f.bytes("public", sm.POINT_LEN))
            if not protection.encrypted:
                d = f.bytes("private", sm.COORD)
            elif passphrase is None:
                raise WrongPassphrase(certain=True)
            else:
                salt, nonce = f.bytes("salt", self._SALT), f.bytes("nonce", self._NONCE)
                sealed = f.bytes("sealed", sm.COORD + self._TAG)
                head = canonical_json({k: v for k, v in obj.items() if k != "sealed"})
                if protection.scheme == "scrypt":
                    check = f.bytes("check", self._CHECK)
                    derived = scrypt_derive(
                        passphrase, salt, protection.n, protection.r, protection.p, self._KEY + self._CHECK
                    )
                    if not hmac.compare_digest(derived[self._KEY :], check):
                        raise WrongPassphrase(certain=True)
                    d = self._open(derived[: self._KEY], nonce, sealed, head, altered=True)
                else:
                    kek = PBKDF2HMAC(hashes.SM3(), self._KEY, salt, protection.rounds).derive(passphrase)
                    d = self._open(kek, nonce, sealed, head, altered=False)
            return sm.SM2PrivateKey(d, public)
        except (FormatError, sm.SM2Error) as exc:
            raise DamagedKeyFile(str(exc)) from exc

    def _open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes, *, altered: bool) -> bytes:
        """SM4-GCM open. ``altered``: the passphrase was already verified, so a failed tag means the file
        was changed; without that check (v 1) a failed tag most likely means a wrong passphrase."""
        tag = sealed[-self._TAG :]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag, min_tag_length=self._TAG)).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(sealed[: -self._TAG]) + decryptor.finalize()
        except InvalidTag as exc:
            if altered:
                raise DamagedKeyFile("the SM2 key file was altered (the GCM tag does not verify)") from exc
            raise WrongPassphrase(certain=False) from exc


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
