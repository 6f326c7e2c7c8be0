"""The connection layer (hub/guard.py) on loopback: head size and timeout, body timeouts, connection bounds.

Attackers connect from other loopback addresses (127.0.0.2 …) than the health check (127.0.0.1) where the
per-address bound matters; every socket a test opens is closed by ``raw.sockets()``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.transfer import HubClient, Sealed, Sender
from gateway.transfer.protocol import BATCHES_PATH, HEALTH_PATH
from hub import guard as guard_module
from hub import launch
from hub.app import create_app
from hub.receiving import Receiver
from hub.report import build_report
from hub.server import HttpImplementation, ServerThread
from hub.settings import Limits, Settings
from hub.validate import BatchValidator

from . import raw
from .conftest import Rec

Seal = Callable[..., tuple[Path, Sealed]]
HubFactory = Callable[..., ServerThread]
REPO = Path(__file__).resolve().parents[2]
HALF_A_HEAD = b"POST /v1/batches HTTP/1.1\r\nHost: hub\r\nX-Gateway-Manifest: "


@pytest.fixture
def hub(settings: Settings, validator: BatchValidator) -> Iterator[HubFactory]:
    """Start a hub with the given limits (``hub(limits)``); stopped at the end of the test."""
    started: list[ServerThread] = []

    def start(limits: Limits | None = None, http: HttpImplementation = "httptools") -> ServerThread:
        server = ServerThread(create_app(settings, validator=validator), limits=limits, http=http)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the hub did not get there in time"
        time.sleep(0.01)


# ------------------------------------------------------------------------------------------ heads


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_16_mb_head_is_refused_after_the_bound(hub: HubFactory, http: HttpImplementation) -> None:
    server = hub(http=http)
    with raw.sockets() as opened:
        sock = raw.connect(server.url)
        opened.append(sock)
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: hub\r\nX-Big: ")
        sent = 0
        # The hub stops reading once past the bound, so a send may fail: what matters is that it said why.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 16 << 20:
                sock.sendall(b"x" * 65536)
                sent += 65536
        reply = raw.read_reply(sock)
    assert sent < 16 << 20
    assert reply is not None and (reply.status, reply.code()) == (431, "request_header_too_large")
    assert reply.closes and server.guard.counts["head_too_large"] == 1


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_head_just_under_the_bound_is_served_even_one_byte_at_a_time(
    hub: HubFactory, http: HttpImplementation
) -> None:
    server = hub(Limits(max_header_size=16 << 10), http=http)
    big = raw.head("GET", HEALTH_PATH, {"X-Padding": "p" * (15 << 10)})
    assert len(big) < 16 << 10
    with raw.sockets() as opened:
        sock = raw.connect(server.url)
        opened.append(sock)
        sock.sendall(big)
        first = raw.read_reply(sock)
        for byte in raw.head("GET", HEALTH_PATH):  # the end of the head split across reads
            sock.send(bytes([byte]))
        second = raw.read_reply(sock)
    assert first is not None and first.status == 200 and not first.closes
    assert second is not None and second.status == 200


def test_a_head_that_never_ends_is_closed_after_the_header_timeout(hub: HubFactory) -> None:
    server = hub(Limits(header_timeout=0.5))
    with raw.sockets() as opened:
        partial, silent, dripping, spent = (raw.connect(server.url) for _ in range(4))
        opened += [partial, silent, dripping, spent]
        partial.sendall(HALF_A_HEAD)
        spent.sendall(raw.head("GET", HEALTH_PATH))
        assert (first := raw.read_reply(spent)) is not None and first.status == 200
        started = time.monotonic()
        # A byte every 0.1 s: uvicorn's keep-alive timer is cancelled by each, the head timeout is not.
        dripping.sendall(b"\r\n\r\nGET /")  # empty lines first (RFC 9112 §2.2) do not end a head
        while time.monotonic() - started < 0.8:
            try:
                dripping.send(b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)
        late = raw.read_reply(partial, timeout=2)
        waited = raw.closed_within(silent, 2)
        reused = raw.closed_within(spent, 2)  # idle after an answer: the next head is due as well
        dripped = raw.read_reply(dripping, timeout=2)
    assert late is not None and (late.status, late.code()) == (408, "request_timeout") and late.closes
    assert dripped is not None and dripped.status == 408
    assert waited < 1.5 and reused < 1.5  # closed without a word: nothing had been asked
    assert time.monotonic() - started < 3
    assert server.guard.counts["head_timeout"] == 4


# ----------------------------------------------------------------------------------- connections


def test_1100_half_sent_requests_from_one_address_leave_health_answering(hub: HubFactory) -> None:
    server = hub()  # the defaults: 32 per address, 1000 in total, a 10 s head timeout
    limits = server.guard.limits
    started = time.monotonic()
    with raw.sockets() as opened:
        for _ in range(1100):
            sock = raw.connect(server.url, "127.0.0.2")
            opened.append(sock)
            sock.sendall(HALF_A_HEAD)
        _wait_for(lambda: server.guard.counts["evicted"] >= 1100 - limits.max_connections_per_client)
        assert server.guard.total == limits.max_connections_per_client
        for source in ("127.0.0.1", "127.0.0.2"):  # even from the attacking address itself
            reply = raw.get(server.url, HEALTH_PATH, source, timeout=2)
            assert reply.status == 200, source
        assert server.guard.per_client["127.0.0.2"] <= limits.max_connections_per_client
        assert raw.closed_within(opened[0], 2) < 2  # the oldest was evicted
    assert time.monotonic() - started < 20
    assert server.guard.counts["refused"] == 0


def test_a_hub_process_with_1024_descriptors_survives_1100_half_sent_requests(
    settings: Settings, tmp_path: Path
) -> None:
    """The failure of issue 15 as it happened: ``hub serve`` under ``ulimit -n 1024`` stopped accepting
    (EMFILE) once 1,100 half-sent requests were open, /v1/health included. Now the total is fitted to the
    limit at start-up and the half-sent requests are evicted."""
    serve = launch.serve_command(settings.home, settings.keys, settings.schemas)
    command = ["sh", "-c", 'ulimit -n 1024 && exec "$@"', "sh", *serve]
    with launch.start(command, tmp_path / "hub.log", cwd=REPO) as child, raw.sockets() as opened:
        for n in range(1100):
            sock = raw.connect(child.url, f"127.0.0.{2 + n // 30}")  # 30 per address: under its bound
            opened.append(sock)
            sock.sendall(HALF_A_HEAD)
        assert raw.get(child.url, HEALTH_PATH, "127.0.0.1", timeout=5).status == 200
        assert raw.closed_within(opened[0], 5) < 5  # the oldest half-sent request made room
    assert "serving 896" in (tmp_path / "hub.log").read_text("utf-8")  # 1024 − 128 kept for files


def test_1100_half_sent_requests_from_many_addresses_meet_the_total_bound(hub: HubFactory) -> None:
    server = hub(Limits(max_connections=300, max_connections_per_client=100))
    with raw.sockets() as opened:
        for n in range(1100):
            sock = raw.connect(server.url, f"127.0.0.{2 + n // 100}")
            opened.append(sock)
            sock.sendall(HALF_A_HEAD)
        _wait_for(lambda: server.guard.counts["evicted"] >= 800)
        assert server.guard.total == 300
        assert raw.get(server.url, HEALTH_PATH, "127.0.0.1", timeout=2).status == 200
        assert server.guard.total <= 300
    assert server.guard.counts["refused"] == 0


def test_connections_busy_with_requests_are_never_evicted_a_newcomer_is_refused(
    hub: HubFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = hub(Limits(max_connections_per_client=2))
    # Two requests the hub is reading: refused, their small bodies announced but never sent, which the hub
    # waits for (up to 5 s) so that the connection stays usable.
    with raw.sockets() as opened:
        for _ in range(2):
            sock = raw.connect(server.url, "127.0.0.2")
            opened.append(sock)
            sock.sendall(raw.head("POST", BATCHES_PATH, {"Content-Length": "60000"}))
        _wait_for(lambda: server.guard.per_client["127.0.0.2"] == 2 and server.guard.idle == 0)
        third = raw.connect(server.url, "127.0.0.2")
        opened.append(third)
        refused = raw.read_reply(third)
        elsewhere = raw.get(server.url, HEALTH_PATH, "127.0.0.3")
    assert refused is not None and (refused.status, refused.code()) == (503, "too_many_connections")
    assert refused.headers["retry-after"] == "1" and refused.closes
    assert elsewhere.status == 200
    assert server.guard.counts["refused"] == 1 and server.guard.counts["evicted"] == 0


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_websocket_upgrade_is_answered_as_plain_http_and_stays_counted(
    hub: HubFactory, http: HttpImplementation
) -> None:
    """An upgraded connection would leave the guarded protocol, and its slot would never be given back:
    32 of them would lock an address out for good. The hub serves no WebSocket, so it never upgrades."""
    server = hub(Limits(max_connections_per_client=2), http=http)
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    for _ in range(3):  # more than the address may hold at once: each must have been given back
        with raw.sockets() as opened:
            sock = raw.connect(server.url, "127.0.0.2")
            opened.append(sock)
            sock.sendall(raw.head("GET", HEALTH_PATH, upgrade))
            reply = raw.read_reply(sock)
            assert reply is not None and reply.status == 200
        _wait_for(lambda: server.guard.total == 0)
    assert server.guard.counts["refused"] == 0


def test_the_file_limit_is_raised_or_the_total_lowered_to_fit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(guard_module.resource, "getrlimit", lambda _which: (256, 4096))
    monkeypatch.setattr(guard_module.resource, "setrlimit", lambda _which, value: calls.append(value))
    assert guard_module.fit_file_limit(Limits(max_connections=1000)) == Limits(max_connections=1000)
    assert calls == [(1000 + guard_module.FD_RESERVE, 4096)]
    monkeypatch.setattr(guard_module.resource, "getrlimit", lambda _which: (256, 512))
    with caplog.at_level(logging.WARNING, logger="hub.guard"):
        fitted = guard_module.fit_file_limit(Limits(max_connections=1000, max_connections_per_client=500))
    assert (fitted.max_connections, fitted.max_connections_per_client) == (384, 384)
    assert "serving 384" in caplog.text


# ----------------------------------------------------------------------------------------- bodies


def test_a_stalled_body_is_cut_off_and_nothing_is_kept(
    hub: HubFactory, seal_batch: Seal, settings: Settings
) -> None:
    server = hub(Limits(body_timeout=0.5, body_min_rate=0))
    envelope, sealed = seal_batch("b-1", 1, records=[Rec()] * 5)
    body = envelope.read_bytes()
    with raw.sockets() as opened:
        sock = raw.connect(server.url)
        opened.append(sock)
        started = time.monotonic()
        sock.sendall(raw.push_head(sealed) + body[: len(body) // 2])
        reply = raw.read_reply(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert reply is not None and (reply.status, reply.code()) == (408, "request_timeout") and reply.closes
    assert 0.4 < elapsed < 3
    assert server.guard.counts["body_timeout"] == 1
    assert build_report(settings.db_path)["batches"]["total"] == 0
    _wait_for(lambda: list(settings.tmp_dir.iterdir()) == [])


def test_a_body_trickled_below_the_minimum_rate_is_cut_off(hub: HubFactory, seal_batch: Seal) -> None:
    """Every gap (0.1 s) is far below the body timeout; the average (500 B/s) is below the 2000 B/s
    minimum, so the hub gives up once waiting exceeds 0.6 s + received / 2000 B/s: after about 0.8 s."""
    server = hub(Limits(body_timeout=0.6, body_min_rate=2000))
    envelope, sealed = seal_batch("b-1", 1, records=[Rec()] * 20)
    body = envelope.read_bytes()
    assert len(body) > 2000  # the trickle would take more than 4 s to finish
    with raw.sockets() as opened:
        sock = raw.connect(server.url)
        opened.append(sock)
        sock.sendall(raw.push_head(sealed))
        started = time.monotonic()
        for offset in range(0, len(body), 50):
            try:
                sock.send(body[offset : offset + 50])
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)
            if time.monotonic() - started > 2.5:
                break
        reply = raw.read_reply(sock, timeout=3)
        elapsed = time.monotonic() - started
    assert reply is not None and reply.status == 408
    assert 0.6 < elapsed < 2.5


def test_time_the_hub_spends_busy_does_not_count_against_the_client(
    hub: HubFactory, sender: Sender, seal_batch: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = hub(Limits(body_timeout=0.3, body_min_rate=100_000))
    admit = Receiver.admit

    def slow_admit(self: Receiver, headers: object) -> object:
        time.sleep(1.0)  # checking the manifest while the body waits in the socket, unread
        return admit(self, headers)  # type: ignore[arg-type]

    monkeypatch.setattr(Receiver, "admit", slow_admit)
    with HubClient(server.url, sender, retries=0) as client:
        receipt = client.push(*seal_batch("b-1", 1, records=[Rec()] * 50), "b-1")
    assert receipt.status == "accepted" and server.guard.counts["body_timeout"] == 0
