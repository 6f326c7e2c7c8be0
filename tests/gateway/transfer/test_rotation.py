"""Key rotation with an overlap, the public-key hand-over, passphrase-encrypted keys, `gateway keys`."""

from __future__ import annotations

import dataclasses
import io
import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.keys_cli import app as keys_app
from gateway.transfer import (
    DEFAULT_SUITE_ID,
    GATEWAY_PASSPHRASE_ENV,
    HUB_PASSPHRASE_ENV,
    SM_SUITE_ID,
    Header,
    KeyringError,
    Manifest,
    Sender,
    export_public,
    gateway_store,
    generate_keys,
    hub_store,
    import_public,
    open_envelope,
    rotate_key,
    seal,
    sign_manifest,
    verify_manifest,
)
from gateway.transfer.keyprotect import TEST_ONLY_COST
from gateway.transfer.keystore import KeyStore
from gateway.transfer.keytypes import SM2SignParams
from gateway.transfer.wire import b64url
from hub.keys import HubKeys

SENDER, HUB = "city-001", "shanxi-hub"
DAY = 86400
BOTH = (DEFAULT_SUITE_ID, SM_SUITE_ID)


@pytest.fixture(params=BOTH)
def suite_id(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def keys_dir(tmp_path: Path, suite_id: str) -> Path:
    root = tmp_path / "keys"
    generate_keys(root, SENDER, HUB, suites=(suite_id,), insecure_plaintext=True)
    return root


def _seal_to(sender: Sender, recipient_kid: str | None, created_at: int) -> bytes:
    out = io.BytesIO()
    recipient = (
        sender.recipient(created_at)
        if recipient_kid is None
        else sender.keyring.get(recipient_kid, use="encrypt")
    )
    seal(
        io.BytesIO(b"<Batch/>"),
        out,
        suite=sender.suite,
        recipient=recipient,
        batch_id="b-1",
        seq=1,
        sender=SENDER,
        created_at=created_at,
    )
    return out.getvalue()


def _hub_opens(hub: HubKeys, data: bytes, suite_id: str) -> Header:
    out = io.BytesIO()
    info = open_envelope(
        io.BytesIO(data), out, private_key_for=hub.decryption_key, allowed_suites=(suite_id,)
    )
    assert out.getvalue() == b"<Batch/>"
    return info.header


def test_hub_encryption_key_rotation_accepts_both_keys_during_the_overlap_only(
    keys_dir: Path, suite_id: str
) -> None:
    now = int(time.time())
    hub = HubKeys(keys_dir / "hub")  # running before the rotation: picks the new key up on reload
    old_sender = Sender.load(keys_dir, SENDER, suite_id=suite_id)
    old_kid = old_sender.recipient(now).kid

    encrypt_kty = old_sender.suite.encrypt_kty
    rotation = rotate_key(hub_store(keys_dir), encrypt_kty, overlap_days=7, now=now, insecure_plaintext=True)
    assert [e.kid for e in rotation.retired] == [old_kid]
    assert rotation.retired[0].not_after == now + 7 * DAY
    result = import_public(gateway_store(keys_dir), export_public(hub_store(keys_dir)))
    assert [e.kid for e in result.added] == [rotation.new.kid]
    assert [e.kid for e in result.updated] == [old_kid]

    sender = Sender.load(keys_dir, SENDER, suite_id=suite_id)
    assert sender.recipient(now).kid == rotation.new.kid  # the newest valid key, once imported
    assert {e.kid for e in hub.public_keyring().entries if e.use == "encrypt"} >= {old_kid, rotation.new.kid}
    # During the overlap: a batch to the new key, and one sealed to the old key just before the import.
    assert _hub_opens(hub, _seal_to(sender, None, now), suite_id).rcpt_kid == rotation.new.kid
    assert _hub_opens(hub, _seal_to(sender, old_kid, now + 6 * DAY), suite_id).rcpt_kid == old_kid
    # After it: the old key is refused, the new one still works.
    later = now + 7 * DAY + 1
    with pytest.raises(KeyringError) as err:
        _hub_opens(hub, _seal_to(sender, old_kid, later), suite_id)
    assert err.value.code == "key_not_valid"
    assert _hub_opens(hub, _seal_to(sender, None, later), suite_id).rcpt_kid == rotation.new.kid


def test_sender_signing_key_rotation_waits_for_activation_and_keeps_the_old_key_verifiable(
    keys_dir: Path, suite_id: str, tmp_path: Path
) -> None:
    now = int(time.time())
    sign_kty = Sender.load(keys_dir, SENDER, suite_id=suite_id).suite.sign_kty
    rotation = rotate_key(
        gateway_store(keys_dir),
        sign_kty,
        activate_in_seconds=DAY,
        overlap_days=3,
        now=now,
        insecure_plaintext=True,
    )
    (old,) = rotation.retired
    assert (rotation.new.not_before, old.not_after) == (now + DAY, now + 4 * DAY)
    import_public(hub_store(keys_dir), export_public(gateway_store(keys_dir)))
    hub_keyring = hub_store(keys_dir).load_keyring()
    sender = Sender.load(keys_dir, SENDER, suite_id=suite_id)
    src = tmp_path / "b.xml"
    src.write_bytes(b"<Batch/>")

    def signed_with(created_at: int) -> str:
        sealed = sender.seal(src, tmp_path / "b.gwenv", batch_id="b-1", seq=1, created_at=created_at)
        return verify_manifest(sealed.manifest, sealed.signature, hub_keyring, allowed_suites=BOTH).kid

    assert signed_with(now) == old.kid  # the new key is not active yet: the hub may not have it
    assert signed_with(now + DAY + 1) == rotation.new.kid
    assert signed_with(now + 4 * DAY + 1) == rotation.new.kid
    # What the old key signs for a time after its (shortened) window is refused by the hub.
    sealed = sender.seal(src, tmp_path / "c.gwenv", batch_id="b-2", seq=2, created_at=now + 4 * DAY + 1)
    late = dataclasses.replace(Manifest.decode(sealed.manifest), kid=old.kid)
    raw, signature = sign_manifest(late, gateway_store(keys_dir).signer(old))
    with pytest.raises(KeyringError) as err:
        verify_manifest(raw, signature, hub_keyring, allowed_suites=BOTH)
    assert err.value.code == "key_not_valid"


def test_rotation_keeps_agreed_sm2_parameters(tmp_path: Path) -> None:
    from gateway.transfer import SM2Options

    root = tmp_path / "keys"
    options = SM2Options(user_id="XZ140900", signature="raw")
    generate_keys(root, SENDER, HUB, suites=(SM_SUITE_ID,), sm2=options, insecure_plaintext=True)
    rotation = rotate_key(gateway_store(root), "SM2-SIGN", insecure_plaintext=True)
    assert rotation.new.params == SM2SignParams("XZ140900", "raw")


def test_import_refuses_own_foreign_and_conflicting_entries(keys_dir: Path) -> None:
    gateway, hub = gateway_store(keys_dir), hub_store(keys_dir)
    own = export_public(gateway)
    with pytest.raises(KeyringError) as err:
        import_public(gateway, own)
    assert err.value.code == "import_own_keys"
    hub_export = export_public(hub)
    smuggled = dataclasses.replace(hub_export, entries=(*hub_export.entries, *own.entries))
    with pytest.raises(KeyringError) as err:
        import_public(gateway, smuggled)
    assert err.value.code == "import_foreign_owner"
    moved = dataclasses.replace(hub_export.entries[0], owner="other-hub")
    with pytest.raises(KeyringError) as err:
        import_public(gateway, dataclasses.replace(hub_export, party="other-hub", entries=(moved,)))
    assert err.value.code == "import_conflict"
    before = gateway.keyring_path.read_bytes()
    assert import_public(gateway, hub_export).added == ()  # nothing new: the file is left alone
    assert gateway.keyring_path.read_bytes() == before


# ------------------------------------------------------------------------------ passphrases


def test_private_keys_load_only_with_their_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(GATEWAY_PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(HUB_PASSPHRASE_ENV, raising=False)
    root = tmp_path / "keys"
    with pytest.raises(KeyringError) as err:
        generate_keys(root, SENDER, HUB, suites=BOTH)
    assert err.value.code == "passphrase_required"
    generate_keys(root, SENDER, HUB, suites=BOTH, passphrase="城市-口令-0001", hub_passphrase="hub-口令-0002")
    for path in (root / "gateway" / "private").iterdir():
        text = path.read_text()
        assert "ENCRYPTED PRIVATE KEY" in text or '"sealed":' in text
    for suite in BOTH:
        assert Sender.load(root, SENDER, suite_id=suite, passphrase="城市-口令-0001").suite.id == suite
        for wrong in ("城市-口令-0002", None):
            with pytest.raises(KeyringError) as err:
                Sender.load(root, SENDER, suite_id=suite, passphrase=wrong)
            assert err.value.code == ("wrong_passphrase" if wrong else "passphrase_required")
            assert "城市" not in err.value.message
    passphrase_file = tmp_path / "hub.pass"
    passphrase_file.write_text("hub-口令-0002\n", "utf-8")
    monkeypatch.setenv(HUB_PASSPHRASE_ENV + "_FILE", str(passphrase_file))
    assert HubKeys(root / "hub").hub_id == HUB  # the passphrase file, as a deployment mounts it


def test_an_sm2_key_file_hides_the_scalar_and_binds_its_public_key(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path, GATEWAY_PASSPHRASE_ENV, "a-random-passphrase", kdf_cost=TEST_ONLY_COST)
    root = tmp_path / "keys"
    generate_keys(root, SENDER, HUB, suites=(SM_SUITE_ID,), passphrase="p-1", hub_passphrase="p-2")
    gateway = gateway_store(root, "p-1")
    (entry,) = [e for e in gateway.load_keyring().entries if e.owner == SENDER]
    key = gateway.load_private(entry)
    copy = dataclasses.replace(entry)
    path = store.write_private(copy, key)
    doc = json.loads(path.read_text())
    assert b64url(key.d) not in path.read_text() and (doc["v"], doc["kdf"], doc["n"]) == (2, "scrypt", 1024)
    doc["public"] = json.loads(gateway.private_path(entry.kid).read_text())["public"][:-2] + "AA"
    path.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    with pytest.raises(KeyringError) as err:
        store.load_private(copy)
    assert err.value.code == "bad_private_key"


# --------------------------------------------------------------------------------------- the CLI


def test_gateway_keys_commands_generate_rotate_export_import_and_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_SENDER_ID", SENDER)
    monkeypatch.setenv(GATEWAY_PASSPHRASE_ENV, "gateway-passphrase-1")
    monkeypatch.setenv(HUB_PASSPHRASE_ENV, "hub-passphrase-1")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(keys_app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run("generate", "--local-hub", HUB, "--suite", "default,sm")
    gateway_dir, hub_dir = tmp_path / "var" / "keys" / "gateway", tmp_path / "var" / "keys" / "hub"
    hub_args = ("--keys-dir", str(hub_dir), "--passphrase-env", HUB_PASSPHRASE_ENV)
    assert "sm2enc:" in run("rotate", "--suite", "sm", "--use", "encrypt", *hub_args)
    published = tmp_path / "hub-keys.json"
    run("export-public", "--out", str(published), "--keys-dir", str(hub_dir))
    assert "新增" in run("import-public", str(published))
    listing = json.loads(run("list", "--json"))
    statuses = {(k["owner"], k["kty"], k["status"]) for k in listing["keys"]}
    assert (HUB, "SM2-ENC", "current") in statuses and (HUB, "SM2-ENC", "retiring") in statuses
    assert all(k["private_key"] for k in listing["keys"] if k["owner"] == SENDER)
    assert (
        Sender.load(gateway_dir, SENDER, suite_id="sm").recipient(int(time.time())).kid
        in published.read_text()
    )

    run("rotate", "--suite", "sm")  # our signing key: active in 24 h, so nothing breaks meanwhile
    pending = [k for k in json.loads(run("list", "--json"))["keys"] if k["status"] == "pending"]
    assert [(k["owner"], k["kty"]) for k in pending] == [(SENDER, "SM2-SIGN")]
    failed = runner.invoke(keys_app, ["rotate", "--suite", "nope"])
    assert failed.exit_code == 2 and "未知的密码套件" in failed.output
