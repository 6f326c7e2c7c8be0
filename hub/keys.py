"""The hub's keys: its keyring (own keys + registered senders) and its private keys, by kid.

The keyring file is re-read when it changes, so registering a sender, publishing a next encryption key
or retiring an old one takes effect without a restart; private keys of new own entries are loaded at
that moment (HUB_KEY_PASSPHRASE, its _FILE, or the passphrase given). During a rotation's overlap both
encryption keys decrypt: a sender encrypts to the newest key it has imported, and the old one is refused
only once its window has closed. Receipts are signed with the hub's newest signing key of the batch's
suite, so an SM sender gets an SM2-signed receipt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from gateway.transfer import (
    HUB_PASSPHRASE_ENV,
    BatchReceipt,
    Header,
    KeyEntry,
    Keyring,
    KeyringError,
    KeyStore,
    get_suite,
    sign_receipt,
)
from gateway.transfer.keyring import KeyUse
from gateway.transfer.keytypes import Decrypter, PrivateKey
from gateway.transfer.suites import SUITES

log = logging.getLogger(__name__)

# Private keys whose window closed more than this long ago are not loaded (nothing can use them).
EXPIRED_GRACE = 86400


class HubKeys:
    def __init__(
        self, keys_dir: Path, *, passphrase: str | bytes | None = None, suites: Iterable[str] = ()
    ) -> None:
        """``suites``: the accepted suite ids; each must have a valid encryption and receipt key here, so
        a hub that cannot answer a suite it accepts refuses to start instead of failing per batch."""
        self._store = KeyStore.open(keys_dir, HUB_PASSPHRASE_ENV, passphrase)
        self._lock = threading.Lock()
        self._mtime_ns = -1
        self._private: dict[str, PrivateKey] = {}
        self._keyring = self._reload(strict=True)
        self.hub_id = self._keyring.party
        own = [e for e in self._keyring.entries if e.owner == self.hub_id]
        if not any(e.use == "sign" and e.kid in self._private for e in own):
            raise KeyringError(
                f"{keys_dir} 中没有平台 {self.hub_id} 的回执签名私钥", code="private_key_missing"
            )
        now = int(time.time())
        for suite_id in suites:
            suite = get_suite(suite_id, SUITES)
            needed: tuple[tuple[KeyUse, str], ...] = (
                ("encrypt", suite.encrypt_kty),
                ("sign", suite.sign_kty),
            )
            for use, kty in needed:
                entry = self._keyring.current(owner=self.hub_id, use=use, at=now, kty=kty)
                if entry.kid not in self._private:
                    raise KeyringError(
                        f"平台接受套件 {suite.id}，但没有其 {kty} 密钥 {entry.kid} 的私钥",
                        code="private_key_missing",
                    )

    def _reload(self, *, strict: bool = False) -> Keyring:
        try:
            mtime = self._store.keyring_path.stat().st_mtime_ns
        except OSError as exc:
            path = self._store.keyring_path
            raise KeyringError(f"无法读取平台密钥环 {path}", code="keyring_missing") from exc
        if mtime != self._mtime_ns:
            keyring = self._store.load_keyring()
            self._load_private(keyring, strict=strict)
            self._keyring = keyring
            self._mtime_ns = mtime
        return self._keyring

    def _load_private(self, keyring: Keyring, *, strict: bool) -> None:
        """Load own private keys not loaded yet. At start-up a failure stops the hub; on a reload it is
        logged and that key stays unusable (its batches are refused as not addressed to this hub)."""
        horizon = int(time.time()) - EXPIRED_GRACE
        for entry in keyring.entries:
            if entry.owner != keyring.party or entry.kid in self._private or entry.not_after < horizon:
                continue
            if not self._store.has_private(entry.kid):
                continue
            try:
                self._private[entry.kid] = self._store.load_private(entry)
            except KeyringError as exc:
                if strict:
                    raise
                log.error("hub key %s not loaded: %s", entry.kid, exc.code)

    @property
    def keyring(self) -> Keyring:
        with self._lock:
            return self._reload()

    def public_keyring(self) -> Keyring:
        """What GET /v1/keys publishes: only the hub's own public keys, never the senders' registry."""
        return self.keyring.only_owner(self.hub_id)

    def check_recipient(self, kid: str, at: int) -> KeyEntry:
        """The kid must be one of the hub's encryption keys, valid at ``at``, with its private key here."""
        entry = self.keyring.get(kid, use="encrypt", at=at)
        if entry.owner != self.hub_id or kid not in self._private:
            raise KeyringError(f"信封的接收方密钥 {kid} 不是本平台的加密密钥", code="unknown_recipient_kid")
        return entry

    def decryption_key(self, header: Header) -> Decrypter:
        entry = self.check_recipient(header.rcpt_kid, header.created_at)
        suite = get_suite(header.suite, SUITES)
        if entry.kty != suite.encrypt_kty:
            raise KeyringError(
                f"接收方密钥 {entry.kid}（{entry.kty}）不能用于套件 {suite.id}", code="unknown_recipient_kid"
            )
        return entry.decrypter(self._private[entry.kid])

    def receipt_kid(self, at: int, suite_id: str | None = None) -> str:
        """The newest receipt key valid now, of the batch's suite when given; ``hub_kid`` in the receipt
        must name it before signing."""
        kty = get_suite(suite_id, SUITES).sign_kty if suite_id is not None else None
        entry = self.keyring.current(owner=self.hub_id, use="sign", at=at, kty=kty)
        if entry.kid not in self._private:
            raise KeyringError(f"当前回执签名密钥 {entry.kid} 没有私钥文件", code="private_key_missing")
        return entry.kid

    def sign(self, receipt: BatchReceipt) -> tuple[bytes, bytes]:
        entry = self.keyring.get(receipt.hub_kid, use="sign")
        return sign_receipt(receipt, entry.signer(self._private[entry.kid]))
