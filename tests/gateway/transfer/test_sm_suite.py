"""The 国密 suite: SM2 / SM3 / SM4-GCM primitives against published answers, the envelope's refusals,
the configurable SM2 encodings, and the hub accepting or refusing the suite by configuration."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from gateway.transfer import (
    DEFAULT_SUITE_ID,
    SM_SUITE_ID,
    EnvelopeError,
    FormatError,
    Header,
    HubClient,
    HubRejected,
    KeyEntry,
    Keyring,
    KeyringError,
    Manifest,
    Sender,
    SignatureError,
    SuiteNotAllowed,
    generate_keys,
    hub_store,
    open_envelope,
    read_header,
    resolve_suite_id,
    seal,
    sm,
    verify_manifest,
)
from gateway.transfer.keytypes import KEY_TYPES, Decrypter, SM2EncryptParams, SM2SignParams
from gateway.transfer.suites import SM4GCM, get_suite, parse_suite_list
from hub.app import create_app
from hub.keys import HubKeys
from hub.server import ServerThread
from hub.settings import Settings
from hub.validate import BatchValidator

SENDER, HUB = "city-001", "shanxi-hub"
SEG = 1024
BOTH = (DEFAULT_SUITE_ID, SM_SUITE_ID)
KeyFor = Callable[[Header], Decrypter]


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    root = tmp_path / "keys"
    assert generate_keys(root, SENDER, HUB, suites=BOTH, insecure_plaintext=True) is True
    return root


@pytest.fixture
def sm_sender(keys_dir: Path) -> Sender:
    return Sender.load(keys_dir, SENDER, suite_id="sm")


@pytest.fixture
def hub_key_for(keys_dir: Path) -> KeyFor:
    store = hub_store(keys_dir)
    keyring = store.load_keyring()
    return lambda header: store.decrypter(keyring.get(header.rcpt_kid, use="encrypt", at=header.created_at))


def _seal(sender: Sender, payload: bytes, *, batch_id: str = "b-1", seq: int = 1) -> bytes:
    out = io.BytesIO()
    now = int(time.time())
    seal(
        io.BytesIO(payload),
        out,
        suite=sender.suite,
        recipient=sender.recipient(now),
        batch_id=batch_id,
        seq=seq,
        sender=sender.sender_id,
        created_at=now,
        segment_size=SEG,
    )
    return out.getvalue()


def _open(data: bytes, key_for: KeyFor, allowed: tuple[str, ...] = (SM_SUITE_ID,)) -> bytes:
    out = io.BytesIO()
    open_envelope(io.BytesIO(data), out, private_key_for=key_for, allowed_suites=allowed)
    return out.getvalue()


def _split(data: bytes) -> tuple[bytes, list[bytes]]:
    (length,) = struct.unpack(">I", data[7:11])
    head, rest = data[: 11 + length], data[11 + length :]
    return head, [rest[i : i + SEG + 16] for i in range(0, len(rest), SEG + 16)]


def _refused(data: bytes, key_for: KeyFor) -> str:
    with pytest.raises(EnvelopeError) as err:
        _open(data, key_for)
    return err.value.code


# ------------------------------------------------------------------------------ published answers


def test_sm3_and_sm4_gcm_match_their_published_vectors() -> None:
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"abc")  # GB/T 32905-2016 A.1
    assert digest.finalize().hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    # RFC 8998 A.1 (SM4-GCM), through the same one-shot wrapper the envelope uses.
    cipher = SM4GCM(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"))
    iv, aad = (
        bytes.fromhex("00001234567800000000ABCD"),
        bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"),
    )
    plaintext = bytes.fromhex("".join(c * 16 for c in "ABCDEFEA"))
    sealed = cipher.encrypt(iv, plaintext, aad)
    assert sealed.hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC"
    )
    assert cipher.decrypt(iv, sealed, aad) == plaintext


def test_sm2_verifies_the_gbt_32918_example_signature_with_the_default_user_id() -> None:
    """GB/T 32918.5-2017 example: d = 3945…C5B8, k = 5927…BC21, M = "message digest", ID 1234567812345678."""
    public = sm.SM2PublicKey(
        0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020,
        0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13,
    )
    r = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
    s = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
    der, raw = encode_dss_signature(r, s), r.to_bytes(32, "big") + s.to_bytes(32, "big")
    default = sm.DEFAULT_USER_ID
    assert sm.verify(public, der, b"message digest", user_id=default, encoding="der")
    assert sm.verify(public, raw, b"message digest", user_id=default, encoding="raw")
    assert not sm.verify(public, der, b"message digest", user_id="ALICE123@YAHOO.COM", encoding="der")
    assert not sm.verify(public, der, b"message digesT", user_id=default, encoding="der")
    assert not sm.verify(public, raw, b"message digest", user_id=default, encoding="der")  # wrong encoding


# -------------------------------------------------------------------------------- SM2 encodings


def test_sm2_ciphertext_layouts_convert_and_decrypt() -> None:
    key = sm.SM2PrivateKey.generate()
    der = sm.encrypt(key.public, b"0123456789abcdef", layout="c1c3c2-der")
    raw = sm.convert_ciphertext(der, "c1c3c2-der", "c1c3c2")
    legacy = sm.convert_ciphertext(der, "c1c3c2-der", "c1c2c3")
    assert len(raw) == len(legacy) == 65 + 32 + 16 and raw[0] == 0x04
    assert raw[65:97] == legacy[-32:] and raw[97:] == legacy[65:81]  # C3 and C2 swap places
    for layout, data in (("c1c3c2-der", der), ("c1c3c2", raw), ("c1c2c3", legacy)):
        assert sm.decrypt(key, data, layout=layout) == b"0123456789abcdef"
        assert sm.convert_ciphertext(data, layout, "c1c3c2-der") == der
    with pytest.raises(sm.SM2Error):
        sm.decrypt(key, raw, layout="c1c2c3")  # the wrong agreement fails (C3 check), never garbles


def test_sm2_decryption_checks_c3_and_refuses_malformed_ciphertexts() -> None:
    key = sm.SM2PrivateKey.generate()
    der = sm.encrypt(key.public, b"k" * 16, layout="c1c3c2-der")
    flipped = bytearray(der)
    flipped[-1] ^= 1
    non_minimal = der[:1] + bytes([0x81, der[1]]) + der[2:]  # long-form length where short form fits
    off_curve = bytearray(sm.convert_ciphertext(der, "c1c3c2-der", "c1c3c2"))
    off_curve[64] ^= 1  # y of C1 no longer on the curve
    cases: tuple[tuple[bytes, sm.CiphertextLayout], ...] = (
        (bytes(flipped), "c1c3c2-der"),
        (der + b"\x00", "c1c3c2-der"),
        (non_minimal, "c1c3c2-der"),
        (bytes(off_curve), "c1c3c2"),
        (der[:40], "c1c3c2-der"),
    )
    for bad, layout in cases:
        with pytest.raises(sm.SM2Error):
            sm.decrypt(key, bad, layout=layout)


def test_sm2_signatures_in_both_encodings_and_strict_parsing() -> None:
    key = sm.SM2PrivateKey.generate()
    for encoding in sm.SIGNATURE_ENCODINGS:
        signature = sm.sign(key, b"data", user_id="city-001@xinzhou", encoding=encoding)
        assert sm.verify(key.public, signature, b"data", user_id="city-001@xinzhou", encoding=encoding)
        assert not sm.verify(key.public, signature, b"data", user_id=sm.DEFAULT_USER_ID, encoding=encoding)
    der = sm.sign(key, b"data", user_id=sm.DEFAULT_USER_ID, encoding="der")
    assert len(sm.sign(key, b"data", user_id=sm.DEFAULT_USER_ID, encoding="raw")) == 64
    assert der != sm.sign(key, b"data", user_id=sm.DEFAULT_USER_ID, encoding="der")  # k is random
    assert not sm.verify(key.public, der + b"\x00", b"data", user_id=sm.DEFAULT_USER_ID, encoding="der")
    assert not sm.verify(key.public, bytes(64), b"data", user_id=sm.DEFAULT_USER_ID, encoding="raw")  # r = 0


def test_sm2_public_keys_are_validated_points() -> None:
    key = sm.SM2PrivateKey.generate()
    raw = key.public.to_bytes()
    assert sm.SM2PublicKey.from_bytes(raw) == key.public
    with pytest.raises(sm.SM2Error):
        sm.SM2PublicKey.from_bytes(raw[1:])  # 64-byte form: one encoding per key, so kids are unique
    with pytest.raises(sm.SM2Error):
        sm.SM2PublicKey.from_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert "d=" not in repr(key)  # the scalar never reaches a log line through repr()


def test_sm4_gcm_decrypt_releases_nothing_when_the_tag_fails() -> None:
    cipher = SM4GCM(os.urandom(16))
    nonce = bytes(12)
    sealed = bytearray(cipher.encrypt(nonce, b"x" * 4096, b"aad"))
    sealed[-1] ^= 1
    with pytest.raises(InvalidTag):
        cipher.decrypt(nonce, bytes(sealed), b"aad")
    with pytest.raises(InvalidTag):
        cipher.decrypt(nonce, b"short", b"aad")


# --------------------------------------------------------------------------------------- envelope


def test_sm_round_trip_with_sm2_signed_manifest(sm_sender: Sender, keys_dir: Path, tmp_path: Path) -> None:
    src, dst = tmp_path / "b.xml", tmp_path / "b.gwenv"
    src.write_bytes("<Batch>忻州</Batch>".encode() * 3000)
    sealed = sm_sender.seal(src, dst, batch_id="b-1", seq=1)
    hub_keyring = hub_store(keys_dir).load_keyring()
    manifest = verify_manifest(sealed.manifest, sealed.signature, hub_keyring, allowed_suites=(SM_SUITE_ID,))
    assert manifest.suite == SM_SUITE_ID
    assert manifest.kid.startswith("sm2sig:") and manifest.recipient_kid.startswith("sm2enc:")
    header, _ = read_header(io.BytesIO(dst.read_bytes()), allowed_suites=(SM_SUITE_ID,))
    assert header.suite == SM_SUITE_ID and 100 < len(header.wrapped_key) < 130  # DER C1C3C2 of 16 bytes
    store = hub_store(keys_dir)
    opened = _open(dst.read_bytes(), lambda h: store.decrypter(hub_keyring.get(h.rcpt_kid, use="encrypt")))
    assert opened == src.read_bytes()
    with pytest.raises(SuiteNotAllowed):  # a receiver configured for the default suite only
        verify_manifest(sealed.manifest, sealed.signature, hub_keyring)


@pytest.mark.parametrize("size", [0, 1, SEG, 3 * SEG + 5])
def test_sm_payload_sizes_round_trip(sm_sender: Sender, hub_key_for: KeyFor, size: int) -> None:
    payload = os.urandom(size)
    assert _open(_seal(sm_sender, payload), hub_key_for) == payload


def test_sm_tampering_is_refused_as_for_the_default_suite(sm_sender: Sender, hub_key_for: KeyFor) -> None:
    data = _seal(sm_sender, os.urandom(3 * SEG + 100))
    head, segments = _split(data)
    flipped = bytearray(data)
    flipped[-5] ^= 0x40
    assert _refused(bytes(flipped), hub_key_for) == "segment_tampered"
    assert (
        _refused(head + segments[1] + segments[0] + b"".join(segments[2:]), hub_key_for) == "segment_tampered"
    )
    assert _refused(head + b"".join(segments[:2]), hub_key_for) == "truncated"
    full = _seal(sm_sender, os.urandom(2 * SEG))  # ends with a full segment
    assert _refused(full + _split(full)[1][0], hub_key_for) == "trailing_data"
    assert _refused(full + b"x", hub_key_for) == "trailing_data"
    # A header from another envelope: the SM3 header digest (AAD) no longer matches at segment 0.
    other_head, _ = _split(_seal(sm_sender, b"other", batch_id="b-2"))
    assert _refused(other_head + b"".join(segments), hub_key_for) == "segment_tampered"


def test_sm_edited_header_fields_fail_at_the_first_segment(sm_sender: Sender, hub_key_for: KeyFor) -> None:
    """SM2 encryption takes no context, so unlike HPKE the unwrap succeeds; the SM3 AAD catches it."""
    data = _seal(sm_sender, b"<Batch/>" * 300)
    head, segments = _split(data)
    header = json.loads(head[11:])
    header["batch_id"] = "b-9"
    raw = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert _refused(b"GWENV1\n" + struct.pack(">I", len(raw)) + raw + b"".join(segments), hub_key_for) == (
        "segment_tampered"
    )


def test_sm_wrapped_key_for_another_key_is_refused(sm_sender: Sender, keys_dir: Path) -> None:
    data = _seal(sm_sender, b"<Batch/>")
    stranger = sm.SM2PrivateKey.generate()
    kt = KEY_TYPES["SM2-ENC"]
    entry = KeyEntry.for_public(stranger.public, kt, owner=HUB, not_before=0, not_after=2**40)
    assert _refused(data, lambda _h: entry.decrypter(stranger)) == "unwrap_failed"


def test_a_default_suite_envelope_is_not_opened_under_the_sm_allow_list(keys_dir: Path) -> None:
    default_sender = Sender.load(keys_dir, SENDER)
    data = _seal(default_sender, b"<Batch/>")
    with pytest.raises(SuiteNotAllowed):
        read_header(io.BytesIO(data), allowed_suites=(SM_SUITE_ID,))


def test_non_default_sm2_agreements_round_trip(tmp_path: Path) -> None:
    """Both parties agree on raw r‖s, C1C2C3 and another user id; the keyring entries carry it."""
    from gateway.transfer import SM2Options

    root = tmp_path / "keys"
    options = SM2Options(user_id="XZ140900@shanxi", signature="raw", ciphertext="c1c2c3")
    generate_keys(root, SENDER, HUB, suites=(SM_SUITE_ID,), sm2=options, insecure_plaintext=True)
    sender = Sender.load(root, SENDER, suite_id=SM_SUITE_ID)
    entry = sender.signing_entry(int(time.time()))
    assert entry.params == SM2SignParams("XZ140900@shanxi", "raw")
    assert sender.recipient(int(time.time())).params == SM2EncryptParams("c1c2c3")
    src = tmp_path / "b.xml"
    src.write_bytes(b"<Batch/>")
    sealed = sender.seal(src, tmp_path / "b.gwenv", batch_id="b-1", seq=1)
    assert len(sealed.signature) == 64
    header, _ = read_header(io.BytesIO((tmp_path / "b.gwenv").read_bytes()), allowed_suites=(SM_SUITE_ID,))
    assert len(header.wrapped_key) == 65 + 32 + 16 and header.wrapped_key[0] == 0x04
    hub_ring = hub_store(root).load_keyring()
    verify_manifest(sealed.manifest, sealed.signature, hub_ring, allowed_suites=(SM_SUITE_ID,))
    default_id = dataclasses.replace(
        hub_ring.get(entry.kid, use="sign"), params=SM2SignParams(sm.DEFAULT_USER_ID, "raw")
    )
    other = Keyring(HUB, tuple(default_id if e.kid == entry.kid else e for e in hub_ring.entries))
    with pytest.raises(SignatureError):  # the hub registered the key with the wrong user id
        verify_manifest(sealed.manifest, sealed.signature, other, allowed_suites=(SM_SUITE_ID,))
    store = hub_store(root)
    opened = _open(
        (tmp_path / "b.gwenv").read_bytes(),
        lambda h: store.decrypter(hub_ring.get(h.rcpt_kid, use="encrypt")),
    )
    assert opened == b"<Batch/>"


def test_keyring_entries_carry_sm2_params_and_only_sm2_entries_may(keys_dir: Path) -> None:
    path = keys_dir / "gateway" / "keyring.json"
    doc = json.loads(path.read_text("utf-8"))
    by_kty = {k["kty"]: k for k in doc["keys"]}
    assert by_kty["SM2-SIGN"]["params"] == {"user_id": "1234567812345678", "signature": "der"}
    assert by_kty["SM2-ENC"]["params"] == {"ciphertext": "c1c3c2-der"}
    assert "params" not in by_kty["X25519"] and "params" not in by_kty["Ed25519"]
    for kty, params in (("SM2-SIGN", None), ("SM2-ENC", {"ciphertext": "c2c1c3"}), ("X25519", {})):
        broken = json.loads(path.read_text("utf-8"))
        entry = next(k for k in broken["keys"] if k["kty"] == kty)
        if params is None:
            del entry["params"]
        else:
            entry["params"] = params
        path.write_text(json.dumps(broken), "utf-8")
        with pytest.raises(FormatError):
            Keyring.load(path)


def test_suite_names_resolve_and_unknown_ones_are_refused() -> None:
    assert resolve_suite_id("sm") == resolve_suite_id(" SM ") == SM_SUITE_ID
    assert resolve_suite_id("default") == resolve_suite_id(DEFAULT_SUITE_ID) == DEFAULT_SUITE_ID
    assert parse_suite_list("sm, default,sm") == (SM_SUITE_ID, DEFAULT_SUITE_ID)
    for bad in ("aes", ""):
        with pytest.raises(SuiteNotAllowed):
            parse_suite_list(bad)
    assert get_suite(SM_SUITE_ID, BOTH).file_key_length == 16
    with pytest.raises(SuiteNotAllowed):
        Settings(home=Path("h"), keys=Path("k"), schemas=Path("s"), allowed_suites=("GW1-NOPE",))


# --------------------------------------------------------------------------------------------- hub


@pytest.fixture(scope="module")
def validator(schemas_dir: Path) -> BatchValidator:
    return BatchValidator.from_dir(schemas_dir)


def _empty_batch(path: Path, batch_id: str, seq: int) -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Batch xmlns="urn:cn:xinzhou:gateway:1" batchId="{batch_id}" seq="{seq}" sender="{SENDER}" '
        'recordType="admin_penalty" createdAt="2026-11-28T00:00:00Z" count="0" schemaVersion="1"/>',
        "utf-8",
    )
    return path


@pytest.fixture
def hub(
    request: pytest.FixtureRequest,
    keys_dir: Path,
    tmp_path: Path,
    schemas_dir: Path,
    validator: BatchValidator,
) -> Iterator[str]:
    suites: tuple[str, ...] = request.param
    settings = Settings(
        home=tmp_path / "hub", keys=keys_dir / "hub", schemas=schemas_dir, allowed_suites=suites
    )
    with ServerThread(create_app(settings, validator=validator)) as url:
        yield url


@pytest.mark.parametrize("hub", [BOTH], indirect=True)
def test_a_hub_accepting_sm_answers_an_sm_batch_with_an_sm2_signed_receipt(
    hub: str, sm_sender: Sender, keys_dir: Path, tmp_path: Path
) -> None:
    src = _empty_batch(tmp_path / "b.xml", "sm-1", 1)
    envelope = tmp_path / "sm-1.gwenv"
    sealed = sm_sender.seal(src, envelope, batch_id="sm-1", seq=1)
    with HubClient(hub, sm_sender, retries=0) as client:
        receipt = client.push(envelope, sealed, "sm-1")
    assert receipt.status == "accepted" and receipt.hub_kid.startswith("sm2sig:")
    # The same hub still signs default-suite batches with its Ed25519 key.
    default_sender = Sender.load(keys_dir, SENDER)
    src2 = _empty_batch(tmp_path / "c.xml", "ed-2", 2)
    sealed2 = default_sender.seal(src2, tmp_path / "ed-2.gwenv", batch_id="ed-2", seq=2)
    with HubClient(hub, default_sender, retries=0) as client:
        assert client.push(tmp_path / "ed-2.gwenv", sealed2, "ed-2").hub_kid.startswith("ed25519:")


@pytest.mark.parametrize("hub", [(DEFAULT_SUITE_ID,)], indirect=True)
def test_a_hub_not_configured_for_sm_refuses_the_suite_with_its_own_code(
    hub: str, sm_sender: Sender, tmp_path: Path
) -> None:
    src = _empty_batch(tmp_path / "b.xml", "sm-1", 1)
    envelope = tmp_path / "sm-1.gwenv"
    sealed = sm_sender.seal(src, envelope, batch_id="sm-1", seq=1)
    with HubClient(hub, sm_sender, retries=0) as client, pytest.raises(HubRejected) as err:
        client.push(envelope, sealed, "sm-1")
    assert (err.value.code, err.value.status, err.value.receipt) == ("unsupported_suite", 400, None)


def test_a_hub_refuses_to_start_for_a_suite_it_holds_no_keys_for(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    generate_keys(root, SENDER, HUB, insecure_plaintext=True)  # default suite only
    assert HubKeys(root / "hub", suites=(DEFAULT_SUITE_ID,)).hub_id == HUB
    with pytest.raises(KeyringError) as err:
        HubKeys(root / "hub", suites=BOTH)
    assert err.value.code == "no_valid_key"


def test_manifest_of_the_sm_suite_names_the_suite(sm_sender: Sender, tmp_path: Path) -> None:
    src = tmp_path / "b.xml"
    src.write_bytes(b"<Batch/>")
    raw = sm_sender.seal(src, tmp_path / "o", batch_id="b", seq=1).manifest
    assert Manifest.decode(raw).suite == SM_SUITE_ID
