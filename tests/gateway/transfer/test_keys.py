from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.transfer import (
    GATEWAY_PASSPHRASE_ENV,
    HUB_PASSPHRASE_ENV,
    FormatError,
    KeyEntry,
    Keyring,
    KeyringError,
    Sender,
    gateway_store,
    generate_keys,
    hub_store,
)
from gateway.transfer.keytypes import KEY_TYPES

ED25519 = KEY_TYPES["Ed25519"]


def _entry(owner: str, not_before: int, not_after: int) -> tuple[Ed25519PrivateKey, KeyEntry]:
    key = Ed25519PrivateKey.generate()
    return key, KeyEntry.for_public(
        key.public_key(), ED25519, owner=owner, not_before=not_before, not_after=not_after
    )


def test_generate_keys_writes_both_sides_once(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    assert generate_keys(root, "city-001", "shanxi-hub", valid_days=30, insecure_plaintext=True) is True
    gateway, hub = gateway_store(root).load_keyring(), hub_store(root).load_keyring()
    assert gateway.party == "city-001" and hub.party == "shanxi-hub"
    assert {(e.owner, e.use) for e in gateway.entries} == {
        ("city-001", "sign"),
        ("shanxi-hub", "encrypt"),
        ("shanxi-hub", "sign"),
    }
    assert {e.kid for e in gateway.entries} == {e.kid for e in hub.entries}
    # Each side holds only its own secrets.
    assert sorted(p.name.split("_")[0] for p in (root / "gateway" / "private").iterdir()) == ["ed25519"]
    assert sorted(p.name.split("_")[0] for p in (root / "hub" / "private").iterdir()) == ["ed25519", "x25519"]
    for pem in (root / "gateway" / "private").iterdir():
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
        assert b"BEGIN PRIVATE KEY" in pem.read_bytes()
    entry = gateway.entries[0]
    assert entry.not_after - entry.not_before == 30 * 86400 + 3600
    before = sorted(p.read_bytes() for p in root.rglob("*") if p.is_file())
    assert generate_keys(root, "city-001", "shanxi-hub") is False
    assert sorted(p.read_bytes() for p in root.rglob("*") if p.is_file()) == before


def test_generate_keys_refuses_a_half_written_directory(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    generate_keys(root, "city-001", "shanxi-hub", insecure_plaintext=True)
    (root / "hub" / "keyring.json").unlink()
    with pytest.raises(KeyringError) as err:
        generate_keys(root, "city-001", "shanxi-hub")
    assert err.value.code == "keys_partial"


@pytest.mark.parametrize(("sender", "hub"), [("same", "same"), ("../x", "hub"), ("city", "")])
def test_generate_keys_checks_party_ids(tmp_path: Path, sender: str, hub: str) -> None:
    with pytest.raises(FormatError):
        generate_keys(tmp_path / "keys", sender, hub)


def test_kid_is_prefix_and_truncated_sha256_of_the_raw_key() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    raw = ED25519.raw_public(key.public_key())
    expected = "ed25519:" + base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode().rstrip("=")
    assert ED25519.kid(key.public_key()) == expected
    assert len(expected) == len("ed25519:") + 16


def test_keyring_lookup_checks_use_and_validity_window() -> None:
    _, old = _entry("city-001", 100, 200)
    _, new = _entry("city-001", 150, 300)
    ring = Keyring("shanxi-hub", (old, new))
    assert ring.get(old.kid, use="sign", at=200) == old
    with pytest.raises(KeyringError) as err:
        ring.get(old.kid, use="sign", at=201)
    assert err.value.code == "key_not_valid"
    with pytest.raises(KeyringError) as err:
        ring.get(old.kid, use="encrypt")
    assert err.value.code == "wrong_key_use"
    with pytest.raises(KeyringError) as err:
        ring.get("ed25519:AAAAAAAAAAAAAAAA", use="sign")
    assert err.value.code == "unknown_kid"
    # Rotation: during the overlap the newest key is the one to use; the old one still verifies.
    assert ring.current(owner="city-001", use="sign", at=180) == new
    assert ring.current(owner="city-001", use="sign", at=120) == old
    with pytest.raises(KeyringError):
        ring.current(owner="city-001", use="sign", at=400)


def test_keyring_file_round_trip_and_tamper_checks(tmp_path: Path) -> None:
    _, entry = _entry("city-001", 0, 10)
    path = tmp_path / "keyring.json"
    Keyring("shanxi-hub", (entry,)).save(path)
    assert Keyring.load(path).entries == (entry,)
    doc = json.loads(path.read_text())
    doc["keys"][0]["kid"] = "ed25519:" + "B" * 16  # a kid that does not belong to the key
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="kid"):
        Keyring.load(path)
    doc["keys"][0]["kid"] = entry.kid
    doc["keys"][0]["use"] = "encrypt"  # an Ed25519 key cannot be an encryption key
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="用途"):
        Keyring.load(path)
    with pytest.raises(FormatError, match="重复"):
        Keyring("p", (entry, entry))


