from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from gateway.transfer import (
    FormatError,
    KeyEntry,
    KeyringError,
    Manifest,
    Sender,
    gateway_store,
)
from gateway.transfer.keytypes import KEY_TYPES


def test_sender_loads_from_the_root_or_its_gateway_directory(keys_dir: Path) -> None:
    assert Sender.load(keys_dir, "city-001").hub_id == "shanxi-hub"
    assert Sender.load(keys_dir / "gateway", "city-001").hub_id == "shanxi-hub"
    with pytest.raises(KeyringError) as err:
        Sender.load(keys_dir, "city-002")
    assert err.value.code == "keyring_party_mismatch"


def test_seal_writes_the_envelope_atomically(sender: Sender, tmp_path: Path) -> None:
    src, dst = tmp_path / "b.xml", tmp_path / "out" / "b.gwenv"
    dst.parent.mkdir()
    src.write_bytes(b"<Batch/>")
    dst.write_bytes(b"old content")
    sealed = sender.seal(src, dst, batch_id="b-1", seq=1)
    assert dst.read_bytes()[:7] == b"GWENV1\n"
    assert sealed.size == dst.stat().st_size
    assert [p.name for p in dst.parent.iterdir()] == ["b.gwenv"]  # no temporary file left behind


def test_a_failed_seal_leaves_the_destination_untouched(sender: Sender, tmp_path: Path) -> None:
    src, dst = tmp_path / "b.xml", tmp_path / "b.gwenv"
    src.write_bytes(b"<Batch/>")
    dst.write_bytes(b"previous")
    with pytest.raises(FormatError):
        sender.seal(src, dst, batch_id="../escape", seq=1)
    assert dst.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.gwenv", "b.xml", "keys"]


def test_seal_encrypts_to_the_hubs_newest_published_key(
    sender: Sender, keys_dir: Path, tmp_path: Path
) -> None:
    now = int(time.time())
    current = sender.recipient(now)
    nxt = X25519PrivateKey.generate()
    entry = KeyEntry.for_public(
        nxt.public_key(), KEY_TYPES["X25519"], owner="shanxi-hub", not_before=now + 100, not_after=now + 10**6
    )
    store = gateway_store(keys_dir)
    store.load_keyring().with_entries([entry]).save(store.keyring_path)
    rotated = Sender.load(keys_dir, "city-001")
    src = tmp_path / "b.xml"
    src.write_bytes(b"<Batch/>")
    before = Manifest.decode(rotated.seal(src, tmp_path / "1", batch_id="b", seq=1, created_at=now).manifest)
    after = Manifest.decode(
        rotated.seal(src, tmp_path / "2", batch_id="b", seq=2, created_at=now + 200).manifest
    )
    assert before.recipient_kid == current.kid
    assert after.recipient_kid == entry.kid


def test_a_keyring_naming_two_hubs_is_ambiguous(keys_dir: Path) -> None:
    store = gateway_store(keys_dir)
    other = KeyEntry.for_public(
        X25519PrivateKey.generate().public_key(),
        KEY_TYPES["X25519"],
        owner="other-hub",
        not_before=0,
        not_after=2**40,
    )
    store.load_keyring().with_entries([other]).save(store.keyring_path)
    with pytest.raises(KeyringError, match="恰好包含一个"):
        Sender.load(keys_dir, "city-001")
