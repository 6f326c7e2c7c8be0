"""The gateway signs its draw records with the key it signs its batches with: its own signing key of the
configured suite (Ed25519 by default, SM2 for suite "sm"), from settings.keys_dir, found the way
gateway.transfer.sender.Sender.load finds it. One key, one keyring: whoever already trusts the gateway's
public key (the province's hub has it) can check a draw record too, and a rotation of the key is handled by
the keyring's validity windows, checked at the time the draw was made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.settings import Settings
from gateway.transfer.errors import KeyringError, SignatureError
from gateway.transfer.keyring import Keyring
from gateway.transfer.keystore import GATEWAY_PASSPHRASE_ENV, KEYRING_FILE, KeyStore
from gateway.transfer.keytypes import Signer
from gateway.transfer.provision import GATEWAY_DIR
from gateway.transfer.suites import SUITES, get_suite, resolve_suite_id


def _store(settings: Settings) -> KeyStore:
    nested = settings.keys_dir / GATEWAY_DIR
    root: Path = nested if (nested / KEYRING_FILE).is_file() else settings.keys_dir
    return KeyStore.open(root, GATEWAY_PASSPHRASE_ENV, settings.key_passphrase)


@dataclass(frozen=True)
class RecordSigner:
    kid: str
    signer: Signer

    def sign(self, data: bytes) -> bytes:
        return self.signer.sign(data)


def record_signer(settings: Settings, at: int) -> RecordSigner:
    """The gateway's newest signing key of its suite valid at ``at`` (seconds since the epoch)."""
    store = _store(settings)
    keyring = store.load_keyring()
    sign_kty = get_suite(resolve_suite_id(settings.suite), SUITES).sign_kty
    entry = keyring.current(owner=settings.sender_id, use="sign", at=at, kty=sign_kty)
    if not store.has_private(entry.kid):
        raise KeyringError(f"当前签名密钥 {entry.kid} 没有对应的私钥文件", code="private_key_missing")
    return RecordSigner(entry.kid, store.signer(entry))


def gateway_keyring(settings: Settings) -> Keyring:
    return _store(settings).load_keyring()


def check_signature(keyring: Keyring, owner: str, kid: str, signature: bytes, data: bytes, at: int) -> None:
    """Raise SignatureError or KeyringError unless ``owner``'s key ``kid``, valid at ``at``, signed it."""
    entry = keyring.get(kid, use="sign", at=at)
    if entry.owner != owner:
        raise KeyringError(f"签名密钥 {kid} 属于 {entry.owner}，不是本网关 {owner}", code="wrong_signer")
    entry.verify(signature, data)


__all__ = ["RecordSigner", "SignatureError", "check_signature", "gateway_keyring", "record_signer"]
