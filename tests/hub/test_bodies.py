"""How much of a body the hub reads: a small cap before the manifest is authenticated, the signed size after;
a suite the hub does not accept named inside an authentic envelope; the API pages off by default."""

from __future__ import annotations

import base64
import dataclasses
import io
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import requests

from gateway.transfer import HubClient, HubRejected, Sealed, Sender, read_header, verify_receipt
from gateway.transfer.envelope import MAGIC
from gateway.transfer.protocol import HEALTH_PATH, RECEIPT_SIGNATURE_HEADER
from gateway.transfer.suites import SM_SUITE_ID, SUITES
from hub import app as app_module
from hub.app import create_app
from hub.report import build_report
from hub.server import ServerThread
from hub.settings import DEFAULT_MAX_UNAUTHENTICATED_BODY, Settings
from hub.validate import BatchValidator

from . import raw
from .conftest import Rec

Seal = Callable[..., tuple[Path, Sealed]]
Resign = Callable[..., Sealed]
Post = Callable[..., requests.Response]
BIG = 10 << 20


def _bad_signature(sealed: Sealed) -> Sealed:
    return dataclasses.replace(sealed, signature=bytes(64))


def test_an_unauthenticated_body_is_answered_after_the_cap_without_waiting_for_the_rest(
    hub_url: str, seal_batch: Seal
) -> None:
    """10 MB announced, 256 KiB sent, then silence: the refusal comes at once (the hub used to read up to
    64 MiB first), and the connection is closed."""
    _, sealed = seal_batch("b-1", 1)
    with raw.sockets() as opened:
        sock = raw.connect(hub_url)
        opened.append(sock)
        started = time.monotonic()
        sock.sendall(raw.push_head(_bad_signature(sealed), content_length=BIG))
        sock.sendall(b"\0" * (4 * DEFAULT_MAX_UNAUTHENTICATED_BODY))
        reply = raw.read_reply(sock)
        elapsed = time.monotonic() - started
    assert reply is not None and (reply.status, reply.code()) == (401, "bad_signature")
    assert reply.closes and elapsed < 2


def test_a_client_still_sending_a_large_batch_reads_the_signed_refusal(
    hub_url: str, sender: Sender, seal_batch: Seal
) -> None:
    """The gateway reseals on a signed stale_timestamp: it must read that answer although the hub closes
    the connection without reading the megabytes the client is still sending."""
    envelope, sealed = seal_batch("b-1", 1, records=[Rec()] * 3000, created_at=int(time.time()) - 1000)
    assert sealed.size > 16 * DEFAULT_MAX_UNAUTHENTICATED_BODY
    with HubClient(hub_url, sender, retries=0) as client, pytest.raises(HubRejected) as err:
        client.push(envelope, sealed, "b-1")
    assert (err.value.status, err.value.code) == (422, "stale_timestamp")
    assert err.value.receipt is not None and err.value.receipt.status == "rejected"


def test_a_small_refused_body_is_read_whole_and_the_connection_kept(hub_url: str, seal_batch: Seal) -> None:
    envelope, sealed = seal_batch("b-1", 1)
    with raw.sockets() as opened:
        sock = raw.connect(hub_url)
        opened.append(sock)
        sock.sendall(raw.push_head(_bad_signature(sealed)) + envelope.read_bytes())
        refused = raw.read_reply(sock)
        sock.sendall(raw.head("GET", HEALTH_PATH))  # the same connection serves the next request
        health = raw.read_reply(sock)
    assert refused is not None and refused.status == 401 and not refused.closes
    assert health is not None and health.status == 200


def test_a_refused_body_that_stops_coming_is_answered_after_the_drain_timeout(
    hub_url: str, seal_batch: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "DRAIN_TIMEOUT", 0.3)
    _, sealed = seal_batch("b-1", 1)
    with raw.sockets() as opened:
        sock = raw.connect(hub_url)
        opened.append(sock)
        started = time.monotonic()
        small = DEFAULT_MAX_UNAUTHENTICATED_BODY // 2  # within the cap: the hub would read it whole
        sock.sendall(raw.push_head(_bad_signature(sealed), content_length=small) + b"\0" * 1024)
        reply = raw.read_reply(sock)
        elapsed = time.monotonic() - started
    assert reply is not None and reply.status == 401 and reply.closes
    assert 0.25 < elapsed < 2


def test_a_declared_length_over_the_cap_is_refused_before_any_check(
    tmp_path: Path, keys_root: Path, schemas_dir: Path, validator: BatchValidator, seal_batch: Seal
) -> None:
    small = Settings(home=tmp_path / "small", keys=keys_root / "hub", schemas=schemas_dir, max_body=4096)
    _, sealed = seal_batch("b-1", 1)
    with ServerThread(create_app(small, validator=validator)) as url, raw.sockets() as opened:
        sock = raw.connect(url)
        opened.append(sock)
        sock.sendall(raw.push_head(sealed, content_length=BIG) + b"\0" * 1024)
        reply = raw.read_reply(sock)
    assert reply is not None and (reply.status, reply.code()) == (413, "too_large") and reply.closes