def test_private_keys_are_encrypted_when_a_passphrase_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GATEWAY_PASSPHRASE_ENV, "城市口令-1")
    monkeypatch.setenv(HUB_PASSPHRASE_ENV, "hub-secret")
    root = tmp_path / "keys"
    generate_keys(root, "city-001", "shanxi-hub")
    for pem in (root / "gateway" / "private").iterdir():
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in pem.read_bytes()
    assert Sender.load(root, "city-001").sender_id == "city-001"

    monkeypatch.setenv(GATEWAY_PASSPHRASE_ENV, "wrong")
    with pytest.raises(KeyringError) as err:
        Sender.load(root, "city-001")
    assert err.value.code == "wrong_passphrase" and "wrong passphrase" in err.value.message
    assert "城市口令" not in err.value.message

    monkeypatch.delenv(GATEWAY_PASSPHRASE_ENV)
    with pytest.raises(KeyringError) as err:
        Sender.load(root, "city-001")
    assert err.value.code == "passphrase_required"
    assert GATEWAY_PASSPHRASE_ENV in err.value.message


def test_unencrypted_private_keys_readable_by_others_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    generate_keys(root, "city-001", "shanxi-hub", insecure_plaintext=True)
    (pem,) = (root / "gateway" / "private").iterdir()
    os.chmod(pem, 0o644)
    with pytest.raises(KeyringError) as err:
        Sender.load(root, "city-001")
    assert err.value.code == "key_file_mode"


def test_a_private_key_file_must_match_its_kid(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    generate_keys(root, "city-001", "shanxi-hub", insecure_plaintext=True)
    store = gateway_store(root)
    (entry,) = [e for e in store.load_keyring().entries if e.owner == "city-001"]
    other = next((root / "hub" / "private").glob("ed25519_*.pem"))
    store.private_path(entry.kid).write_bytes(other.read_bytes())
    with pytest.raises(KeyringError) as err:
        store.load_private(entry)
    assert err.value.code == "bad_private_key"


def test_private_keys_are_never_overwritten(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    generate_keys(root, "city-001", "shanxi-hub", insecure_plaintext=True)
    store = gateway_store(root)
    (entry,) = [e for e in store.load_keyring().entries if e.owner == "city-001"]
    with pytest.raises(FileExistsError):
        store.write_private(entry, Ed25519PrivateKey.generate())
    assert ED25519.kid(store.load_private(entry).public_key()) == entry.kid


def test_keys_start_slightly_in_the_past(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    generate_keys(root, "city-001", "shanxi-hub", insecure_plaintext=True)
    now = int(time.time())
    for entry in gateway_store(root).load_keyring().entries:
        assert entry.valid_at(now - 600)
        assert not entry.valid_at(now - 7200)
