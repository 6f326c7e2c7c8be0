"""Every refusal the hub makes, each with its own code, status and (when authentic) signed receipt."""

from __future__ import annotations

import base64
import dataclasses
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.transfer import (
    BatchReceipt,
    HubClient,
    HubRejected,
    Manifest,
    Sealed,
    Sender,
    gateway_store,
    sign_manifest,
    verify_receipt,
)
from gateway.transfer.keytypes import KEY_TYPES
from gateway.transfer.protocol import RECEIPT_SIGNATURE_HEADER, REPLAYED_HEADER
from hub.report import build_report
from hub.settings import Settings

from .conftest import SENDER, Rec

Seal = Callable[..., tuple[Path, Sealed]]
Post = Callable[..., requests.Response]
Resign = Callable[..., Sealed]


def _refused(
    response: requests.Response, sender: Sender, status: int, code: str, *, signed: bool
) -> BatchReceipt | None:
    assert response.status_code == status, response.content
    if not signed:
        assert RECEIPT_SIGNATURE_HEADER not in response.headers
        assert response.json()["error"]["code"] == code
        return None
    signature = base64.b64decode(response.headers[RECEIPT_SIGNATURE_HEADER])
    receipt = verify_receipt(response.content, signature, sender.keyring, hub_id=sender.hub_id)
    assert (receipt.status, receipt.accepted) == ("rejected", 0)
    assert receipt.error is not None and receipt.error.code == code
    return receipt


def _segments(data: bytes, seg: int) -> tuple[bytes, list[bytes]]:
    (length,) = struct.unpack(">I", data[7:11])
    head, rest = data[: 11 + length], data[11 + length :]
    return head, [rest[i : i + seg + 16] for i in range(0, len(rest), seg + 16)]


@pytest.fixture
def small_segments(keys_root: Path) -> Sender:
    """The same sender, sealing 4 KiB segments so that a small batch spans several of them."""
    store = gateway_store(keys_root)
    keyring = store.load_keyring()
    own = [e for e in keyring.entries if e.owner == SENDER]
    return Sender(SENDER, keyring, {e.kid: store.load_private(e) for e in own}, segment_size=4096)


def test_a_bit_flip_in_transit_is_refused_and_not_recorded(
    sender: Sender, seal_batch: Seal, post_raw: Post, settings: Settings
) -> None:
    envelope, sealed = seal_batch("b-1", 1)
    data = bytearray(envelope.read_bytes())
    data[-20] ^= 0x04
    _refused(post_raw(bytes(data), sealed), sender, 422, "envelope_mismatch", signed=False)
    assert build_report(settings.db_path)["batches"]["total"] == 0
    # Nothing was consumed: the intact envelope is still accepted under the same batch id.
    assert post_raw(envelope.read_bytes(), sealed).status_code == 200


def test_a_tampered_segment_under_a_valid_signature_gets_a_signed_rejection(
    sender: Sender, seal_batch: Seal, post_raw: Post, resign: Resign, settings: Settings
) -> None:
    envelope, sealed = seal_batch("b-1", 1)
    data = bytearray(envelope.read_bytes())
    data[-20] ^= 0x04
    forged = resign(bytes(data), sealed)
    receipt = _refused(post_raw(bytes(data), forged), sender, 422, "segment_tampered", signed=True)
    retry = post_raw(bytes(data), forged)
    assert retry.headers[REPLAYED_HEADER] == "true" and retry.content == receipt.encode()  # type: ignore[union-attr]
    report = build_report(settings.db_path)
    assert report["batches"] == {"total": 1, "accepted": 0, "rejected": 1}
    assert not (settings.received_dir / SENDER / "b-1.xml").exists()


def test_truncation_at_a_segment_boundary_is_detected(
    sender: Sender, small_segments: Sender, seal_batch: Seal, post_raw: Post, resign: Resign
) -> None:
    envelope, sealed = seal_batch("b-1", 1, using=small_segments, records=[Rec()] * 12)
    head, segments = _segments(envelope.read_bytes(), 4096)
    assert len(segments) >= 3
    cut = head + b"".join(segments[:-1])
    forged = resign(cut, sealed, segments=len(segments) - 1)
    _refused(post_raw(cut, forged), sender, 422, "truncated", signed=True)


def test_a_swapped_header_is_detected(
    sender: Sender, small_segments: Sender, seal_batch: Seal, post_raw: Post, resign: Resign
) -> None:
    a, _ = seal_batch("b-a", 1, using=small_segments, records=[Rec()] * 6)
    b, sealed_b = seal_batch("b-b", 2, using=small_segments, records=[Rec()] * 6)
    _, segments_a = _segments(a.read_bytes(), 4096)
    head_b, _ = _segments(b.read_bytes(), 4096)
    franken = head_b + b"".join(segments_a)
    _refused(post_raw(franken, resign(franken, sealed_b)), sender, 422, "segment_tampered", signed=True)


def test_a_header_that_contradicts_the_manifest_is_refused(
    sender: Sender, seal_batch: Seal, post_raw: Post, resign: Resign
) -> None:
    envelope, sealed = seal_batch("b-1", 5)
    body = envelope.read_bytes()
    forged = resign(body, sealed, seq=6)  # the header inside still says 5
    _refused(post_raw(body, forged), sender, 422, "header_mismatch", signed=True)


