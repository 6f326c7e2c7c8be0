"""Push a sealed batch to the hub and return only a verified, matching receipt.

The body is streamed from the file (requests sends a file object in blocks), so a batch of hundreds of
MB never sits in memory. Retries are safe because the batch id is the idempotency key: a batch the hub
already holds is answered with its stored receipt, never stored twice.

Over HTTPS the session trusts only the SSLContext built by gateway.transfer.tls (the hub's CA, the
client certificate, an encrypted key opened with GATEWAY_TLS_KEY_PASSPHRASE), mounted as an adapter.
"""

from __future__ import annotations

import base64
import logging
import random
import time
from pathlib import Path
from types import TracebackType

import requests

from gateway.transfer.errors import (
    FormatError,
    HubRejected,
    HubUnavailable,
    TransferError,
)
from gateway.transfer.manifest import Manifest
from gateway.transfer.protocol import (
    BATCHES_PATH,
    ENVELOPE_MEDIA_TYPE,
    HEALTH_PATH,
    IDEMPOTENCY_HEADER,
    MANIFEST_HEADER,
    MAX_SIGNATURE_SIZE,
    RECEIPT_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
)
from gateway.transfer.receipt import BatchReceipt, verify_receipt
from gateway.transfer.sender import Sealed, Sender
from gateway.transfer.tls import GATEWAY_TLS_PASSPHRASE_ENV, PinnedTLSAdapter, client_context, explain
from gateway.transfer.wire import b64_std_decode

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
_RETRYABLE_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)

ClientCert = str | Path | tuple[str | Path, str | Path]


def _tls_adapter(verify: bool | str | Path, cert: ClientCert | None, passphrase_env: str) -> PinnedTLSAdapter:
    if verify is False:
        raise TransferError(
            "不允许关闭平台证书校验（verify=False）：任何人都能冒充平台接收数据；请配置平台 CA 文件",
            code="tls_config",
        )
    ca = None if verify is True else Path(verify)
    cert_path: Path | None = None
    key_path: Path | None = None
    if isinstance(cert, tuple):
        cert_path, key_path = Path(cert[0]), Path(cert[1])
    elif cert is not None:
        cert_path = Path(cert)
    return PinnedTLSAdapter(
        client_context(ca=ca, cert=cert_path, key=key_path, passphrase_env=passphrase_env)
    )


