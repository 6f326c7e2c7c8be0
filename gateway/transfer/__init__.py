"""The city → province transfer protocol: GWENV1 envelopes, signed manifests, signed receipts, push.

This package imports nothing else of the project (only the standard library, cryptography and
requests), so the reference hub can use it and an independent implementation can be checked
against it. The wire format is specified in docs/protocol.md.
"""

from gateway.transfer.client import HubClient
from gateway.transfer.envelope import EnvelopeInfo, Header, open_envelope, read_header, seal
from gateway.transfer.errors import (
    EnvelopeError,
    FormatError,
    HubRejected,
    HubUnavailable,
    KeyringError,
    ReceiptMismatch,
    SignatureError,
    SuiteNotAllowed,
    TransferError,
)
from gateway.transfer.keyring import KeyEntry, Keyring
from gateway.transfer.keystore import GATEWAY_PASSPHRASE_ENV, HUB_PASSPHRASE_ENV, KeyStore
from gateway.transfer.manifest import Manifest, sign_manifest, verify_manifest
from gateway.transfer.provision import gateway_store, generate_keys, hub_store
from gateway.transfer.receipt import Problem, Receipt, Rejection, sign_receipt, verify_receipt
from gateway.transfer.sender import Sealed, Sender
from gateway.transfer.suites import DEFAULT_SUITE_ID, SUITES, Suite, get_suite

__all__ = [
    "DEFAULT_SUITE_ID",
    "GATEWAY_PASSPHRASE_ENV",
    "HUB_PASSPHRASE_ENV",
    "SUITES",
    "EnvelopeError",
    "EnvelopeInfo",
    "FormatError",
    "Header",
    "HubClient",
    "HubRejected",
    "HubUnavailable",
    "KeyEntry",
    "KeyStore",
    "Keyring",
    "KeyringError",
    "Manifest",
    "Problem",
    "Receipt",
    "ReceiptMismatch",
    "Rejection",
    "Sealed",
    "Sender",
    "SignatureError",
    "Suite",
    "SuiteNotAllowed",
    "TransferError",
    "gateway_store",
    "generate_keys",
    "get_suite",
    "hub_store",
    "open_envelope",
    "read_header",
    "seal",
    "sign_manifest",
    "sign_receipt",
    "verify_manifest",
    "verify_receipt",
]
