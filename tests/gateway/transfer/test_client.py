"""HubClient against a scripted stdlib HTTP server (the real hub is exercised in tests/hub)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway.transfer import (
    BatchReceipt,
    FormatError,
    HubClient,
    HubRejected,
    HubUnavailable,
    KeyringError,
    Manifest,
    Problem,
    ReceiptMismatch,
    Sealed,
    Sender,
    gateway_store,
    hub_store,
    sign_receipt,
)
from gateway.transfer.protocol import (
    IDEMPOTENCY_HEADER,
    MANIFEST_HEADER,
    RECEIPT_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
)

Reply = tuple[int, dict[str, str], bytes]


@dataclasses.dataclass
class Seen:
    headers: dict[str, str]
    sha256: str
    size: int


class ScriptedHub:
    """Answers each POST with the next scripted reply; records what arrived (hash only, streamed)."""

    def __init__(self) -> None:
        self.replies: list[Callable[[Seen], Reply]] = []
        self.seen: list[Seen] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                remaining = int(self.headers["Content-Length"])
                digest = hashlib.sha256()
                while remaining:
                    chunk = self.rfile.read(min(remaining, 1 << 16))
                    digest.update(chunk)
                    remaining -= len(chunk)
                seen = Seen(dict(self.headers), digest.hexdigest(), int(self.headers["Content-Length"]))
                script.seen.append(seen)
                status, headers, body = script.replies.pop(0)(seen)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)


@pytest.fixture
def hub() -> Iterator[ScriptedHub]:
    scripted = ScriptedHub()
    scripted.thread.start()
    yield scripted
    scripted.server.shutdown()
    scripted.server.server_close()


@pytest.fixture
def batch(sender: Sender, tmp_path: Path) -> tuple[Path, Sealed]:
    src, dst = tmp_path / "b.xml", tmp_path / "b.gwenv"
    src.write_bytes(b"<Batch/>" * 1000)
    return dst, sender.seal(src, dst, batch_id="b-1", seq=1)


def _receipt_reply(
    keys_dir: Path, sealed: Sealed, *, http_status: int = 200, **changes: object
) -> Callable[[Seen], Reply]:
    m = Manifest.decode(sealed.manifest)
    store = hub_store(keys_dir)
    now = int(time.time())
    entry = store.load_keyring().current(owner="shanxi-hub", use="sign", at=now)
    receipt = BatchReceipt(
        batch_id=m.batch_id,
        sender=m.sender,
        envelope_sha256=m.envelope_sha256,
        status="accepted",
        accepted=1,
        rejected=(),
        error=None,
        received_at=now,
        hub_kid=entry.kid,
    )
    receipt = dataclasses.replace(receipt, **changes)  # type: ignore[arg-type]
    raw, signature = sign_receipt(receipt, store.load_private(entry), entry.kty)
    headers = {
        RECEIPT_SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        "Content-Type": "application/json",
    }
    return lambda _seen: (http_status, headers, raw)


def _error_reply(
    status: int, code: str = "x", message: str = "m", headers: dict[str, str] | None = None
) -> Callable[[Seen], Reply]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return lambda _seen: (status, {"Content-Type": "application/json", **(headers or {})}, body)


def test_push_retries_transient_failures_then_returns_the_verified_receipt(
    hub: ScriptedHub, sender: Sender, keys_dir: Path, batch: tuple[Path, Sealed]
) -> None:
    envelope, sealed = batch
    hub.replies = [
        _error_reply(503, "busy"),
        _error_reply(429, "slow_down", headers={"Retry-After": "0"}),
        _receipt_reply(keys_dir, sealed),
    ]
    with HubClient(hub.url, sender, backoff=0.01) as client:
        receipt = client.push(envelope, sealed, "b-1")
    assert receipt.status == "accepted" and receipt.batch_id == "b-1"
    assert len(hub.seen) == 3
    for seen in hub.seen:  # every attempt re-sends the whole envelope with the same idempotency key
        assert seen.sha256 == sealed.envelope_sha256 and seen.size == sealed.size
        assert seen.headers[IDEMPOTENCY_HEADER] == "b-1"
        assert base64.b64decode(seen.headers[MANIFEST_HEADER]) == sealed.manifest
        assert base64.b64decode(seen.headers[SIGNATURE_HEADER]) == sealed.signature


def test_a_client_error_is_not_retried_and_carries_the_hubs_message(
    hub: ScriptedHub, sender: Sender, batch: tuple[Path, Sealed]
) -> None:
    hub.replies = [_error_reply(401, "bad_signature", "签名验证失败")]
    with HubClient(hub.url, sender, backoff=0.01) as client, pytest.raises(HubRejected) as err:
        client.push(*batch, "b-1")
    assert (err.value.code, err.value.status, err.value.receipt) == ("bad_signature", 401, None)
    assert "签名验证失败" in str(err.value)
    assert len(hub.seen) == 1


def test_a_signed_rejection_is_verified_and_attached(
    hub: ScriptedHub, sender: Sender, keys_dir: Path, batch: tuple[Path, Sealed]
) -> None:
    envelope, sealed = batch
    problem = Problem("invalid_xml", "坏")
    hub.replies = [
        _receipt_reply(keys_dir, sealed, http_status=422, status="rejected", accepted=0, error=problem)
    ]
    with HubClient(hub.url, sender) as client, pytest.raises(HubRejected) as err:
        client.push(envelope, sealed, "b-1")
    assert err.value.code == "invalid_xml"
    assert err.value.receipt is not None and err.value.receipt.error == Problem("invalid_xml", "坏")


def test_a_receipt_for_another_envelope_is_refused(
    hub: ScriptedHub, sender: Sender, keys_dir: Path, batch: tuple[Path, Sealed]
) -> None:
    envelope, sealed = batch
    hub.replies = [_receipt_reply(keys_dir, sealed, envelope_sha256="0" * 64)]
    with HubClient(hub.url, sender) as client, pytest.raises(ReceiptMismatch):
        client.push(envelope, sealed, "b-1")


def test_a_receipt_not_signed_by_the_hub_is_refused(
    hub: ScriptedHub, sender: Sender, keys_dir: Path, batch: tuple[Path, Sealed]
) -> None:
    envelope, sealed = batch
    m = Manifest.decode(sealed.manifest)
    own = sender.signing_entry(m.created_at)
    forged = BatchReceipt(
        m.batch_id, m.sender, m.envelope_sha256, "accepted", 1, (), None, m.created_at, own.kid
    )
    raw, signature = sign_receipt(forged, gateway_store(keys_dir).load_private(own), own.kty)
    hub.replies = [lambda _s: (200, {RECEIPT_SIGNATURE_HEADER: base64.b64encode(signature).decode()}, raw)]
    with HubClient(hub.url, sender) as client, pytest.raises(KeyringError):
        client.push(envelope, sealed, "b-1")


def test_a_200_without_a_signed_receipt_is_not_success(
    hub: ScriptedHub, sender: Sender, batch: tuple[Path, Sealed]
) -> None:
    hub.replies = [lambda _s: (200, {}, b'{"status":"accepted"}')]
    with HubClient(hub.url, sender) as client, pytest.raises(HubRejected) as err:
        client.push(*batch, "b-1")
    assert err.value.code == "receipt_missing"


def test_retries_are_bounded(hub: ScriptedHub, sender: Sender, batch: tuple[Path, Sealed]) -> None:
    hub.replies = [_error_reply(500, "boom") for _ in range(3)]
    with HubClient(hub.url, sender, retries=2, backoff=0.01) as client, pytest.raises(HubUnavailable) as err:
        client.push(*batch, "b-1")
    assert len(hub.seen) == 3
    assert "HTTP 500" in str(err.value)


def test_connection_errors_are_retried_then_reported(sender: Sender, batch: tuple[Path, Sealed]) -> None:
    scripted = ScriptedHub()  # bound but never served, then closed: nothing listens on the port
    url = scripted.url
    scripted.server.server_close()
    with (
        HubClient(url, sender, retries=1, backoff=0.01) as client,
        pytest.raises(HubUnavailable, match="2 次"),
    ):
        client.push(*batch, "b-1")


def test_environment_proxies_and_ca_bundles_are_ignored(
    hub: ScriptedHub,
    sender: Sender,
    keys_dir: Path,
    batch: tuple[Path, Sealed],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    envelope, sealed = batch
    hub.replies = [_receipt_reply(keys_dir, sealed)]
    with HubClient(hub.url, sender) as client:
        assert client.push(envelope, sealed, "b-1").status == "accepted"


def test_the_manifest_must_match_the_batch_pushed(
    hub: ScriptedHub, sender: Sender, batch: tuple[Path, Sealed]
) -> None:
    with HubClient(hub.url, sender) as client, pytest.raises(FormatError, match="不符"):
        client.push(batch[0], batch[1], "b-2")
    assert hub.seen == []


def test_the_upload_is_streamed_from_the_file(
    hub: ScriptedHub, sender: Sender, keys_dir: Path, tmp_path: Path
) -> None:
    src, envelope = tmp_path / "big.xml", tmp_path / "big.gwenv"
    with src.open("wb") as fh:
        for _ in range(20):
            fh.write(os.urandom(1 << 20))
    sealed = sender.seal(src, envelope, batch_id="big", seq=1)
    hub.replies = [_receipt_reply(keys_dir, sealed)]
    tracemalloc.start()
    try:
        with HubClient(hub.url, sender) as client:
            client.push(envelope, sealed, "big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert hub.seen[0].sha256 == sealed.envelope_sha256
    assert peak < 4 << 20, peak  # a 20 MiB body never sits in memory (client and scripted server together)