class HubClient:
    def __init__(
        self,
        base_url: str,
        sender: Sender,
        *,
        timeout: tuple[float, float] = (5, 300),
        retries: int = 5,
        backoff: float = 0.5,
        verify: bool | str | Path = True,
        cert: ClientCert | None = None,
        passphrase_env: str = GATEWAY_TLS_PASSPHRASE_ENV,
    ) -> None:
        """``verify``: the hub's CA file (or directory), or True for the system trust store; ``cert``: the
        client certificate, as one PEM file holding the key too or as (certificate, key)."""
        self.base_url = base_url.rstrip("/")
        self.sender = sender
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session = requests.Session()
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would otherwise replace `verify` (docs/protocol.md §12.4),
        # and proxy variables must not redirect the provincial link.
        self._session.trust_env = False
        self._tls = self.base_url.lower().startswith("https://")
        if self._tls:
            self._session.mount("https://", _tls_adapter(verify, cert, passphrase_env))
        elif cert is not None:
            raise TransferError(
                f"配置了客户端证书，但平台地址 {self.base_url} 不是 https://", code="tls_config"
            )
        # Until one request has gone through, a refused certificate would surface mid-upload as a reset.
        self._tls_checked = not self._tls

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def push(self, envelope: Path, sealed: Sealed, batch_id: str) -> BatchReceipt:
        manifest = Manifest.decode(sealed.manifest)
        if manifest.batch_id != batch_id or manifest.envelope_sha256 != sealed.envelope_sha256:
            raise FormatError(f"清单与待推送批次 {batch_id} 不符")
        if envelope.stat().st_size != sealed.size:
            raise FormatError(f"信封文件 {envelope} 的大小与清单不符")
        headers = {
            IDEMPOTENCY_HEADER: batch_id,
            MANIFEST_HEADER: base64.b64encode(sealed.manifest).decode("ascii"),
            SIGNATURE_HEADER: base64.b64encode(sealed.signature).decode("ascii"),
            "Content-Type": ENVELOPE_MEDIA_TYPE,
        }
        url = self.base_url + BATCHES_PATH
        problem = ""
        for attempt in range(self.retries + 1):
            retry_after: float | None = None
            try:
                if not self._tls_checked:
                    self._check_tls()
                with envelope.open("rb") as body:
                    response = self._session.post(
                        url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
                    )
            except requests.exceptions.SSLError as exc:
                raise TransferError(f"与平台的 TLS 连接失败：{explain(exc)}", code="tls_error") from exc
            except _RETRYABLE_ERRORS as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                with response:
                    if response.status_code != 429 and response.status_code < 500:
                        return self._answer(response, manifest)
                    problem = f"HTTP {response.status_code}: {_error_text(response)[1]}"
                    retry_after = _retry_after(response)
            if attempt < self.retries:
                delay = self._delay(attempt, retry_after)
                log.warning(
                    "push %s attempt %d/%d failed (%s); retrying in %.2fs",
                    batch_id,
                    attempt + 1,
                    self.retries + 1,
                    problem,
                    delay,
                )
                time.sleep(delay)
        raise HubUnavailable(f"批次 {batch_id} 推送 {self.retries + 1} 次均失败，最后一次：{problem}")

    def _check_tls(self) -> None:
        """A small request before the first upload, on the connection the upload then reuses.

        Under TLS 1.3 the hub judges the client certificate after the client has started sending; with
        a large body in flight the hub's alert is lost in a reset and the client can only say "EOF".
        Any HTTP answer here (whatever its status) proves the certificate was accepted.
        """
        with self._session.get(
            self.base_url + HEALTH_PATH, timeout=self.timeout, allow_redirects=False
        ) as response:
            _ = response.content  # read to the end, so that the connection goes back to the pool
        self._tls_checked = True

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter, so many gateways do not retry in lock-step."""
        base = min(MAX_BACKOFF, self.backoff * 2**attempt)
        delay = base / 2 + random.uniform(0, base / 2)
        return max(delay, min(retry_after, MAX_BACKOFF)) if retry_after is not None else delay

    def _answer(self, response: requests.Response, manifest: Manifest) -> BatchReceipt:
        receipt: BatchReceipt | None = None
        signature_b64 = response.headers.get(RECEIPT_SIGNATURE_HEADER)
        if signature_b64 is not None:
            signature = b64_std_decode(signature_b64, where="回执签名", max_size=MAX_SIGNATURE_SIZE)
            # Signed by the hub with a key of this batch's suite, naming this batch (docs/protocol.md §5).
            receipt = verify_receipt(
                response.content, signature, self.sender.keyring, hub_id=self.sender.hub_id, pushed=manifest
            )
        if response.status_code == 200 and receipt is not None and receipt.status == "accepted":
            return receipt
        if receipt is not None and receipt.error is not None:
            code, message = receipt.error.code, receipt.error.message
        elif response.status_code == 200:
            code, message = "receipt_missing", "平台返回 200 但没有已接收的签名回执"
        else:
            code, message = _error_text(response)
        raise HubRejected(
            f"平台拒收批次 {manifest.batch_id}（HTTP {response.status_code}）：{message}",
            code=code,
            status=response.status_code,
            receipt=receipt,
        )


def _error_text(response: requests.Response) -> tuple[str, str]:
    """(code, message) from the hub's JSON error body, or a best effort for anything else."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return f"http_{response.status_code}", response.text[:500] or response.reason or ""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
