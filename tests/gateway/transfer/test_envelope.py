from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import struct
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM
from cryptography.hazmat.primitives.hpke import Suite as HpkeSuite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.transfer import (
    DEFAULT_SUITE_ID,
    EnvelopeError,
    Header,
    Sender,
    SuiteNotAllowed,
    get_suite,
    hub_store,
    open_envelope,
    read_header,
    seal,
)
from gateway.transfer.envelope import MAX_HEADER_SIZE, write_envelope
from gateway.transfer.keytypes import PrivateKey
from gateway.transfer.wire import canonical_json

SEG = 1024
VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text("utf-8"))
KeyFor = Callable[[Header], PrivateKey]
Split = Callable[[bytes, int], tuple[bytes, list[bytes]]]


def _seal(sender: Sender, payload: bytes, *, seg: int = SEG, batch_id: str = "b-1", seq: int = 1) -> bytes:
    out = io.BytesIO()
    seal(
        io.BytesIO(payload),
        out,
        suite=sender.suite,
        recipient=sender.recipient(int(time.time())),
        batch_id=batch_id,
        seq=seq,
        sender=sender.sender_id,
        created_at=int(time.time()),
        segment_size=seg,
    )
    return out.getvalue()


def _open(data: bytes, key_for: KeyFor) -> bytes:
    out = io.BytesIO()
    open_envelope(io.BytesIO(data), out, private_key_for=key_for)
    return out.getvalue()