def test_an_authentic_push_announcing_another_size_is_refused_unread(
    hub_url: str, seal_batch: Seal, settings: Settings
) -> None:
    _, sealed = seal_batch("b-1", 1)
    with raw.sockets() as opened:
        sock = raw.connect(hub_url)
        opened.append(sock)
        sock.sendall(raw.push_head(sealed, content_length=sealed.size + BIG))
        reply = raw.read_reply(sock)  # nothing of the body was sent: the answer cannot wait for it
    assert reply is not None and (reply.status, reply.code()) == (422, "envelope_mismatch")
    assert RECEIPT_SIGNATURE_HEADER not in reply.headers and reply.closes
    assert build_report(settings.db_path)["batches"]["total"] == 0


class _Counting(io.FileIO):
    """A spool file that adds what is written to it to ``counts[index]``."""

    def __init__(self, path: Path, counts: list[int]) -> None:
        super().__init__(path, "wb")  # the file mode is test_file_modes.py's concern, not this one's
        self.counts, self.index = counts, len(counts)
        counts.append(0)

    def write(self, data: Any) -> int:
        n = super().write(data)
        self.counts[self.index] += n
        return n


@pytest.fixture
def counted_spool(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes written to each file the hub spools a body to."""
    counts: list[int] = []

    def open_counting(path: Path) -> BinaryIO:
        return _Counting(path, counts)

    monkeypatch.setattr(app_module, "open_private", open_counting)
    return counts


def test_an_authentic_body_longer_than_signed_is_spooled_only_up_to_the_signed_size(
    hub_url: str, seal_batch: Seal, counted_spool: list[int], settings: Settings
) -> None:
    envelope, sealed = seal_batch("b-1", 1)

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to refuse it by
        yield envelope.read_bytes()
        for _ in range(64):
            yield b"\0" * 65536

    with requests.Session() as session:
        session.trust_env = False
        response = session.post(
            hub_url + "/v1/batches", data=chunks(), headers=raw.push_headers(sealed), timeout=10
        )
    assert response.status_code == 422 and response.json()["error"]["code"] == "envelope_mismatch"
    assert response.headers["connection"] == "close"
    assert len(counted_spool) == 1 and counted_spool[0] <= sealed.size  # not a byte past the signed size
    assert build_report(settings.db_path)["batches"]["total"] == 0
    assert list(settings.tmp_dir.iterdir()) == []


def test_a_suite_the_hub_does_not_accept_inside_an_authentic_envelope_is_a_signed_422(
    seal_batch: Seal, resign: Resign, post_raw: Post, sender: Sender, settings: Settings
) -> None:
    """The signed manifest names the default suite, the envelope's header the SM suite, which this hub
    (default suite only) does not accept. It used to escape as a retryable 500."""
    assert SM_SUITE_ID not in settings.allowed_suites
    envelope, sealed = seal_batch("b-1", 1)
    data = envelope.read_bytes()
    header, head = read_header(io.BytesIO(data), allowed_suites=tuple(SUITES))
    swapped = dataclasses.replace(header, suite=SM_SUITE_ID).encode()
    forged = MAGIC + struct.pack(">I", len(swapped)) + swapped + data[len(head) :]
    response = post_raw(forged, resign(forged, sealed))
    assert response.status_code == 422, response.content
    signature = base64.b64decode(response.headers[RECEIPT_SIGNATURE_HEADER])
    receipt = verify_receipt(response.content, signature, sender.keyring, hub_id=sender.hub_id)
    assert receipt.status == "rejected" and receipt.error is not None
    assert receipt.error.code == "unsupported_suite"
    assert build_report(settings.db_path)["batches"] == {"total": 1, "accepted": 0, "rejected": 1}


@pytest.mark.parametrize("docs", [False, True])
def test_the_api_pages_are_served_only_when_enabled(
    tmp_path: Path, keys_root: Path, schemas_dir: Path, validator: BatchValidator, docs: bool
) -> None:
    settings = Settings(home=tmp_path / "hub", keys=keys_root / "hub", schemas=schemas_dir, docs=docs)
    with ServerThread(create_app(settings, validator=validator)) as url:
        statuses = {path: raw.get(url, path).status for path in ("/docs", "/redoc", "/openapi.json")}
        assert raw.get(url, HEALTH_PATH).status == 200
    assert set(statuses.values()) == ({200} if docs else {404}), statuses


def test_pushes_still_go_through_with_the_bounds(hub_url: str, sender: Sender, seal_batch: Seal) -> None:
    """The ordinary client over a kept-alive connection: several pushes, each answered 200."""
    with HubClient(hub_url, sender, retries=0) as client:
        receipts = [client.push(*seal_batch(f"b-{n}", n, records=[Rec()] * 3), f"b-{n}") for n in range(1, 6)]
    assert [r.accepted for r in receipts] == [3] * 5
