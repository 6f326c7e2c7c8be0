from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from gateway.transfer import (
    BatchReceipt,
    FormatError,
    Keyring,
    KeyringError,
    Problem,
    Rejection,
    Sender,
    SignatureError,
    gateway_store,
    hub_store,
    sign_receipt,
    verify_receipt,
)


@pytest.fixture
def receipt(hub_keyring: Keyring) -> BatchReceipt:
    now = int(time.time())
    return BatchReceipt(
        batch_id="b-1",
        sender="city-001",
        envelope_sha256="ab" * 32,
        status="rejected",
        accepted=0,
        rejected=(
            Rejection(
                index=3,
                key="11140900MB0000000X|忻市监罚〔2024〕12号",
                code="invalid_record",
                message="金额为负",
            ),
        ),
        error=Problem("invalid_xml", "批次不符合 batch.xsd"),
        received_at=now,
        hub_kid=hub_keyring.current(owner="shanxi-hub", use="sign", at=now).kid,
    )


def _hub_sign(keys_dir: Path, receipt: BatchReceipt) -> tuple[bytes, bytes]:
    store = hub_store(keys_dir)
    entry = store.load_keyring().get(receipt.hub_kid, use="sign")
    return sign_receipt(receipt, store.load_private(entry), entry.kty)


def test_receipt_round_trip(keys_dir: Path, sender: Sender, receipt: BatchReceipt) -> None:
    raw, signature = _hub_sign(keys_dir, receipt)
    verified = verify_receipt(raw, signature, sender.keyring, hub_id="shanxi-hub")
    assert verified == receipt
    assert (verified.raw, verified.signature) == (raw, signature)  # kept for the sender's evidence archive
    assert b'"rejected":[{"code":"invalid_record","index":3,' in raw


def test_an_edited_receipt_does_not_verify(keys_dir: Path, sender: Sender, receipt: BatchReceipt) -> None:
    raw, signature = _hub_sign(keys_dir, receipt)
    with pytest.raises(SignatureError):
        verify_receipt(raw.replace(b'"index":3', b'"index":4'), signature, sender.keyring)
    with pytest.raises(FormatError) as err:  # a rejected receipt that claims stored records is malformed
        verify_receipt(raw.replace(b'"accepted":0', b'"accepted":9'), signature, sender.keyring)
    assert err.value.code == "bad_receipt"
    with pytest.raises(FormatError):
        verify_receipt(raw + b" ", signature, sender.keyring)


def test_a_receipt_signed_by_the_sender_itself_is_refused(
    keys_dir: Path, sender: Sender, receipt: BatchReceipt
) -> None:
    own = sender.signing_entry(receipt.received_at)
    forged = dataclasses.replace(receipt, status="accepted", error=None, rejected=(), hub_kid=own.kid)
    raw, signature = sign_receipt(forged, gateway_store(keys_dir).load_private(own), own.kty)
    with pytest.raises(KeyringError) as err:
        verify_receipt(raw, signature, sender.keyring)
    assert err.value.code == "receipt_wrong_signer"


def test_the_expected_hub_is_enforced(keys_dir: Path, sender: Sender, receipt: BatchReceipt) -> None:
    raw, signature = _hub_sign(keys_dir, receipt)
    with pytest.raises(KeyringError) as err:
        verify_receipt(raw, signature, sender.keyring, hub_id="another-hub")
    assert err.value.code == "receipt_wrong_signer"


def test_receipt_fields_are_strict(receipt: BatchReceipt) -> None:
    raw = receipt.encode()
    with pytest.raises(FormatError):
        BatchReceipt.decode(raw.replace(b'"status":"rejected"', b'"status":"maybe"'))
    with pytest.raises(FormatError):
        BatchReceipt.decode(raw.replace(b'"index":3', b'"index":-3'))
    assert BatchReceipt.decode(raw) == receipt