def test_a_replayed_nonce_under_a_new_batch_id_is_refused(
    sender: Sender, seal_batch: Seal, post_raw: Post, resign: Resign
) -> None:
    first, sealed_first = seal_batch("b-1", 1)
    assert post_raw(first.read_bytes(), sealed_first).status_code == 200
    second, sealed_second = seal_batch("b-2", 2)
    nonce = Manifest.decode(sealed_first.manifest).nonce
    replay = resign(second.read_bytes(), sealed_second, nonce=nonce)
    _refused(post_raw(second.read_bytes(), replay), sender, 409, "replayed_nonce", signed=True)
    assert post_raw(second.read_bytes(), sealed_second).status_code == 200  # its own fresh nonce is fine


def test_sequence_numbers_must_strictly_increase(hub_url: str, sender: Sender, seal_batch: Seal) -> None:
    with HubClient(hub_url, sender, retries=0) as client:
        client.push(*seal_batch("b-5", 5), "b-5")
        for batch_id, seq in (("b-3", 3), ("b-5bis", 5)):
            with pytest.raises(HubRejected) as err:
                client.push(*seal_batch(batch_id, seq), batch_id)
            assert (err.value.status, err.value.code) == (409, "seq_not_increasing")
            assert err.value.receipt is not None
        assert client.push(*seal_batch("b-9", 9), "b-9").status == "accepted"  # gaps are allowed


@pytest.mark.parametrize("offset", [-1000, 1000])
def test_a_stale_or_future_timestamp_is_refused(
    hub_url: str, sender: Sender, seal_batch: Seal, settings: Settings, offset: int
) -> None:
    envelope, sealed = seal_batch("b-1", 1, created_at=int(time.time()) + offset)
    with HubClient(hub_url, sender, retries=0) as client, pytest.raises(HubRejected) as err:
        client.push(envelope, sealed, "b-1")
    assert (err.value.status, err.value.code) == (422, "stale_timestamp")
    assert err.value.receipt is not None
    assert build_report(settings.db_path)["batches"]["total"] == 0  # not recorded: a fresh re-seal may follow


def test_an_unknown_signing_key_is_refused(sender: Sender, seal_batch: Seal, post_raw: Post) -> None:
    envelope, sealed = seal_batch("b-1", 1)
    stranger = Ed25519PrivateKey.generate()
    manifest = dataclasses.replace(
        Manifest.decode(sealed.manifest), kid=KEY_TYPES["Ed25519"].kid(stranger.public_key())
    )
    raw, signature = sign_manifest(manifest, stranger, "Ed25519")
    forged = Sealed(raw, signature, sealed.envelope_sha256, sealed.size)
    _refused(post_raw(envelope.read_bytes(), forged), sender, 401, "unknown_kid", signed=False)


def test_a_bad_signature_is_refused(sender: Sender, seal_batch: Seal, post_raw: Post) -> None:
    envelope, sealed = seal_batch("b-1", 1)
    broken = Sealed(sealed.manifest, bytes(64), sealed.envelope_sha256, sealed.size)
    _refused(post_raw(envelope.read_bytes(), broken), sender, 401, "bad_signature", signed=False)


def test_a_sender_using_another_partys_key_is_refused(
    sender: Sender, seal_batch: Seal, post_raw: Post, keys_root: Path
) -> None:
    envelope, sealed = seal_batch("b-1", 1)
    manifest = dataclasses.replace(Manifest.decode(sealed.manifest), sender="city-002")
    entry = sender.signing_entry(manifest.created_at)
    raw, signature = sign_manifest(manifest, gateway_store(keys_root).load_private(entry), entry.kty)
    forged = Sealed(raw, signature, sealed.envelope_sha256, sealed.size)
    _refused(post_raw(envelope.read_bytes(), forged), sender, 403, "sender_mismatch", signed=False)


def test_an_invalid_batch_gets_per_record_rejections(
    hub_url: str, sender: Sender, seal_batch: Seal, settings: Settings
) -> None:
    negative = Rec("i", (("CF_NR_FK", "-1"),))
    envelope, sealed = seal_batch("b-1", 1, records=[Rec(), negative, Rec(), negative])
    with HubClient(hub_url, sender, retries=0) as client:
        with pytest.raises(HubRejected) as err:
            client.push(envelope, sealed, "b-1")
        receipt = err.value.receipt
        assert (err.value.status, err.value.code) == (422, "invalid_xml")
        assert receipt is not None
        assert [(r.index, r.code) for r in receipt.rejected] == [(1, "invalid_record"), (3, "invalid_record")]
        assert receipt.rejected[0].key == "11140900MB0000000X|忻市监罚〔2024〕2号"
        assert "CF_NR_FK" in receipt.rejected[0].message
        with pytest.raises(HubRejected) as again:  # the decision is stored: a retry gets the same receipt
            client.push(envelope, sealed, "b-1")
        assert again.value.receipt == receipt
    report = build_report(settings.db_path)
    assert report["batches"]["rejected"] == 1 and report["records"]["total"] == 0
    assert report["senders"][SENDER]["last_seq"] is None  # a rejected batch does not advance the sequence


def test_batch_attributes_must_repeat_the_signed_manifest(
    hub_url: str, sender: Sender, seal_batch: Seal
) -> None:
    envelope, sealed = seal_batch("b-1", 1, sender="city-999", count=7)
    with HubClient(hub_url, sender, retries=0) as client, pytest.raises(HubRejected) as err:
        client.push(envelope, sealed, "b-1")
    assert err.value.code == "invalid_xml"
    assert "Batch/@sender" in err.value.message and "Batch/@count" in err.value.message
