"""One party's key directory: ``keyring.json`` (public keys) and ``private/<kid>.<suffix>`` (its secrets).

Private keys are written encrypted under the party's passphrase, taken in this order: the value given
to the store (the Airflow Connection or a caller), the variable GATEWAY_KEY_PASSPHRASE (sender) or
HUB_KEY_PASSPHRASE (hub), or the first line of a file named by the same variable with ``_FILE`` appended.
Without one, writing a key is refused unless the caller explicitly asks for a clear-text key (the demo's
``--insecure-plaintext``); clear-text keys get mode 0600 and are refused on load if anyone but the owner
can read them, as ssh does. Passphrases and key material are never put in messages or logs.

Both suites' files are encrypted with scrypt at :data:`PRODUCTION_COST` (keyprotect.py says why that cost
and how tests get a cheaper one). Files written by earlier releases (PBKDF2) still open, with a warning;
:meth:`KeyStore.replace_private` rewrites one in place, atomically, which is what ``gateway keys reencrypt``
and a rotation do. A passphrase that does not open a file is reported as such (``wrong_passphrase``),
apart from a file that is damaged (``bad_private_key``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from gateway.transfer.errors import FormatError, KeyringError
from gateway.transfer.keyprotect import (
    PRODUCTION_COST,
    DamagedKeyFile,
    Protection,
    ScryptCost,
    WrongPassphrase,
)
from gateway.transfer.keyring import KeyEntry, Keyring
from gateway.transfer.keytypes import (
    KEY_TYPES_BY_PREFIX,
    LocalDecrypter,
    LocalSigner,
    PrivateKey,
)
from gateway.transfer.private_files import create_private_file, open_private, private_dir

log = logging.getLogger(__name__)

GATEWAY_PASSPHRASE_ENV = "GATEWAY_KEY_PASSPHRASE"
HUB_PASSPHRASE_ENV = "HUB_KEY_PASSPHRASE"
PASSPHRASE_FILE_SUFFIX = "_FILE"
KEYRING_FILE = "keyring.json"
PRIVATE_DIR = "private"
MAX_PASSPHRASE_FILE = 4096


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def read_passphrase_file(path: str | Path) -> bytes | None:
    """The passphrase in a file: the bytes of its first line without the line ending (LF or CRLF), as
    they are, with no Unicode normalisation; None if that line is empty. OSError if unreadable, ValueError
    if the file is larger than a passphrase file can be."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_PASSPHRASE_FILE + 1)
    if len(data) > MAX_PASSPHRASE_FILE:
        raise ValueError("passphrase file too large")
    first = data.split(b"\n", 1)[0].removesuffix(b"\r")
    return first or None


# Files already warned about in this process (a hub re-reads its keys; one warning per file is enough).
_WARNED: set[Path] = set()


