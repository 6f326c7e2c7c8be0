"""A hub that fails 30 % of pushes, in every way a network and a server can: everything still arrives once.

A small proxy sits between the gateway and the real hub and, for a seeded 30 % of the requests, answers 500
without forwarding, forwards and then answers 500 anyway, drops the connection before or after
forwarding, or forwards and then holds the answer past the client's timeout. The "after" kinds are the
dangerous ones: the hub stored the batch and the gateway does not know, so only the batch id as idempotency
key stands between a retry and a duplicate.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import urlsplit

import pytest

from gateway.delivery.policy import DeliveryPolicy
from gateway.delivery.service import DeliveryFailed, build_pending, deliver_all
from gateway.settings import Settings
from gateway.transfer import HubClient, Sender
from gateway.transfer.protocol import REPLAYED_HEADER

from .conftest import HubProcess, assert_delivered_exactly_once, batch_states

pytestmark = [pytest.mark.faults, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

FAULT_RATE = 0.3
FAULTS = ("500_before", "500_after", "drop_before", "drop_after", "timeout_after")
CLIENT_READ_TIMEOUT = 2.0
FORWARDED_HEADERS = (
    "Idempotency-Key",
    "X-Gateway-Manifest",
    "X-Gateway-Signature",
    "Content-Type",
    "Content-Length",
)


class FaultProxy(BaseHTTPRequestHandler):
    """Forwards POST /v1/batches to the hub, or fails it."""

    upstream: ClassVar[tuple[str, int]] = ("127.0.0.1", 0)
    rng: ClassVar[random.Random] = random.Random()
    lock: ClassVar[threading.Lock] = threading.Lock()
    seen: ClassVar[Counter[str]] = Counter()

    def _choose(self) -> str:
        """A seeded 30 % of requests fail; the failures take the kinds in turn, so each one happens."""
        with self.lock:
            faults = sum(self.seen[k] for k in FAULTS)
            kind = FAULTS[faults % len(FAULTS)] if self.rng.random() < FAULT_RATE else "pass"
            self.seen[kind] += 1
            return kind

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            headers = {name: self.headers[name] for name in FORWARDED_HEADERS if self.headers[name]}
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.getheader(REPLAYED_HEADER) == "true":
                with self.lock:
                    self.seen["replayed"] += 1
            return response.status, response.getheaders(), answer
        finally:
            conn.close()

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in {"content-length", "date", "server", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        kind = self._choose()
        if kind == "drop_before":
            return  # not a byte read or written: the client sees the connection close under it
        body = self.rfile.read(int(self.headers["Content-Length"]))
        error = json.dumps({"error": {"code": "internal_error", "message": "注入的故障"}}).encode()
        if kind == "500_before":
            self._reply(500, [("Content-Type", "application/json")], error)
            return
        status, headers, answer = self._forward(body)
        if kind == "pass":
            self._reply(status, headers, answer)
        elif kind == "500_after":
            self._reply(500, [("Content-Type", "application/json")], error)
        elif kind == "timeout_after":
            time.sleep(CLIENT_READ_TIMEOUT + 0.5)
        # drop_after: the hub's answer is thrown away and the connection closed without one

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def flaky_url(hub_process: HubProcess) -> Iterator[str]:
    parts = urlsplit(hub_process.start())
    FaultProxy.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
    FaultProxy.rng = random.Random(20261128)
    FaultProxy.seen = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FaultProxy)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_hub_failing_30_percent_of_pushes_still_gets_everything_exactly_once(
    gateway_home: Settings, flaky_url: str
) -> None:
    settings = gateway_home.with_overrides(batch_max_records=1)
    sender = Sender.load(settings.keys_dir / "gateway", settings.sender_id)
    policy = DeliveryPolicy(backoff_base=timedelta(0))
    runs = 0
    with HubClient(flaky_url, sender, retries=2, backoff=0.02, timeout=(2, CLIENT_READ_TIMEOUT)) as client:
        while runs == 0 or set(batch_states(settings).values()) != {"acknowledged"}:
            runs += 1
            assert runs <= 20, f"still not delivered after 20 runs: {batch_states(settings)}"
            try:
                deliver_all(settings, build_pending(settings), client=client, sender=sender, policy=policy)
            except DeliveryFailed as failed:
                assert failed.summary["died"] == []
    assert_delivered_exactly_once(settings)
    seen = FaultProxy.seen
    total = sum(seen[k] for k in ("pass", *FAULTS))
    assert len(batch_states(settings)) >= 20
    assert {k: seen[k] > 0 for k in FAULTS} == dict.fromkeys(FAULTS, True), seen
    assert 0.15 < sum(seen[k] for k in FAULTS) / total < 0.45, seen
    # Batches the hub stored while the gateway heard nothing were answered from the hub's store.
    assert seen["replayed"] > 0, seen
