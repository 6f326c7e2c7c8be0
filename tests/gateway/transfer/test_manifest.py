from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.transfer import (
    FormatError,
    KeyEntry,
    Keyring,
    KeyringError,
    Manifest,
    Sender,
    SignatureError,
    SuiteNotAllowed,
    gateway_store,
    sign_manifest,
    verify_manifest,
)
from gateway.transfer.keytypes import KEY_TYPES
from gateway.transfer.manifest import MANIFEST_DOMAIN
from gateway.transfer.receipt import RECEIPT_DOMAIN

SRC = "<Batch>忻州</Batch>".encode()


@pytest.fixture
def sealed_manifest(sender: Sender, tmp_path: Path) -> tuple[bytes, bytes, Path]:
    src, dst = tmp_path / "b.xml", tmp_path / "b.gwenv"
    src.write_bytes(SRC)
    sealed = sender.seal(src, dst, batch_id="b-1", seq=7)
    return sealed.manifest, sealed.signature, dst


def test_manifest_binds_the_envelope(
    sealed_manifest: tuple[bytes, bytes, Path], hub_keyring: Keyring
) -> None:
    raw, signature, envelope = sealed_manifest
    m = verify_manifest(raw, signature, hub_keyring)
    data = envelope.read_bytes()
    assert (m.batch_id, m.seq, m.sender) == ("b-1", 7, "city-001")
    assert m.envelope_sha256 == hashlib.sha256(data).hexdigest()
    assert m.payload_sha256 == hashlib.sha256(SRC).hexdigest()
    assert m.size == len(data) and m.segments == 1
    assert m.recipient_kid.startswith("x25519:") and m.kid.startswith("ed25519:")
    assert abs(m.created_at - time.time()) < 60
    assert raw == m.encode()  # what was signed is the canonical form


def test_every_manifest_gets_a_fresh_nonce(sender: Sender, tmp_path: Path) -> None:
    src = tmp_path / "b.xml"
    src.write_bytes(SRC)
    nonces = {
        Manifest.decode(sender.seal(src, tmp_path / "o", batch_id="b", seq=1).manifest).nonce
        for _ in range(5)
    }
    assert len(nonces) == 5


def test_an_edited_manifest_does_not_verify(
    sealed_manifest: tuple[bytes, bytes, Path], hub_keyring: Keyring
) -> None:
    raw, signature, _ = sealed_manifest
    edited = raw.replace(b'"seq":7', b'"seq":8')
    with pytest.raises(SignatureError):
        verify_manifest(edited, signature, hub_keyring)
    with pytest.raises(SignatureError):
        verify_manifest(raw, signature[:-1] + bytes([signature[-1] ^ 1]), hub_keyring)


def test_verification_uses_the_exact_bytes_not_a_reserialisation(
    sealed_manifest: tuple[bytes, bytes, Path], hub_keyring: Keyring
) -> None:
    raw, signature, _ = sealed_manifest
    pretty = json.dumps(json.loads(raw), indent=1).encode()
    with pytest.raises(FormatError, match="规范化"):
        verify_manifest(pretty, signature, hub_keyring)


def test_unknown_kid_and_foreign_keys_are_refused(
    sealed_manifest: tuple[bytes, bytes, Path], hub_keyring: Keyring
) -> None:
    raw, _, _ = sealed_manifest
    m = Manifest.decode(raw)
    stranger = Ed25519PrivateKey.generate()
    kt = KEY_TYPES["Ed25519"]
    forged = dataclasses.replace(m, kid=kt.kid(stranger.public_key()))
    forged_raw, forged_sig = sign_manifest(forged, stranger, "Ed25519")
    with pytest.raises(KeyringError) as err:
        verify_manifest(forged_raw, forged_sig, hub_keyring)
    assert err.value.code == "unknown_kid"

    # The hub's own receipt key is in its keyring, but it does not belong to the sender named.
    hub_sign = hub_keyring.current(owner="shanxi-hub", use="sign", at=m.created_at)
    spoof = dataclasses.replace(m, kid=hub_sign.kid)
    spoof_raw, _ = sign_manifest(spoof, stranger, "Ed25519")
    with pytest.raises(KeyringError) as err:
        verify_manifest(spoof_raw, b"\0" * 64, hub_keyring)
    assert err.value.code == "sender_mismatch"


def test_key_validity_is_checked_at_created_at(sender: Sender, keys_dir: Path, hub_keyring: Keyring) -> None:
    store = gateway_store(keys_dir)
    entry = sender.signing_entry(int(time.time()))
    key = store.load_private(entry)
    m = Manifest.decode(sender.seal(_src(keys_dir), keys_dir / "o", batch_id="b", seq=1).manifest)
    too_late = dataclasses.replace(m, created_at=entry.not_after + 1)
    raw, signature = sign_manifest(too_late, key, "Ed25519")
    with pytest.raises(KeyringError) as err:
        verify_manifest(raw, signature, hub_keyring)
    assert err.value.code == "key_not_valid"


def test_suites_are_chosen_by_the_receiver(
    sealed_manifest: tuple[bytes, bytes, Path], hub_keyring: Keyring
) -> None:
    raw, signature, _ = sealed_manifest
    with pytest.raises(SuiteNotAllowed):
        verify_manifest(raw, signature, hub_keyring, allowed_suites=("GW1-SM2-SM3-SM4GCM",))


def test_a_receipt_signature_is_not_a_manifest_signature(
    sender: Sender, keys_dir: Path, hub_keyring: Keyring
) -> None:
    """Domain separation: the same key signing the same bytes in the other role must not verify."""
    entry = sender.signing_entry(int(time.time()))
    key = gateway_store(keys_dir).load_private(entry)
    m = Manifest.decode(sender.seal(_src(keys_dir), keys_dir / "o", batch_id="b", seq=1).manifest)
    raw = m.encode()
    assert MANIFEST_DOMAIN != RECEIPT_DOMAIN
    with pytest.raises(SignatureError):
        verify_manifest(raw, key.sign(RECEIPT_DOMAIN + raw), hub_keyring)
    assert verify_manifest(raw, key.sign(MANIFEST_DOMAIN + raw), hub_keyring) == m


def test_a_key_of_another_type_under_the_same_owner_is_refused(
    sealed_manifest: tuple[bytes, bytes, Path],
) -> None:
    raw, signature, _ = sealed_manifest
    m = Manifest.decode(raw)
    x_key = KEY_TYPES["X25519"].generate()
    entry = KeyEntry.for_public(
        x_key.public_key(), KEY_TYPES["X25519"], owner="city-001", not_before=0, not_after=2**40
    )
    forged = dataclasses.replace(m, kid=entry.kid)
    with pytest.raises(KeyringError) as err:
        verify_manifest(forged.encode(), signature, Keyring("shanxi-hub", (entry,)))
    assert err.value.code == "wrong_key_use"


def _src(keys_dir: Path) -> Path:
    path = keys_dir / "batch.xml"
    path.write_bytes(SRC)
    return path
