"""The hub's keys: its keyring (own keys + registered senders) and its private keys, by kid.

The keyring file is re-read when it changes, so registering a sender or publishing a next key takes
effect without a restart. Private keys are loaded once (HUB_KEY_PASSPHRASE is read at that moment).
"""

from __future__ import annotations

import threading
from pathlib import Path

from gateway.transfer import (
    HUB_PASSPHRASE_ENV,
    Header,
    Keyring,
    KeyringError,
    KeyStore,
    Receipt,
    sign_receipt,
)
from gateway.transfer.keytypes import PrivateKey


class HubKeys:
    def __init__(self, keys_dir: Path) -> None:
        self._store = KeyStore(keys_dir, HUB_PASSPHRASE_ENV)
        self._lock = threading.Lock()
        self._mtime_ns = -1
        self._keyring = self._reload()
        self.hub_id = self._keyring.party
        own = [e for e in self._keyring.entries if e.owner == self.hub_id]
        self._private: dict[str, PrivateKey] = {
            e.kid: self._store.load_private(e) for e in own if self._store.has_private(e.kid)
        }
        if not any(e.use == "sign" and e.kid in self._private for e in own):
            raise KeyringError(
                f"{keys_dir} 中没有平台 {self.hub_id} 的回执签名私钥", code="private_key_missing"
            )

    def _reload(self) -> Keyring:
        try:
            mtime = self._store.keyring_path.stat().st_mtime_ns
        except OSError as exc:
            path = self._store.keyring_path
            raise KeyringError(f"无法读取平台密钥环 {path}", code="keyring_missing") from exc
        if mtime != self._mtime_ns:
            self._keyring = self._store.load_keyring()
            self._mtime_ns = mtime
        return self._keyring

    @property
    def keyring(self) -> Keyring:
        with self._lock:
            return self._reload()

    def public_keyring(self) -> Keyring:
        """What GET /v1/keys publishes: only the hub's own public keys, never the senders' registry."""
        return self.keyring.only_owner(self.hub_id)

    def check_recipient(self, kid: str, at: int) -> None:
        """The kid must be one of the hub's encryption keys, valid at ``at``, with its private key here."""
        entry = self.keyring.get(kid, use="encrypt", at=at)
        if entry.owner != self.hub_id or kid not in self._private:
            raise KeyringError(f"信封的接收方密钥 {kid} 不是本平台的加密密钥", code="unknown_recipient_kid")

    def decryption_key(self, header: Header) -> PrivateKey:
        self.check_recipient(header.rcpt_kid, header.created_at)
        return self._private[header.rcpt_kid]

    def receipt_kid(self, at: int) -> str:
        """The newest receipt key valid now; ``hub_kid`` in the receipt must name it before signing."""
        entry = self.keyring.current(owner=self.hub_id, use="sign", at=at)
        if entry.kid not in self._private:
            raise KeyringError(f"当前回执签名密钥 {entry.kid} 没有私钥文件", code="private_key_missing")
        return entry.kid

    def sign(self, receipt: Receipt) -> tuple[bytes, bytes]:
        entry = self.keyring.get(receipt.hub_kid, use="sign")
        return sign_receipt(receipt, self._private[entry.kid], entry.kty)
