"""The city → province transfer protocol: GWENV1 envelopes, signed manifests, signed receipts, push.

This package imports nothing else of the project (only the standard library, cryptography, gmssl-pyx
for SM2, and requests), so the reference hub can use it and an independent implementation can be checked
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
from gateway.transfer.inbound import check_manifest, open_batch
from gateway.transfer.keyring import KeyEntry, Keyring
from gateway.transfer.keystore import GATEWAY_PASSPHRASE_ENV, HUB_PASSPHRASE_ENV, KeyStore
from gateway.transfer.keytypes import Decrypter, Signer
from gateway.transfer.manifest import Manifest, sign_manifest, verify_manifest
from gateway.transfer.provision import (
    SM2Options,
    export_public,
    gateway_store,
    generate_keys,
    generate_own,
    hub_store,
    import_public,
    rotate_key,
)
from gateway.transfer.receipt import BatchReceipt, Problem, Rejection, sign_receipt, verify_receipt
from gateway.transfer.sender import Sealed, Sender
from gateway.transfer.suites import DEFAULT_SUITE_ID, SM_SUITE_ID, SUITES, Suite, get_suite, resolve_suite_id

__all__ = [
    "DEFAULT_SUITE_ID",
    "GATEWAY_PASSPHRASE_ENV",
    "HUB_PASSPHRASE_ENV",
    "SM_SUITE_ID",
    "SUITES",
    "BatchReceipt",
    "Decrypter",
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
    "ReceiptMismatch",
    "Rejection",
    "SM2Options",
    "Sealed",
    "Sender",
    "SignatureError",
    "Signer",
    "Suite",
    "SuiteNotAllowed",
    "TransferError",
    "check_manifest",
    "export_public",
    "gateway_store",
    "generate_keys",
    "generate_own",
    "get_suite",
    "hub_store",
    "import_public",
    "open_batch",
    "open_envelope",
    "read_header",
    "resolve_suite_id",
    "rotate_key",
    "seal",
    "sign_manifest",
    "sign_receipt",
    "verify_manifest",
    "verify_receipt",
]
