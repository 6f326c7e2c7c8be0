"""Private keys at rest: scrypt for both suites, the SM2 file as docs/protocol.md §6 specifies it, files of
earlier releases, "wrong passphrase" apart from a damaged file, re-encryption by command and by rotation.

Most tests write keys at ``TEST_ONLY_COST`` (a few ms a key); the ones that check what production writes use
the production cost, and verify the files with code independent of ours (hashlib's scrypt, cryptography's
PKCS#8 reader, OpenSSL when installed, a DER walk written here)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from typer.testing import CliRunner

from gateway.keys_cli import app as keys_app
from gateway.transfer import (
    DEFAULT_SUITE_ID,
    GATEWAY_PASSPHRASE_ENV,
    SM_SUITE_ID,
    KeyringError,
    Sender,
    gateway_store,
    generate_keys,
    rotate_key,
)
from gateway.transfer.keyprotect import PRODUCTION_COST, TEST_ONLY_COST, ScryptCost
from gateway.transfer.keyring import KeyEntry
from gateway.transfer.keystore import KeyStore
from gateway.transfer.keytypes import KEY_TYPES, PrivateKey
from gateway.transfer.provision import reencrypt_keys
from gateway.transfer.wire import b64url, canonical_json

SENDER, HUB = "city-001", "shanxi-hub"
BOTH = (DEFAULT_SUITE_ID, SM_SUITE_ID)
PASS, HUB_PASS = "城市-口令-0001", "hub-口令-0002"
# The object identifiers a PBES2/scrypt/AES-256-CBC EncryptedPrivateKeyInfo must name (RFC 8018, RFC 7914).
PBES2, SCRYPT, AES256_CBC = "1.2.840.113549.1.5.13", "1.3.6.1.4.1.11591.4.11", "2.16.840.1.101.3.4.1.42"
SM2_V2_MEMBERS = {"v", "kty", "public", "kdf", "n", "r", "p", "salt", "check", "nonce", "sealed"}


@pytest.fixture(autouse=True)
def _no_passphrase_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (GATEWAY_PASSPHRASE_ENV, GATEWAY_PASSPHRASE_ENV + "_FILE"):
        monkeypatch.delenv(name, raising=False)


def _keys(root: Path, *, suites: tuple[str, ...] = BOTH) -> KeyStore:
    """Both parties' keys at the test cost; the gateway's store, with its passphrase."""
    generate_keys(
        root, SENDER, HUB, suites=suites, passphrase=PASS, hub_passphrase=HUB_PASS, kdf_cost=TEST_ONLY_COST
    )
    return gateway_store(root, PASS, kdf_cost=TEST_ONLY_COST)


def _own(store: KeyStore) -> list[KeyEntry]:
    keyring = store.load_keyring()
    return [e for e in keyring.entries if e.owner == keyring.party]


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _der_walk(data: bytes) -> list[tuple[str, object]]:
    """Every OID and INTEGER of a DER structure, in order: an independent look at a PKCS#8 file."""
    found: list[tuple[str, object]] = []

    def walk(chunk: bytes) -> None:
        pos = 0
        while pos < len(chunk):
            tag, length, pos = chunk[pos], chunk[pos + 1], pos + 2
            if length & 0x80:
                count = length & 0x7F
                length, pos = int.from_bytes(chunk[pos : pos + count], "big"), pos + count
            body, pos = chunk[pos : pos + length], pos + length
            if tag == 0x30:
                walk(body)
            elif tag == 0x02:
                found.append(("int", int.from_bytes(body, "big")))
            elif tag == 0x06:
                arcs, value = [], 0
                for byte in body:
                    value = (value << 7) | (byte & 0x7F)
                    if not byte & 0x80:
                        arcs.append(value)
                        value = 0
                found.append(("oid", ".".join(map(str, [arcs[0] // 40, arcs[0] % 40, *arcs[1:]]))))
            elif tag == 0x04:
                found.append(("octets", len(body)))

    walk(data)
    return found


def _legacy_pkcs8(key: PrivateKey, passphrase: bytes) -> bytes:
    """What earlier releases wrote: cryptography's BestAvailableEncryption (PBKDF2-HMAC-SHA256, 2048)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def _legacy_sm2(kty: str, key: PrivateKey, passphrase: bytes, rounds: int = 2000) -> bytes:
    """The version 1 SM2 file of earlier releases (PBKDF2-HMAC-SM3, SM4-GCM, no check value)."""
    salt, nonce = os.urandom(16), os.urandom(12)
    head = {
        "v": 1,
        "kty": kty,
        "public": b64url(key.public.to_bytes()),
        "kdf": "pbkdf2-hmac-sm3",
        "rounds": rounds,
        "salt": b64url(salt),
        "nonce": b64url(nonce),
    }
    kek = PBKDF2HMAC(hashes.SM3(), 16, salt, rounds).derive(passphrase)
    encryptor = Cipher(algorithms.SM4(kek), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(canonical_json(head))
    sealed = encryptor.update(key.d) + encryptor.finalize() + encryptor.tag
    return canonical_json({**head, "sealed": b64url(sealed)}) + b"\n"


def _make_legacy(store: KeyStore, passphrase: bytes) -> dict[str, bytes]:
    """Rewrite the party's own key files as an earlier release would have left them."""
    written = {}
    for entry in _own(store):
        data = _make_legacy_one(store, entry, passphrase)
        store.private_path(entry.kid).write_bytes(data)
        written[entry.kid] = data
    return written


def _make_legacy_one(store: KeyStore, entry: KeyEntry, passphrase: bytes = PASS.encode()) -> bytes:
    key = store.load_private(entry)
    if entry.kty.startswith("SM2"):
        return _legacy_sm2(entry.kty, key, passphrase)
    return _legacy_pkcs8(key, passphrase)


# ------------------------------------------------------------------------------------ what is written


def test_new_pkcs8_files_are_pbes2_scrypt_at_the_production_cost(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    generate_keys(root, SENDER, HUB, passphrase=PASS, hub_passphrase=HUB_PASS)  # production cost
    hub_private = sorted((root / "hub" / "private").glob("*.pem"))
    assert [p.name.split("_")[0] for p in hub_private] == ["ed25519", "x25519"]
    for path in hub_private:
        data = path.read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
        walked = _der_walk(_pem_body(data))
        oids = [v for kind, v in walked if kind == "oid"]
        ints = [v for kind, v in walked if kind == "int"]
        assert oids == [PBES2, SCRYPT, AES256_CBC]
        assert ints == [2**14, 8, 5]  # N, r, p (no keyLength), the OWASP-equivalent cost
        assert [v for kind, v in walked if kind == "octets"][:2] == [16, 16]  # salt, IV
        # cryptography's own PKCS#8 reader opens it with the passphrase, and only with it.
        assert serialization.load_pem_private_key(data, HUB_PASS.encode()) is not None
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(data, b"not-it")
        if shutil.which("openssl"):  # OpenSSL 3 reads it too (its scrypt memory cap is 32 MiB)
            opened = subprocess.run(
                ["openssl", "pkey", "-in", str(path), "-passin", "env:KEYPASS", "-noout"],
                env={**os.environ, "KEYPASS": HUB_PASS},
                capture_output=True,
                check=False,
            )
            assert opened.returncode == 0, opened.stderr


def _pem_body(data: bytes) -> bytes:
    lines = data.decode("ascii").strip().splitlines()
    return base64.b64decode("".join(lines[1:-1]))


def test_new_sm2_files_follow_the_documented_format_at_the_production_cost(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    generate_keys(root, SENDER, HUB, suites=(SM_SUITE_ID,), passphrase=PASS, hub_passphrase=HUB_PASS)
    store = gateway_store(root, PASS)
    (entry,) = _own(store)
    raw = store.private_path(entry.kid).read_bytes()
    doc = json.loads(raw)
    assert raw == canonical_json(doc) + b"\n" and set(doc) == SM2_V2_MEMBERS
    assert (doc["v"], doc["kty"], doc["kdf"], doc["n"], doc["r"], doc["p"]) == (
        2,
        "SM2-SIGN",
        "scrypt",
        16384,
        8,
        5,
    )
    # Open it as the document says, with hashlib's scrypt rather than ours.
    k = hashlib.scrypt(
        PASS.encode(),
        salt=_b64url(doc["salt"]),
        n=doc["n"],
        r=doc["r"],
        p=doc["p"],
        maxmem=64 << 20,
        dklen=32,
    )
    assert k[16:] == _b64url(doc["check"])
    sealed = _b64url(doc["sealed"])
    assert len(sealed) == 48
    aad = canonical_json({name: value for name, value in doc.items() if name != "sealed"})
    decryptor = Cipher(algorithms.SM4(k[:16]), modes.GCM(_b64url(doc["nonce"]), sealed[32:])).decryptor()
    decryptor.authenticate_additional_data(aad)
    d = decryptor.update(sealed[:32]) + decryptor.finalize()
    key = store.load_private(entry)
    assert d == key.d and _b64url(doc["public"]) == key.public.to_bytes()
    assert b64url(key.d) not in raw.decode()


def test_an_sm2_key_file_round_trips_for_both_key_types(tmp_path: Path) -> None:
    for kty in ("SM2-SIGN", "SM2-ENC"):
        kt = KEY_TYPES[kty]
        key = kt.generate()
        data = kt.dump_private(key, b"p", TEST_ONLY_COST)
        assert kt.protection(data).describe() == "scrypt N=1024 r=8 p=1"
        again = kt.load_private(data, b"p")
        assert (again.d, again.public) == (key.d, key.public) and kt.pair_consistent(again)
        plain = kt.dump_private(key, None)
        assert json.loads(plain)["v"] == 1 and kt.load_private(plain, None).d == key.d


# ---------------------------------------------------------------------------- wrong passphrase, damage


def test_a_wrong_passphrase_says_so_and_a_damaged_file_says_something_else(tmp_path: Path) -> None:
    store = _keys(tmp_path / "keys")
    wrong = KeyStore.open(store.root, GATEWAY_PASSPHRASE_ENV, "城市-口令-9999", kdf_cost=TEST_ONLY_COST)
    for entry in _own(store):
        path = store.private_path(entry.kid)
        good = path.read_bytes()
        for data in (good, _make_legacy_one(store, entry)):
            path.write_bytes(data)
            with pytest.raises(KeyringError) as err:
                wrong.load_private(entry)
            assert err.value.code == "wrong_passphrase" and "wrong passphrase" in err.value.message
            assert "口令-9999" not in err.value.message and PASS not in err.value.message
        damaged = good.replace(b"-----END", b"--END") if path.suffix == ".pem" else good[:-20] + b"}\n"
        path.write_bytes(damaged)
        with pytest.raises(KeyringError) as err:
            store.load_private(entry)
        assert err.value.code == "bad_private_key" and "wrong passphrase" not in err.value.message
        path.write_bytes(good)
        assert KEY_TYPES[entry.kty].kid(store.load_private(entry).public_key()) == entry.kid


def test_an_altered_sm2_file_is_damaged_not_a_wrong_passphrase(tmp_path: Path) -> None:
    store = _keys(tmp_path / "keys", suites=(SM_SUITE_ID,))
    (entry,) = _own(store)
    path = store.private_path(entry.kid)
    doc = json.loads(path.read_bytes())
    doc["nonce"] = b64url(os.urandom(12))  # covered by the AAD; the check value still matches
    path.write_bytes(canonical_json(doc) + b"\n")
    with pytest.raises(KeyringError) as err:
        store.load_private(entry)
    assert err.value.code == "bad_private_key" and "altered" in err.value.message
    doc["n"] = 2**30  # a file asking for gigabytes of scrypt memory is refused before any work
    path.write_bytes(canonical_json(doc) + b"\n")
    with pytest.raises(KeyringError) as err:
        store.load_private(entry)
    assert err.value.code == "bad_private_key" and "MiB" in err.value.message


# ------------------------------------------------------------------------------- earlier releases' files


def test_files_of_earlier_releases_load_and_reencrypt_rewrites_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _keys(tmp_path / "keys")
    keys = {e.kid: store.load_private(e) for e in _own(store)}
    _make_legacy(store, PASS.encode())
    protections = {store.protection(e).describe() for e in _own(store)}
    assert protections == {"pbkdf2-hmac-sha256 2048", "pbkdf2-hmac-sm3 2000"}
    with caplog.at_level(logging.WARNING, logger="gateway.transfer.keystore"):
        for suite in BOTH:
            assert Sender.load(store.root.parent, SENDER, suite_id=suite, passphrase=PASS).suite.id == suite
    assert "gateway keys reencrypt" in caplog.text and PASS not in caplog.text
    assert all(store.needs_reencrypt(e) for e in _own(store))

    done, skipped = reencrypt_keys(store)
    assert {item.kid for item in done} == set(keys) and skipped == ()
    assert {item.after for item in done} == {"scrypt N=1024 r=8 p=1"}
    for entry in _own(store):
        assert not store.needs_reencrypt(entry)
        assert KEY_TYPES[entry.kty].kid(store.load_private(entry).public_key()) == entry.kid
    assert reencrypt_keys(store) == ((), ())  # nothing left to do
    assert not list(store.private_path(next(iter(keys))).parent.glob(".*.tmp"))


def test_gateway_keys_list_marks_old_files_and_reencrypt_rewrites_them_at_the_production_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "var" / "keys"
    store = _keys(root, suites=(DEFAULT_SUITE_ID,))
    _make_legacy(store, PASS.encode())
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "var"))
    monkeypatch.setenv(GATEWAY_PASSPHRASE_ENV, PASS)
    runner = CliRunner()
    listing = json.loads(runner.invoke(keys_app, ["list", "--json"]).output)
    (own,) = [k for k in listing["keys"] if k["owner"] == SENDER]
    assert (own["protection"], own["reencrypt"]) == ("pbkdf2-hmac-sha256 2048", True)
    assert " OLD " in runner.invoke(keys_app, ["list"]).output

    result = runner.invoke(keys_app, ["reencrypt"])
    assert result.exit_code == 0, result.output
    assert "pbkdf2-hmac-sha256 2048 → scrypt N=16384 r=8 p=5" in result.output
    listing = json.loads(runner.invoke(keys_app, ["list", "--json"]).output)
    (own,) = [k for k in listing["keys"] if k["owner"] == SENDER]
    assert (own["protection"], own["reencrypt"]) == (PRODUCTION_COST.describe(), False)
    assert "未改动" in runner.invoke(keys_app, ["reencrypt"]).output


# ------------------------------------------------------------------------------------ rotation, passphrase


def test_a_rotation_reencrypts_the_older_keys_it_keeps(tmp_path: Path) -> None:
    store = _keys(tmp_path / "keys")
    older = {e.kid for e in _own(store)}
    _make_legacy(store, PASS.encode())
    result = rotate_key(store, "Ed25519")
    assert {item.kid for item in result.reencrypted} == older and result.not_reencrypted == ()
    for entry in _own(store):  # the new key, the retired one and the other suite's: all scrypt now
        assert store.protection(entry).scheme == "scrypt"
        store.load_private(entry)
    assert result.new.kid not in older and {e.kid for e in result.retired} <= older


def test_a_rotation_goes_ahead_when_an_older_key_does_not_open(tmp_path: Path) -> None:
    store = _keys(tmp_path / "keys")
    (sm2,) = [e for e in _own(store) if e.kty == "SM2-SIGN"]
    key = store.load_private(sm2)
    store.private_path(sm2.kid).write_bytes(_legacy_sm2(sm2.kty, key, b"an-older-passphrase"))
    result = rotate_key(store, "Ed25519")
    assert [(x.kid, x.code) for x in result.not_reencrypted] == [(sm2.kid, "wrong_passphrase")]
    assert result.new.kid in {e.kid for e in _own(store)}
    with pytest.raises(KeyringError) as err:  # the command that re-encrypts on purpose is strict
        reencrypt_keys(store)
    assert err.value.code == "wrong_passphrase"


def test_a_passphrase_change_rewrites_every_key_and_an_interrupted_one_can_be_finished(
    tmp_path: Path,
) -> None:
    store = _keys(tmp_path / "keys")
    own = _own(store)
    new = KeyStore.open(store.root, GATEWAY_PASSPHRASE_ENV, "新口令-0003", kdf_cost=TEST_ONLY_COST)
    new.replace_private(own[0], store.load_private(own[0]))  # a run that died after its first key
    done, _ = reencrypt_keys(store, new_passphrase="新口令-0003")
    assert {item.kid for item in done} == {e.kid for e in own[1:]}
    for entry in own:
        new.load_private(entry)
        with pytest.raises(KeyringError) as err:
            store.load_private(entry)
        assert err.value.code == "wrong_passphrase"
    assert reencrypt_keys(store, new_passphrase="新口令-0003") == ((), ())


def test_a_passphrase_file_gives_its_first_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pass"
    secret.write_bytes(PASS.encode() + b"\r\nsecond line\n")
    monkeypatch.setenv(GATEWAY_PASSPHRASE_ENV + "_FILE", str(secret))
    assert KeyStore.open(tmp_path, GATEWAY_PASSPHRASE_ENV).passphrase() == PASS.encode()
    secret.write_bytes(b"\nsecret on the second line\n")
    with pytest.raises(KeyringError) as err:
        KeyStore.open(tmp_path, GATEWAY_PASSPHRASE_ENV).passphrase()
    assert err.value.code == "passphrase_file"


# ---------------------------------------------------------------------------------------- the test cost


def test_the_test_only_cost_cannot_be_chosen_by_accident(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ValueError, match="below the production cost"):
        ScryptCost(2**10, 8, 1)
    assert ScryptCost(2**15, 8, 3).production_strength  # more memory, as much work: allowed
    assert KeyStore.open(tmp_path, GATEWAY_PASSPHRASE_ENV).kdf_cost == PRODUCTION_COST
    assert gateway_store(tmp_path).kdf_cost == PRODUCTION_COST
    with caplog.at_level(logging.WARNING, logger="gateway.transfer.keystore"):
        store = _keys(tmp_path / "keys", suites=(DEFAULT_SUITE_ID,))
    assert "below the production cost: for tests only" in caplog.text
    (entry,) = _own(store)
    production = gateway_store(store.root.parent, PASS)
    assert not store.needs_reencrypt(entry) and production.needs_reencrypt(entry)
