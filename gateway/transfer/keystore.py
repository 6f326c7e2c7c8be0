"""One party's key directory: ``keyring.json`` (public keys) and ``private/<kid>.<suffix>`` (its secrets).

Private keys are written encrypted under the party's passphrase, taken in this order: the value given
to the store (the Airflow Connection or a caller), the variable GATEWAY_KEY_PASSPHRASE (sender) or
HUB_KEY_PASSPHRASE (hub), or a file named by the same variable with ``_FILE`` appended. Without one,
writing a key is refused unless the caller explicitly asks for a clear-text key (the demo's
``--insecure-plaintext``); clear-text keys get mode 0600 and are refused on load if anyone but the owner
can read them, as ssh does. Passphrases and key material are never put in messages or logs.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from gateway.transfer.errors import FormatError, KeyringError
from gateway.transfer.keyring import KeyEntry, Keyring
from gateway.transfer.keytypes import (
    DEFAULT_KDF_ROUNDS,
    KEY_TYPES_BY_PREFIX,
    LocalDecrypter,
    LocalSigner,
    PrivateKey,
)
from gateway.transfer.private_files import open_private, private_dir

GATEWAY_PASSPHRASE_ENV = "GATEWAY_KEY_PASSPHRASE"
HUB_PASSPHRASE_ENV = "HUB_KEY_PASSPHRASE"
PASSPHRASE_FILE_SUFFIX = "_FILE"
KEYRING_FILE = "keyring.json"
PRIVATE_DIR = "private"
MAX_PASSPHRASE_FILE = 4096


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


@dataclass(frozen=True)
class KeyStore:
    root: Path
    passphrase_env: str
    passphrase_value: bytes | None = field(default=None, repr=False)
    kdf_rounds: int = DEFAULT_KDF_ROUNDS

    @classmethod
    def open(
        cls,
        root: Path,
        passphrase_env: str,
        passphrase: str | bytes | None = None,
        *,
        kdf_rounds: int = DEFAULT_KDF_ROUNDS,
    ) -> KeyStore:
        return cls(root, passphrase_env, None if passphrase is None else _as_bytes(passphrase), kdf_rounds)

    @property
    def keyring_path(self) -> Path:
        return self.root / KEYRING_FILE

    def load_keyring(self) -> Keyring:
        return Keyring.load(self.keyring_path)

    def private_path(self, kid: str) -> Path:
        # ":" is not portable in file names; kids are otherwise base64url and path-safe. The suffix is the
        # key type's file format (PKCS#8 PEM, or the SM2 JSON key file), found from the kid's prefix.
        prefix = kid.split(":", 1)[0]
        kt = KEY_TYPES_BY_PREFIX.get(prefix)
        if kt is None:
            raise KeyringError(f"不支持的密钥类型前缀 {prefix!r}", code="unsupported_key_type")
        return self.root / PRIVATE_DIR / (kid.replace(":", "_") + kt.file_suffix)

    def has_private(self, kid: str) -> bool:
        return self.private_path(kid).is_file()

    def passphrase(self) -> bytes | None:
        if self.passphrase_value:
            return self.passphrase_value
        value = os.environ.get(self.passphrase_env)
        if value:
            return value.encode("utf-8")
        file_var = self.passphrase_env + PASSPHRASE_FILE_SUFFIX
        path = os.environ.get(file_var)
        if not path:
            return None
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_PASSPHRASE_FILE + 1)
        except OSError as exc:
            raise KeyringError(f"无法读取 {file_var} 指定的口令文件", code="passphrase_file") from exc
        secret = data.rstrip(b"\r\n")
        if not secret or len(data) > MAX_PASSPHRASE_FILE:
            raise KeyringError(f"{file_var} 指定的口令文件为空或过大", code="passphrase_file")
        return secret

    def _passphrase_hint(self) -> str:
        return f"{self.passphrase_env} 或 {self.passphrase_env}{PASSPHRASE_FILE_SUFFIX}"

    def write_private(self, entry: KeyEntry, key: PrivateKey, *, insecure_plaintext: bool = False) -> Path:
        path = self.private_path(entry.kid)
        if path.exists():  # checked first so the answer does not depend on the passphrase; O_EXCL below
            raise FileExistsError(f"私钥文件 {path} 已存在，不会覆盖")
        passphrase = self.passphrase()
        if passphrase is None and not insecure_plaintext:
            raise KeyringError(
                f"私钥必须加密保存：请设置 {self._passphrase_hint()}（仅演示可用 --insecure-plaintext）",
                code="passphrase_required",
            )
        data = entry.key_type.dump_private(key, passphrase, self.kdf_rounds)
        private_dir(path.parent)
        # Exclusive: never overwrite an existing private key; 0600 from creation, whatever the umask.
        with open_private(path) as fh:
            fh.write(data)
        return path

    def load_private(self, entry: KeyEntry) -> PrivateKey:
        path = self.private_path(entry.kid)
        try:
            data = path.read_bytes()
            mode = path.stat().st_mode
        except OSError as exc:
            raise KeyringError(f"没有密钥 {entry.kid} 的私钥文件 {path}", code="private_key_missing") from exc
        kt = entry.key_type
        encrypted = kt.is_encrypted(data)
        passphrase = self.passphrase() if encrypted else None
        if encrypted and passphrase is None:
            raise KeyringError(
                f"私钥 {path.name} 已加密，请设置 {self._passphrase_hint()}", code="passphrase_required"
            )
        if not encrypted and os.name == "posix" and stat.S_IMODE(mode) & 0o077:
            raise KeyringError(
                f"未加密的私钥 {path} 权限过宽（{oct(stat.S_IMODE(mode))}），须为 0600", code="key_file_mode"
            )
        try:
            key = kt.load_private(data, passphrase)
        except (ValueError, TypeError, FormatError) as exc:
            raise KeyringError(
                f"无法读取私钥 {path.name}：口令错误或文件损坏", code="bad_private_key"
            ) from exc
        try:
            matches = kt.kid(key.public_key()) == entry.kid and kt.pair_consistent(key)
        except (ValueError, TypeError, AttributeError):  # a key of another algorithm altogether
            matches = False
        if not matches:
            raise KeyringError(
                f"私钥文件 {path.name} 与密钥环中的 {entry.kid} 不匹配", code="bad_private_key"
            )
        return key

    def signer(self, entry: KeyEntry) -> LocalSigner:
        return entry.signer(self.load_private(entry))

    def decrypter(self, entry: KeyEntry) -> LocalDecrypter:
        return entry.decrypter(self.load_private(entry))
