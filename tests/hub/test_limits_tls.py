"""The connection layer over mutual TLS: the same bounds once the handshake is done, and a client that is
still sending a large batch reads the hub's early, signed refusal."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.transfer import HubClient, HubRejected, Sealed, Sender
from gateway.transfer.protocol import HEALTH_PATH
from gateway.transfer.tls import client_context, server_context
from hub.app import create_app
from hub.server import ServerThread
from hub.settings import DEFAULT_MAX_UNAUTHENTICATED_BODY, Limits, Settings
from hub.validate import BatchValidator
from tests.pki import Pki, build

from . import raw
from .conftest import SENDER, Rec

Seal = Callable[..., tuple[Path, Sealed]]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build(tmp_path_factory.mktemp("pki"), SENDER, "city-002")


@pytest.fixture
def tls_server(settings: Settings, validator: BatchValidator, pki: Pki) -> Iterator[ServerThread]:
    tls = server_context(cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca.cert)
    limits = Limits(header_timeout=0.5, max_connections_per_client=4)
    server = ServerThread(create_app(settings, validator=validator), tls=tls, limits=limits)
    with server:
        yield server


def _tls_connect(url: str, pki: Pki, source: str) -> ssl.SSLSocket:
    context = client_context(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.settimeout(5)
    plain.bind((source, 0))
    plain.connect(raw.address(url))
    return context.wrap_socket(plain, server_hostname=raw.address(url)[0])


def test_half_sent_heads_over_tls_are_evicted_and_timed_out(tls_server: ServerThread, pki: Pki) -> None:
    with raw.sockets() as opened:
        for _ in range(10):
            sock = _tls_connect(tls_server.url, pki, "127.0.0.2")
            opened.append(sock)
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: hub\r\n")
        health = _tls_connect(tls_server.url, pki, "127.0.0.2")  # from the attacking address itself
        opened.append(health)
        health.sendall(raw.head("GET", HEALTH_PATH))
        answered = raw.read_reply(health)
        started = time.monotonic()
        late = raw.read_reply(opened[-2], timeout=3)  # a half-sent head that was not evicted
        elapsed = time.monotonic() - started
    assert answered is not None and answered.status == 200
    assert late is not None and (late.status, late.code()) == (408, "request_timeout")
    assert elapsed < 2
    assert tls_server.guard.counts["evicted"] >= 10 - 4


def test_a_large_batch_refused_early_over_tls_still_gets_its_signed_receipt(
    tls_server: ServerThread, pki: Pki, sender: Sender, seal_batch: Seal
) -> None:
    envelope, sealed = seal_batch("t-1", 1, records=[Rec()] * 3000, created_at=int(time.time()) - 1000)
    assert sealed.size > 16 * DEFAULT_MAX_UNAUTHENTICATED_BODY
    client = HubClient(
        tls_server.url, sender, verify=pki.ca.cert, cert=(pki.client.cert, pki.client.key), retries=0
    )
    with client:
        try:
            client.push(envelope, sealed, "t-1")
        except HubRejected as exc:
            # the fields, not the exception: its traceback would hold the client's TLS connection open
            refusal = (exc.status, exc.code, exc.receipt is not None)
        else:
            refusal = (200, "accepted", True)
    assert refusal == (422, "stale_timestamp", True)
