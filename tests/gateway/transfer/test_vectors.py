"""Known-answer vectors (tests/vectors/<suite id>.json), both directions, both suites.

Sender direction: from the vector's keys, file key, salt, nonce and wrapped key, the library must write
exactly the vector's envelope and manifest bytes. Receiver direction: the frozen envelope must open to
the plaintext and the frozen manifest signature must verify. The key wrap is randomized in both suites
(HPKE ephemeral key, SM2 k) and so is the SM2 signature, so for those the vectors freeze an output to be
opened or verified rather than reproduced; Ed25519 is deterministic and its signature is reproduced byte
for byte. A decoder written from docs/protocol.md with bare primitives checks each frozen envelope too.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gmssl_pyx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM
from cryptography.hazmat.primitives.hpke import Suite as HpkeSuite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.transfer import (
    DEFAULT_SUITE_ID,
    SM_SUITE_ID,
    EnvelopeError,
    Header,
    KeyEntry,
    Keyring,
    Manifest,
    SignatureError,
    get_suite,
    open_envelope,
    seal,
    sign_manifest,
    verify_manifest,
)
from gateway.transfer.envelope import write_envelope
from gateway.transfer.keytypes import KEY_TYPES, PrivateKey
from gateway.transfer.sm import SM2PrivateKey, SM2PublicKey

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
SUITE_IDS = (DEFAULT_SUITE_ID, SM_SUITE_ID)
FOREVER = 2**40

Vector = dict[str, Any]


def _vector(suite_id: str) -> Vector:
    return json.loads((VECTORS / f"{suite_id}.json").read_text("utf-8"))


def _private(key: Vector) -> PrivateKey:
    raw = bytes.fromhex(key["private_hex"])
    if key["kty"] == "X25519":
        return X25519PrivateKey.from_private_bytes(raw)
    if key["kty"] == "Ed25519":
        return Ed25519PrivateKey.from_private_bytes(raw)
    return SM2PrivateKey(raw, SM2PublicKey.from_bytes(bytes.fromhex(key["public_hex"])))


def _entry(key: Vector, owner: str, params: dict[str, str] | None = None) -> KeyEntry:
    kt = KEY_TYPES[key["kty"]]
    entry = KeyEntry.for_public(
        kt.public_from_raw(bytes.fromhex(key["public_hex"])),
        kt,
        owner=owner,
        not_before=0,
        not_after=FOREVER,
        params=kt.params_from_json(params if params is not None else key["params"]),
    )
    assert entry.kid == key["kid"]
    return entry


def _header(v: Vector) -> Header:
    h = v["header"]
    return Header(
        suite=v["suite"],
        rcpt_kid=v["keys"]["recipient"]["kid"],
        seg=h["seg"],
        salt=bytes.fromhex(v["salt_hex"]),
        batch_id=h["batch_id"],
        seq=h["seq"],
        sender=h["sender"],
        created_at=h["created_at"],
        content_type=h["content_type"],
        wrapped_key=bytes.fromhex(v["wrapped_key_hex"]),
    )


def _hub_keyring(v: Vector) -> Keyring:
    return Keyring("shanxi-hub", (_entry(v["keys"]["signer"], "city-001"),))


@pytest.fixture(params=SUITE_IDS)
def v(request: pytest.FixtureRequest) -> Vector:
    return _vector(request.param)


def test_each_suite_has_a_vector_and_the_private_keys_match_the_public_ones(v: Vector) -> None:
    for key in v["keys"].values():
        kt = KEY_TYPES[key["kty"]]
        private = _private(key)
        assert kt.raw_public(private.public_key()).hex() == key["public_hex"]
        assert kt.pair_consistent(private)


def test_sender_direction_writes_exactly_the_vector_bytes(v: Vector) -> None:
    suite = get_suite(v["suite"], SUITE_IDS)
    file_key = bytes.fromhex(v["file_key_hex"])
    header = _header(v)
    out = io.BytesIO()
    info = write_envelope(
        io.BytesIO(v["plaintext"].encode("utf-8")), out, header=header, file_key=file_key, suite=suite
    )
    assert out.getvalue().hex() == v["envelope_hex"]
    assert (info.header_sha256, info.envelope_sha256, info.payload_sha256, info.segments, info.size) == (
        v["header_sha256"],
        v["envelope_sha256"],
        v["payload_sha256"],
        v["segments"],
        v["size"],
    )
    assert suite.payload_key(file_key, header.salt).hex() == v["payload_key_hex"]
    head = out.getvalue()[: 11 + len(header.encode())]
    assert suite.header_digest(head).hex() == v["aad_hex"]
    signer = _entry(v["keys"]["signer"], "city-001")
    manifest = Manifest.for_envelope(info, kid=signer.kid, nonce=bytes.fromhex(v["manifest_nonce_hex"]))
    raw, signature = sign_manifest(manifest, signer.signer(_private(v["keys"]["signer"])))
    assert raw.decode("utf-8") == v["manifest"]
    if v["signature_deterministic"]:
        assert signature.hex() == v["signature_hex"]
    else:  # SM2 draws k inside GmSSL: a fresh signature differs, and it verifies like the frozen one
        assert signature.hex() != v["signature_hex"]
        assert verify_manifest(raw, signature, _hub_keyring(v), allowed_suites=SUITE_IDS) == manifest


def test_seal_takes_salt_then_file_key_from_the_injected_source(v: Vector) -> None:
    suite = get_suite(v["suite"], SUITE_IDS)
    stream = io.BytesIO(bytes.fromhex(v["salt_hex"]) + bytes.fromhex(v["file_key_hex"]))
    recipient_key = v["keys"]["recipient"]
    recipient = _entry(recipient_key, "shanxi-hub")
    out = io.BytesIO()
    h = v["header"]
    info = seal(
        io.BytesIO(v["plaintext"].encode("utf-8")),
        out,
        suite=suite,
        recipient=recipient,
        batch_id=h["batch_id"],
        seq=h["seq"],
        sender=h["sender"],
        created_at=h["created_at"],
        segment_size=h["seg"],
        randbytes=stream.read,
    )
    assert stream.read() == b""  # everything drawn, nothing else
    assert info.header.core() == _header(v).core()
    decrypter = recipient.decrypter(_private(recipient_key))
    assert (
        suite.unwrap_key(info.header.wrapped_key, decrypter, info.header.wrap_info()).hex()
        == v["file_key_hex"]
    )
    # Only the wrapped key (randomized) and what depends on it through the AAD differ from the vector.
    assert info.header.wrapped_key.hex() != v["wrapped_key_hex"]
    assert info.payload_sha256 == v["payload_sha256"]


def test_receiver_direction_opens_the_frozen_envelope_and_verifies_its_manifest(v: Vector) -> None:
    recipient_key = v["keys"]["recipient"]
    decrypter = _entry(recipient_key, "shanxi-hub").decrypter(_private(recipient_key))
    out = io.BytesIO()
    info = open_envelope(
        io.BytesIO(bytes.fromhex(v["envelope_hex"])),
        out,
        private_key_for=lambda _h: decrypter,
        allowed_suites=(v["suite"],),
    )
    assert out.getvalue().decode("utf-8") == v["plaintext"]
    manifest = verify_manifest(
        v["manifest"].encode("utf-8"),
        bytes.fromhex(v["signature_hex"]),
        _hub_keyring(v),
        allowed_suites=SUITE_IDS,
    )
    assert (manifest.envelope_sha256, manifest.payload_sha256, manifest.header_sha256) == (
        info.envelope_sha256,
        info.payload_sha256,
        info.header_sha256,
    )
    assert (manifest.segments, manifest.size, manifest.recipient_kid) == (
        info.segments,
        info.size,
        info.header.rcpt_kid,
    )


def test_the_frozen_vectors_refuse_any_change(v: Vector) -> None:
    signature = bytearray.fromhex(v["signature_hex"])
    signature[-3] ^= 0x01
    with pytest.raises(SignatureError):
        verify_manifest(v["manifest"].encode(), bytes(signature), _hub_keyring(v), allowed_suites=SUITE_IDS)
    other = v["manifest"].replace('"seq":7', '"seq":8').encode()
    with pytest.raises(SignatureError):
        verify_manifest(other, bytes.fromhex(v["signature_hex"]), _hub_keyring(v), allowed_suites=SUITE_IDS)
    envelope = bytearray.fromhex(v["envelope_hex"])
    envelope[-20] ^= 0x01
    recipient_key = v["keys"]["recipient"]
    decrypter = _entry(recipient_key, "shanxi-hub").decrypter(_private(recipient_key))
    with pytest.raises(EnvelopeError) as err:
        open_envelope(
            io.BytesIO(bytes(envelope)),
            io.BytesIO(),
            private_key_for=lambda _h: decrypter,
            allowed_suites=(v["suite"],),
        )
    assert err.value.code == "segment_tampered"


# ------------------------------------------------------------------ decoders from the specification


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _split(data: bytes) -> tuple[bytes, dict[str, Any], list[bytes]]:
    assert data[:7] == b"GWENV1\n"
    (length,) = struct.unpack(">I", data[7:11])
    header = json.loads(data[11 : 11 + length])
    body, full = data[11 + length :], header["seg"] + 16
    return data[: 11 + length], header, [body[i : i + full] for i in range(0, len(body), full)] or [b""]


def _nonce(i: int, last: bool) -> bytes:
    return i.to_bytes(11, "big") + bytes([last])


def _open_default(data: bytes, key: Vector) -> bytes:
    head, header, chunks = _split(data)
    core = {k: x for k, x in header.items() if k != "wrapped_key"}
    info = b"gwenv1|" + json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    private = X25519PrivateKey.from_private_bytes(bytes.fromhex(key["private_hex"]))
    hpke = HpkeSuite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    file_key = hpke.decrypt(_unb64(header["wrapped_key"]), private, info=info)
    payload_key = HKDF(hashes.SHA256(), 32, _unb64(header["salt"]), b"gwenv1 payload").derive(file_key)
    aad = hashes.Hash(hashes.SHA256())
    aad.update(head)
    digest, aead = aad.finalize(), AESGCM(payload_key)
    return b"".join(aead.decrypt(_nonce(i, i == len(chunks) - 1), c, digest) for i, c in enumerate(chunks))


def _open_sm(data: bytes, key: Vector) -> bytes:
    """SM2 (DER C1C3C2) unwrap with gmssl-pyx itself, HKDF-SM3, SM4-GCM, SM3 of preamble ‖ header."""
    head, header, chunks = _split(data)
    file_key = gmssl_pyx.sm2_decrypt(bytes.fromhex(key["private_hex"]), _unb64(header["wrapped_key"]))
    payload_key = HKDF(hashes.SM3(), 16, _unb64(header["salt"]), b"gwenv1 payload").derive(file_key)
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(head)
    aad = sm3.finalize()
    out = []
    for i, chunk in enumerate(chunks):
        nonce = _nonce(i, i == len(chunks) - 1)
        decryptor = Cipher(algorithms.SM4(payload_key), modes.GCM(nonce, chunk[-16:])).decryptor()
        decryptor.authenticate_additional_data(aad)
        out.append(decryptor.update(chunk[:-16]) + decryptor.finalize())
    return b"".join(out)


INDEPENDENT: dict[str, Callable[[bytes, Vector], bytes]] = {
    DEFAULT_SUITE_ID: _open_default,
    SM_SUITE_ID: _open_sm,
}


def test_a_decoder_written_from_the_specification_opens_each_vector(v: Vector) -> None:
    opened = INDEPENDENT[v["suite"]](bytes.fromhex(v["envelope_hex"]), v["keys"]["recipient"])
    assert opened.decode("utf-8") == v["plaintext"]


def test_the_sm_vector_opens_and_verifies_in_every_agreed_encoding() -> None:
    v = _vector(SM_SUITE_ID)
    suite = get_suite(SM_SUITE_ID, SUITE_IDS)
    recipient_key, signer_key = v["keys"]["recipient"], v["keys"]["signer"]
    info = _header(v).wrap_info()
    for layout, wrapped in v["sm2_encodings"]["wrapped_key"].items():
        entry = _entry(recipient_key, "shanxi-hub", {"ciphertext": layout})
        decrypter = entry.decrypter(_private(recipient_key))
        assert suite.unwrap_key(bytes.fromhex(wrapped), decrypter, info).hex() == v["file_key_hex"]
    assert v["sm2_encodings"]["wrapped_key"]["c1c3c2-der"] == v["wrapped_key_hex"]
    data = b"gwenv1 manifest\0" + v["manifest"].encode()
    for encoding, signature in v["sm2_encodings"]["signature"].items():
        entry = _entry(signer_key, "city-001", {"user_id": "1234567812345678", "signature": encoding})
        entry.verify(bytes.fromhex(signature), data)
        other = _entry(signer_key, "city-001", {"user_id": "ALICE123@YAHOO.COM", "signature": encoding})
        with pytest.raises(SignatureError):  # Z_A binds the user id: another id, another message
            other.verify(bytes.fromhex(signature), data)