@dataclass(frozen=True)
class KeyStore:
    root: Path
    passphrase_env: str
    passphrase_value: bytes | None = field(default=None, repr=False)
    # What new and rewritten key files are encrypted with; files are opened with what they say they use.
    kdf_cost: ScryptCost = PRODUCTION_COST

    @classmethod
    def open(
        cls,
        root: Path,
        passphrase_env: str,
        passphrase: str | bytes | None = None,
        *,
        kdf_cost: ScryptCost = PRODUCTION_COST,
    ) -> KeyStore:
        return cls(root, passphrase_env, None if passphrase is None else _as_bytes(passphrase), kdf_cost)

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
            secret = read_passphrase_file(path)
        except OSError as exc:
            raise KeyringError(f"无法读取 {file_var} 指定的口令文件", code="passphrase_file") from exc
        except ValueError:
            secret = None
        if secret is None:
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
        data = self._dump(entry, key, passphrase)
        private_dir(path.parent)
        # Exclusive: never overwrite an existing private key; 0600 from creation, whatever the umask.
        with open_private(path) as fh:
            fh.write(data)
        return path

    def _dump(self, entry: KeyEntry, key: PrivateKey, passphrase: bytes | None) -> bytes:
        if passphrase is not None and not self.kdf_cost.production_strength:
            log.warning(
                "private key %s written with %s, below the production cost: for tests only",
                entry.kid,
                self.kdf_cost.describe(),
            )
        return entry.key_type.dump_private(key, passphrase, self.kdf_cost)

    def _read(self, entry: KeyEntry) -> tuple[Path, bytes, int]:
        path = self.private_path(entry.kid)
        try:
            return path, path.read_bytes(), path.stat().st_mode
        except OSError as exc:
            raise KeyringError(f"没有密钥 {entry.kid} 的私钥文件 {path}", code="private_key_missing") from exc

    @staticmethod
    def _damaged(path: Path, exc: Exception) -> KeyringError:
        return KeyringError(
            f"私钥文件 {path.name} 已损坏或格式不受支持（damaged key file）：{exc}", code="bad_private_key"
        )

    def protection(self, entry: KeyEntry) -> Protection:
        """How the entry's private key file is protected, read without the passphrase."""
        path, data, _mode = self._read(entry)
        try:
            return entry.key_type.protection(data)
        except DamagedKeyFile as exc:
            raise self._damaged(path, exc) from exc

    def needs_reencrypt(self, entry: KeyEntry) -> bool:
        """Whether the file is protected less than this store would write it (an earlier release's PBKDF2,
        a lower scrypt cost, or clear text)."""
        return not self.protection(entry).at_least(self.kdf_cost)

    def load_private(self, entry: KeyEntry) -> PrivateKey:
        path, data, mode = self._read(entry)
        kt = entry.key_type
        try:
            protection = kt.protection(data)
        except DamagedKeyFile as exc:
            raise self._damaged(path, exc) from exc
        passphrase = self.passphrase() if protection.encrypted else None
        if protection.encrypted and passphrase is None:
            raise KeyringError(
                f"私钥 {path.name} 已加密，请设置 {self._passphrase_hint()}", code="passphrase_required"
            )
        if not protection.encrypted and os.name == "posix" and stat.S_IMODE(mode) & 0o077:
            raise KeyringError(
                f"未加密的私钥 {path} 权限过宽（{oct(stat.S_IMODE(mode))}），须为 0600", code="key_file_mode"
            )
        try:
            key = kt.load_private(data, passphrase)
        except WrongPassphrase as exc:
            doubt = (
                ""
                if exc.certain
                else "；此格式无法区分口令错误与密文损坏（or the encrypted part is damaged）"
            )
            raise KeyringError(
                f"私钥 {path.name} 无法解密：口令错误（wrong passphrase）{doubt}", code="wrong_passphrase"
            ) from exc
        except (DamagedKeyFile, ValueError, TypeError, FormatError) as exc:
            raise self._damaged(path, exc) from exc
        try:
            matches = kt.kid(key.public_key()) == entry.kid and kt.pair_consistent(key)
        except (ValueError, TypeError, AttributeError):  # a key of another algorithm altogether
            matches = False
        if not matches:
            raise KeyringError(
                f"私钥文件 {path.name} 与密钥环中的 {entry.kid} 不匹配", code="bad_private_key"
            )
        if protection.encrypted and not protection.at_least(PRODUCTION_COST) and path not in _WARNED:
            _WARNED.add(path)
            log.warning(
                "private key file %s is protected with %s, less than %s; "
                "rewrite it with `gateway keys reencrypt`",
                path,
                protection.describe(),
                PRODUCTION_COST.describe(),
            )
        return key

    def replace_private(self, entry: KeyEntry, key: PrivateKey) -> Path:
        """Rewrite the entry's existing private key file with ``key`` encrypted as this store writes (its
        passphrase, its cost): the re-encryption of an old file, or under a new passphrase.

        The new bytes are checked to open to the same key before they replace the old file, which happens
        in one rename (a crash leaves either file whole, never a mix); the temporary file is 0600 from
        creation and removed on any failure. A passphrase is required: this never writes clear text."""
        path = self.private_path(entry.kid)
        if not path.is_file():
            raise KeyringError(f"没有密钥 {entry.kid} 的私钥文件 {path}", code="private_key_missing")
        passphrase = self.passphrase()
        if passphrase is None:
            raise KeyringError(
                f"重新加密私钥需要口令：请设置 {self._passphrase_hint()}", code="passphrase_required"
            )
        kt = entry.key_type
        data = self._dump(entry, key, passphrase)
        if kt.kid(kt.load_private(data, passphrase).public_key()) != entry.kid:
            raise KeyringError(f"重新加密后的私钥 {entry.kid} 无法还原，未替换", code="bad_private_key")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with os.fdopen(create_private_file(tmp, exclusive=False), "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _sync_dir(path.parent)
        _WARNED.discard(path)
        return path

    def signer(self, entry: KeyEntry) -> LocalSigner:
        return entry.signer(self.load_private(entry))

    def decrypter(self, entry: KeyEntry) -> LocalDecrypter:
        return entry.decrypter(self.load_private(entry))


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: fsync the directory); a no-op where that is impossible."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        # Some filesystems cannot fsync a directory (EINVAL); the rename itself has happened either way.
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
