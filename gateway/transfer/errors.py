"""Exceptions of the transfer protocol.

Every failure carries a stable machine ``code`` (the same strings the hub puts on the wire), so callers
decide on retry, quarantine or alerting by code, never by parsing a message. Messages are Chinese
because platform engineers and department staff read them in receipts and logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.transfer.receipt import BatchReceipt


class TransferError(Exception):
    """Base class; ``code`` is stable and documented in docs/protocol.md."""

    code: str = "transfer_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class FormatError(TransferError):
    """A header, manifest, receipt or keyring is not in the exact form the protocol allows."""

    code = "bad_format"


class SuiteNotAllowed(TransferError):
    """The suite id is unknown or not on this party's allow-list."""

    code = "unsupported_suite"


class EnvelopeError(TransferError):
    """The envelope cannot be opened: framing, key unwrap or segment authentication failed."""

    code = "bad_envelope"


class KeyringError(TransferError):
    """No usable key: unknown kid, wrong use or owner, outside its validity window, unreadable file."""

    code = "unknown_kid"


class SignatureError(TransferError):
    """A detached signature does not verify over the exact bytes received."""

    code = "bad_signature"


class ReceiptMismatch(TransferError):
    """A validly signed receipt that answers a different batch or envelope than the one pushed."""

    code = "receipt_mismatch"


class HubRejected(TransferError):
    """The hub refused the batch (a non-retryable 4xx); ``receipt`` is set when the hub signed one."""

    code = "hub_rejected"

    def __init__(self, message: str, *, code: str, status: int, receipt: BatchReceipt | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.receipt = receipt


class HubUnavailable(TransferError):
    """Every attempt failed with a retryable condition (5xx, 429, timeout, connection error)."""

    code = "hub_unavailable"
