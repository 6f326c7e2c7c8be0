"""Key provisioning for the demo and the tests: one sender and one hub, both sides written at once.

In production each party generates its own private keys and they exchange only public keyring entries
(out of band, or the hub's GET /v1/keys); this function short-cuts that for a single machine.
"""

from __future__ import annotations

import time
from pathlib import Path

from gateway.transfer.errors import FormatError, KeyringError
from gateway.transfer.keyring import KeyEntry, Keyring
from gateway.transfer.keystore import GATEWAY_PASSPHRASE_ENV, HUB_PASSPHRASE_ENV, KeyStore
from gateway.transfer.keytypes import KEY_TYPES, KeyType
from gateway.transfer.wire import check_id

GATEWAY_DIR = "gateway"
HUB_DIR = "hub"
# Keys start an hour in the past so a peer whose clock runs a little behind still accepts them.
BACKDATE_SECONDS = 3600


def gateway_store(keys_dir: Path) -> KeyStore:
    return KeyStore(keys_dir / GATEWAY_DIR, GATEWAY_PASSPHRASE_ENV)


def hub_store(keys_dir: Path) -> KeyStore:
    return KeyStore(keys_dir / HUB_DIR, HUB_PASSPHRASE_ENV)


def generate_keys(keys_dir: Path, sender_id: str, hub_id: str, *, valid_days: int = 365) -> bool:
    """Create keys_dir/gateway and keys_dir/hub; True if generated, False if they already existed.

    gateway/: the sender's Ed25519 signing key, plus the hub's X25519 encryption and Ed25519 receipt
    public keys. hub/: the hub's two private keys, plus the sender's public verify key (registration).
    Keyrings are written last, so their presence means the set is complete.
    """
    gateway, hub = gateway_store(keys_dir), hub_store(keys_dir)
    present = [gateway.keyring_path.exists(), hub.keyring_path.exists()]
    if all(present):
        return False
    if any(present):
        raise KeyringError(
            f"{keys_dir} 下只有一方的密钥环，拒绝覆盖；请检查或清空该目录", code="keys_partial"
        )
    check_id(sender_id, "发送方")
    check_id(hub_id, "接收平台")
    if sender_id == hub_id:
        raise FormatError("发送方与接收平台的标识不能相同")
    if valid_days < 1:
        raise FormatError("密钥有效期至少 1 天")

    now = int(time.time())
    not_before, not_after = now - BACKDATE_SECONDS, now + valid_days * 86400

    def make(store: KeyStore, kt: KeyType, owner: str) -> KeyEntry:
        private = kt.generate()
        entry = KeyEntry.for_public(
            private.public_key(), kt, owner=owner, not_before=not_before, not_after=not_after
        )
        store.write_private(entry, private)
        return entry

    sender_sign = make(gateway, KEY_TYPES["Ed25519"], sender_id)
    hub_encrypt = make(hub, KEY_TYPES["X25519"], hub_id)
    hub_sign = make(hub, KEY_TYPES["Ed25519"], hub_id)
    Keyring(hub_id, (hub_encrypt, hub_sign, sender_sign)).save(hub.keyring_path)
    Keyring(sender_id, (sender_sign, hub_encrypt, hub_sign)).save(gateway.keyring_path)
    return True