def _open_code(data: bytes, key_for: KeyFor) -> str:
    with pytest.raises(EnvelopeError) as err:
        _open(data, key_for)
    return err.value.code


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 5])
def test_round_trip_at_segment_edges(sender: Sender, hub_private_key_for: KeyFor, size: int) -> None:
    payload = os.urandom(size)
    data = _seal(sender, payload)
    out = io.BytesIO()
    info = open_envelope(io.BytesIO(data), out, private_key_for=hub_private_key_for)
    assert out.getvalue() == payload
    assert info.segments == max(1, -(-size // SEG))
    assert info.size == len(data)
    assert info.envelope_sha256 == hashlib.sha256(data).hexdigest()
    assert info.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert info.header.batch_id == "b-1"


def test_empty_payload_is_one_tag_only_segment(sender: Sender, split_envelope: Split) -> None:
    _, segments = split_envelope(_seal(sender, b""), SEG)
    assert [len(s) for s in segments] == [16]


def test_missing_final_segment_at_a_boundary_is_truncation(
    sender: Sender, hub_private_key_for: KeyFor, split_envelope: Split
) -> None:
    head, segments = split_envelope(_seal(sender, os.urandom(3 * SEG + 5)), SEG)
    assert len(segments) == 4
    assert _open_code(head + b"".join(segments[:3]), hub_private_key_for) == "truncated"
    assert _open_code(head, hub_private_key_for) == "truncated"


def test_data_after_the_final_segment_is_refused(
    sender: Sender, hub_private_key_for: KeyFor, split_envelope: Split
) -> None:
    data = _seal(sender, os.urandom(2 * SEG))  # the final segment is a full one
    _, segments = split_envelope(data, SEG)
    assert _open_code(data + segments[0], hub_private_key_for) == "trailing_data"
    assert _open_code(data + b"x", hub_private_key_for) == "trailing_data"
    short = _seal(sender, os.urandom(SEG + 7))  # short final segment: appended bytes break its tag
    assert _open_code(short + b"xyz", hub_private_key_for) == "segment_tampered"


def test_reordered_segments_are_refused(
    sender: Sender, hub_private_key_for: KeyFor, split_envelope: Split
) -> None:
    head, s = split_envelope(_seal(sender, os.urandom(3 * SEG + 5)), SEG)
    assert _open_code(head + s[1] + s[0] + s[2] + s[3], hub_private_key_for) == "segment_tampered"


@pytest.mark.parametrize("segment", [0, 2, 3])
def test_a_bit_flip_in_any_segment_is_refused(
    sender: Sender, hub_private_key_for: KeyFor, split_envelope: Split, segment: int
) -> None:
    head, s = split_envelope(_seal(sender, os.urandom(3 * SEG + 5)), SEG)
    flipped = bytearray(s[segment])
    flipped[len(flipped) // 2] ^= 0x01
    s[segment] = bytes(flipped)
    with pytest.raises(EnvelopeError, match=f"第 {segment} 段"):
        _open(head + b"".join(s), hub_private_key_for)


def test_editing_a_header_field_breaks_the_key_unwrap(
    sender: Sender, hub_private_key_for: KeyFor, split_envelope: Split
) -> None:
    head, s = split_envelope(_seal(sender, b"<Batch/>", seq=1), SEG)
    header = json.loads(head[11:])
    header["seq"] = 2  # still canonical, still parses: only the HPKE info binding catches it
    raw = canonical_json(header)
    forged = b"GWENV1\n" + struct.pack(">I", len(raw)) + raw + b"".join(s)
    assert _open_code(forged, hub_private_key_for) == "unwrap_failed"


def test_a_header_swapped_in_from_another_envelope_fails_at_segment_zero(
    sender: Sender, hub_private_key_for: KeyFor, split_envelope: Split
) -> None:
    _, seg_a = split_envelope(_seal(sender, os.urandom(2 * SEG), batch_id="a"), SEG)
    head_b, _ = split_envelope(_seal(sender, os.urandom(2 * SEG), batch_id="b"), SEG)
    with pytest.raises(EnvelopeError, match="第 0 段") as err:
        _open(head_b + b"".join(seg_a), hub_private_key_for)
    assert err.value.code == "segment_tampered"


def test_an_envelope_for_another_recipient_cannot_be_opened(sender: Sender) -> None:
    data = _seal(sender, b"<Batch/>")
    assert _open_code(data, lambda _h: X25519PrivateKey.generate()) == "unwrap_failed"


def test_preamble_and_header_caps(sender: Sender) -> None:
    data = _seal(sender, b"<Batch/>")
    with pytest.raises(EnvelopeError) as err:
        read_header(io.BytesIO(b"GWENV2\n" + data[7:]))
    assert err.value.code == "bad_magic"
    with pytest.raises(EnvelopeError) as err:
        read_header(io.BytesIO(b"GWENV1\n" + struct.pack(">I", MAX_HEADER_SIZE + 1) + b"{}"))
    assert err.value.code == "header_too_large"
    with pytest.raises(EnvelopeError) as err:
        read_header(io.BytesIO(data[:9]))
    assert err.value.code == "truncated"
    with pytest.raises(EnvelopeError) as err:
        read_header(io.BytesIO(data[:40]))
    assert err.value.code == "truncated"


@pytest.mark.parametrize(
    "edit",
    [
        lambda h: h.update(extra=1),
        lambda h: h.pop("content_type"),
        lambda h: h.update(seg=1000),  # not a power of two
        lambda h: h.update(seg=1 << 23),  # above the memory bound
        lambda h: h.update(v=2),
        lambda h: h.update(sender="../etc"),
        lambda h: h.update(salt="AAAA"),
        lambda h: h.update(seq=-1),
    ],
)
def test_header_parsing_is_strict(
    sender: Sender, split_envelope: Split, edit: Callable[[dict], object]
) -> None:
    head, _ = split_envelope(_seal(sender, b"<Batch/>"), SEG)
    header = json.loads(head[11:])
    edit(header)
    raw = canonical_json(header)
    with pytest.raises(EnvelopeError) as err:
        read_header(io.BytesIO(b"GWENV1\n" + struct.pack(">I", len(raw)) + raw))
    assert err.value.code in ("bad_header", "unsupported_version")


def test_non_canonical_header_bytes_are_refused(sender: Sender, split_envelope: Split) -> None:
    head, _ = split_envelope(_seal(sender, b"<Batch/>"), SEG)
    raw = json.dumps(json.loads(head[11:]), indent=1).encode()
    with pytest.raises(EnvelopeError, match="规范化"):
        read_header(io.BytesIO(b"GWENV1\n" + struct.pack(">I", len(raw)) + raw))


def test_a_suite_not_on_the_allow_list_is_refused(sender: Sender) -> None:
    data = _seal(sender, b"<Batch/>")
    with pytest.raises(SuiteNotAllowed):
        read_header(io.BytesIO(data), allowed_suites=("GW1-SOMETHING-ELSE",))


def test_payload_known_answer_vector() -> None:
    """Freezes the framing: key derivation, nonces, AAD and layout must not drift."""
    v = VECTORS["payload_vector"]
    suite = get_suite(DEFAULT_SUITE_ID)
    header = Header(
        suite=suite.id,
        rcpt_kid=v["rcpt_kid"],
        seg=v["seg"],
        salt=bytes.fromhex(v["salt_hex"]),
        batch_id=v["batch_id"],
        seq=v["seq"],
        sender=v["sender"],
        created_at=v["created_at"],
        content_type=v["content_type"],
        wrapped_key=bytes.fromhex(v["wrapped_key_hex"]),
    )
    payload = bytes(i % 251 for i in range(2500))
    out = io.BytesIO()
    info = write_envelope(
        io.BytesIO(payload), out, header=header, file_key=bytes.fromhex(v["file_key_hex"]), suite=suite
    )
    assert suite.payload_key(bytes.fromhex(v["file_key_hex"]), header.salt).hex() == v["payload_key_hex"]
    assert (info.envelope_sha256, info.header_sha256, info.segments, info.size) == (
        v["envelope_sha256"],
        v["header_sha256"],
        v["segments"],
        v["size"],
    )


def test_receiver_known_answer_vector() -> None:
    v = VECTORS["receiver_vector"]
    key = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["x25519_private_hex"]))
    out = io.BytesIO()
    info = open_envelope(io.BytesIO(bytes.fromhex(v["envelope_hex"])), out, private_key_for=lambda _h: key)
    assert out.getvalue().decode("utf-8") == v["plaintext"]
    assert (info.header.rcpt_kid, info.envelope_sha256, info.payload_sha256) == (
        v["rcpt_kid"],
        v["envelope_sha256"],
        v["payload_sha256"],
    )


def _independent_open(data: bytes, key: X25519PrivateKey) -> bytes:
    """A second decoder written from docs/protocol.md with bare primitives, none of our framing code."""
    assert data[:7] == b"GWENV1\n"
    (length,) = struct.unpack(">I", data[7:11])
    header_bytes = data[11 : 11 + length]
    header = json.loads(header_bytes)
    core = {k: v for k, v in header.items() if k != "wrapped_key"}
    info = b"gwenv1|" + json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def unb64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    hpke = HpkeSuite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    file_key = hpke.decrypt(unb64(header["wrapped_key"]), key, info=info)
    payload_key = HKDF(hashes.SHA256(), 32, unb64(header["salt"]), b"gwenv1 payload").derive(file_key)
    aad = hashlib.sha256(data[: 11 + length]).digest()
    body, full = data[11 + length :], header["seg"] + 16
    chunks = [body[i : i + full] for i in range(0, len(body), full)] or [b""]
    aead = AESGCM(payload_key)
    return b"".join(
        aead.decrypt(i.to_bytes(11, "big") + bytes([i == len(chunks) - 1]), c, aad)
        for i, c in enumerate(chunks)
    )


def test_an_independent_decoder_reads_what_we_seal(sender: Sender, keys_dir: Path) -> None:
    store = hub_store(keys_dir)
    key = store.load_private(
        store.load_keyring().current(owner=sender.hub_id, use="encrypt", at=int(time.time()))
    )
    for payload in (b"", os.urandom(SEG), os.urandom(3 * SEG + 11)):
        assert _independent_open(_seal(sender, payload), key) == payload


def test_fifty_megabytes_seal_and_open_in_bounded_memory(
    sender: Sender, hub_private_key_for: KeyFor, tmp_path: Path
) -> None:
    size = 50 * 1000 * 1000
    src, env, out = tmp_path / "big.xml", tmp_path / "big.gwenv", tmp_path / "big.out"
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with src.open("wb") as fh:
        for offset in range(0, size, len(block)):
            piece = block[: min(len(block), size - offset)]
            fh.write(piece)
            digest.update(piece)
    tracemalloc.start()
    try:
        sealed = sender.seal(src, env, batch_id="big-1", seq=1)
        _, seal_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with env.open("rb") as fin, out.open("wb") as fout:
            info = open_envelope(fin, fout, private_key_for=hub_private_key_for)
        _, open_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sealed.size == env.stat().st_size == info.size
    assert info.payload_sha256 == digest.hexdigest()
    assert info.segments == -(-size // (1 << 20))
    # Two 1 MiB segments plus their ciphertexts are in flight; 50 MB would show up as ≥ 50 MB.
    print(f"tracemalloc peak, MB: seal {seal_peak / 1e6:.1f}, open {open_peak / 1e6:.1f}")
    assert seal_peak < 8 << 20, seal_peak
    assert open_peak < 8 << 20, open_peak


def test_sealing_refuses_a_signing_key_as_recipient(sender: Sender) -> None:
    own = sender.signing_entry(int(time.time()))
    with pytest.raises(EnvelopeError):
        seal(
            io.BytesIO(b""),
            io.BytesIO(),
            suite=sender.suite,
            recipient=dataclasses.replace(own),
            batch_id="b",
            seq=1,
            sender=sender.sender_id,
            created_at=int(time.time()),
        )
