"""One party's key directory: ``keyring.json`` (public keys) and ``private/<kid>.pem`` (its own secrets).

Private keys are PKCS#8 PEM. When the party's passphrase variable (GATEWAY_KEY_PASSPHRASE for a sender,
HUB_KEY_PASSPHRASE for the hub) is set they are written encrypted; otherwise they are written in clear
with mode 0600 and refused on load if anyone but the owner can read them, as ssh does. Issue #4 makes
encryption mandatory: that change is confined to :meth:`KeyStore.passphrase` and :meth:`write_private`.
Passphrases and key material are never put in messages or logs.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from gateway.transfer.errors import KeyringError
from gateway.transfer.keyring import KeyEntry, Keyring
from gateway.transfer.keytypes import PrivateKey

GATEWAY_PASSPHRASE_ENV = "GATEWAY_KEY_PASSPHRASE"
HUB_PASSPHRASE_ENV = "HUB_KEY_PASSPHRASE"
KEYRING_FILE = "keyring.json"
PRIVATE_DIR = "private"
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


@dataclass(frozen=True)
class KeyStore:
    root: Path
    passphrase_env: str

    @property
    def keyring_path(self) -> Path:
        return self.root / KEYRING_FILE

    def load_keyring(self) -> Keyring:
        return Keyring.load(self.keyring_path)

    def private_path(self, kid: str) -> Path:
        # ":" is not portable in file names; kids are otherwise base64url and path-safe.
        return self.root / PRIVATE_DIR / (kid.replace(":", "_") + ".pem")

    def has_private(self, kid: str) -> bool:
        return self.private_path(kid).is_file()

    def passphrase(self) -> bytes | None:
        value = os.environ.get(self.passphrase_env)
        return value.encode("utf-8") if value else None

    def write_private(self, entry: KeyEntry, key: PrivateKey) -> Path:
        passphrase = self.passphrase()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        )
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        path = self.private_path(entry.kid)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL: never overwrite an existing private key; 0600 from creation, not chmod'ed afterwards.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return path

    def load_private(self, entry: KeyEntry) -> PrivateKey:
        path = self.private_path(entry.kid)
        try:
            pem = path.read_bytes()
            mode = path.stat().st_mode
        except OSError as exc:
            raise KeyringError(f"没有密钥 {entry.kid} 的私钥文件 {path}", code="private_key_missing") from exc
        encrypted = pem.lstrip().startswith(_ENCRYPTED_PEM)
        passphrase = self.passphrase() if encrypted else None
        if encrypted and passphrase is None:
            raise KeyringError(
                f"私钥 {path.name} 已加密，请设置环境变量 {self.passphrase_env}", code="passphrase_required"
            )
        if not encrypted and os.name == "posix" and stat.S_IMODE(mode) & 0o077:
            raise KeyringError(
                f"未加密的私钥 {path} 权限过宽（{oct(stat.S_IMODE(mode))}），须为 0600", code="key_file_mode"
            )
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError) as exc:
            raise KeyringError(
                f"无法读取私钥 {path.name}：口令错误或文件损坏", code="bad_private_key"
            ) from exc
        try:
            matches = entry.key_type.kid(key.public_key()) == entry.kid
        except (ValueError, TypeError, AttributeError):  # a key of another algorithm altogether
            matches = False
        if not matches:
            raise KeyringError(
                f"私钥文件 {path.name} 与密钥环中的 {entry.kid} 不匹配", code="bad_private_key"
            )
        return key
