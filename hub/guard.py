"""The hub's connection layer: read timeouts, a bound on request heads, connections per client and in total.

uvicorn 0.54 (the server, hub/server.py) offers none of what a hub reachable by untrusted peers needs:

* no timeout for reading a request head: its keep-alive timer is cancelled by the first byte, so a client
  that sends half a head and stops holds its connection for ever;
* no limit on the head with httptools, its default parser (``h11_max_incomplete_event_size`` exists for h11
  only): a 16 MB header was read and answered 200;
* no body read timeout at all;
* ``limit_concurrency`` counts connections, but answers 503 only once a request head is complete, has no
  notion of a client address, and half-sent requests count against it like real ones;
* no bound on connections: 1,100 half-sent requests exhaust a 1024-descriptor process and the hub stops
  accepting, /v1/health included.

So this module adds them, as a mixin of uvicorn's two HTTP/1.1 protocol classes (so the parser's own work is
unchanged) and a per-connection ASGI wrapper:

**Connections.** :class:`Guard` counts the connections it admitted, per client address and in total. A new
connection over either bound takes the place of the *oldest connection that is waiting for a request head*
(of that address, or of any address, respectively): that one is closed. A connection whose request is being
read or answered is never taken; only when every slot is such a request is the newcomer refused, with a 503
and ``Retry-After``. Evicting rather than refusing is what keeps /v1/health answering during a flood of
half-sent requests, even one from the very address the health check comes from: a real request's head
arrives in one write and leaves the waiting set within milliseconds, a slow client's never does. The per-
address bound keeps one address from evicting anybody else's connections. An address is the peer IP as the
socket reports it (forwarded headers are never trusted; one IPv6 host can use many addresses, so an IPv6
deployment should also limit per prefix in its firewall).

**Request heads.** While waiting for a head the mixin counts the bytes it feeds the parser, up to the blank
line that ends the head (found by this module, so the bound is the same for both parsers), and answers 431
and closes once there are more than ``max_header_size``; the parser never buffers more than that. The whole
head must arrive within ``header_timeout`` of the moment the hub started waiting for it: a timer armed when
the connection is made and again after each answer, disarmed when the app is called for the request. On
expiry the connection is closed, with a 408 if part of a head had arrived (an idle keep-alive connection is
closed silently, as a stale 408 would be read as the answer to the client's next request).

**Bodies.** The app's ``receive`` is wrapped: each wait for the next piece may last ``body_timeout``, and all
waits together at most ``body_timeout`` + received / ``body_min_rate`` (Apache mod_reqtimeout's MinRate).
Only time spent waiting for the client counts: while the app is busy the hub is not reading. On expiry the
app is told the client disconnected (hub/app.py answers 408 and closes); a request left with part of its body
unread is closed after its answer in any case, so the next "head" is never the rest of a body.

A connection is counted from ``connection_made``, which for TLS is after the handshake: handshakes in flight
are bounded by the event loop's handshake timeout (60 s in asyncio and uvloop) and the listen backlog.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections import Counter
from dataclasses import replace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.settings import Limits

log = logging.getLogger(__name__)

# Descriptors the hub needs besides its connections: listening sockets, hub.db and its journal, spooled
# bodies and decrypted batches being processed, log files, the interpreter's own.
FD_RESERVE = 128
# How often counts of refused, evicted and timed-out connections are logged (a flood must not flood the log).
REPORT_INTERVAL = 60.0
_END_OF_HEAD = b"\r\n\r\n"
_EVENTS = ("refused", "evicted", "head_timeout", "head_too_large", "body_timeout")


def _canned(status: int, reason: str, code: str, message: str, *extra: str) -> bytes:
    """A complete answer written by the connection layer itself, before or instead of the app."""
    body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode("utf-8")
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


class Guard:
    """One server's bookkeeping of its connections (all on the event loop's thread: no locks)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.per_client: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()  # events since start: for tests, the benchmark and the log
        self._members: set[GuardedConnection] = set()
        # Connections waiting for a request head, oldest first (dicts keep insertion order).
        self._waiting: dict[GuardedConnection, None] = {}
        self._waiting_by_client: dict[str, dict[GuardedConnection, None]] = {}
        self._reported: Counter[str] = Counter()
        self._reported_at = time.monotonic()
        self.too_many = _canned(
            503,
            "Service Unavailable",
            "too_many_connections",
            "平台连接数已满（本地址或总数），请稍后重试",
            "retry-after: 1",
        )
        self.head_too_large = _canned(
            431,
            "Request Header Fields Too Large",
            "request_header_too_large",
            f"请求头超过 {limits.max_header_size} 字节",
        )
        self.head_timeout = _canned(
            408, "Request Timeout", "request_timeout", f"请求头未在 {limits.header_timeout:g} 秒内收齐"
        )

    @property
    def idle(self) -> int:
        """Connections waiting for a request head (the ones a newcomer may take the place of)."""
        return len(self._waiting)

    def admit(self, conn: GuardedConnection) -> bool:
        """Count ``conn`` in, making room by closing a waiting connection if needed; False: refuse it."""
        client = conn.client_address
        if self.per_client[client] >= self.limits.max_connections_per_client and not self._evict(
            self._waiting_by_client.get(client)
        ):
            self.note("refused")
            return False
        if self.total >= self.limits.max_connections and not self._evict(self._waiting):
            self.note("refused")
            return False
        self._members.add(conn)
        self.per_client[client] += 1
        self.total += 1
        return True

    def release(self, conn: GuardedConnection) -> None:
        """Count ``conn`` out (idempotent: an evicted connection is released before it is lost)."""
        if conn not in self._members:
            return
        self._members.discard(conn)
        self.busy(conn)
        client = conn.client_address
        self.per_client[client] -= 1
        if self.per_client[client] <= 0:
            del self.per_client[client]
        self.total -= 1

    def waiting(self, conn: GuardedConnection) -> None:
        """``conn`` now waits for a request head: evictable, newest last."""
        if conn not in self._members:
            return
        self.busy(conn)
        self._waiting[conn] = None
        self._waiting_by_client.setdefault(conn.client_address, {})[conn] = None

    def busy(self, conn: GuardedConnection) -> None:
        """``conn`` is reading or answering a request: not evictable."""
        self._waiting.pop(conn, None)
        by_client = self._waiting_by_client.get(conn.client_address)
        if by_client is not None:
            by_client.pop(conn, None)
            if not by_client:
                del self._waiting_by_client[conn.client_address]

    def _evict(self, waiting: dict[GuardedConnection, None] | None) -> bool:
        if not waiting:
            return False
        victim = next(iter(waiting))
        self.release(victim)
        victim.close_waiting()
        self.note("evicted")
        return True

    def note(self, event: str) -> None:
        """Count an event; every REPORT_INTERVAL, log what happened since the last report, if anything."""
        self.counts[event] += 1
        now = time.monotonic()
        if now - self._reported_at < REPORT_INTERVAL:
            return
        since = {e: self.counts[e] - self._reported[e] for e in _EVENTS if self.counts[e] - self._reported[e]}
        if since:
            log.warning(
                "connections in the last %.0f s: %s (open %d, limits %d per client address, %d in total)",
                now - self._reported_at,
                ", ".join(f"{e} {n}" for e, n in since.items()),
                self.total,
                self.limits.max_connections_per_client,
                self.limits.max_connections,
            )
        self._reported = Counter(self.counts)
        self._reported_at = now


class GuardedConnection:
    """Mixin for uvicorn's HTTP/1.1 protocols (before them in the bases); needs ``config.guard``.

    Uses only what both protocol classes have: ``transport``, ``loop``, ``client``, ``app`` and
    ``config``, and the three asyncio.Protocol calls it extends.
    """

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: tuple[str, int] | None
    app: Any
    config: Any

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self.guard: Guard = self.config.guard
        self.client_address = self.client[0] if self.client else ""
        self._timer: asyncio.TimerHandle | None = None
        self._scanning = False
        self.app = _GuardedRequest(self.app, self)
        if not self.guard.admit(self):
            transport.write(self.guard.too_many)
            transport.close()
            return
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused, evicted or timed out: nothing more reaches the parser
        if self._scanning and not self._scan(data):
            return
        super().data_received(data)  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.release(self)
        super().connection_lost(exc)  # type: ignore[misc]

    # ------------------------------------------------------------------------------------ the head

    def _await_head(self) -> None:
        self._scanning = True
        self._head_bytes = 0
        self._tail = b""
        self._in_head = False  # past the empty lines a client may send before a request line
        self._disarm()
        self._timer = self.loop.call_later(self.guard.limits.header_timeout, self._head_timed_out)
        self.guard.waiting(self)

    def _scan(self, data: bytes) -> bool:
        """Count head bytes up to the blank line ending the head; False when over the bound (answered)."""
        window = self._tail + data
        start = 0
        if not self._in_head:
            start = len(window) - len(window.lstrip(b"\r\n"))
            self._in_head = start < len(window)
        end = window.find(_END_OF_HEAD, start) if self._in_head else -1
        if end < 0:
            self._head_bytes += len(data)
            self._tail = window[-(len(_END_OF_HEAD) - 1) :]
        else:
            self._head_bytes += end + len(_END_OF_HEAD) - len(self._tail)
            self._scanning = False  # the rest of this chunk is body or the next request: not counted
        if self._head_bytes <= self.guard.limits.max_header_size:
            return True
        self.guard.note("head_too_large")
        self._close(self.guard.head_too_large)
        return False

    def _head_timed_out(self) -> None:
        self._timer = None
        self.guard.note("head_timeout")
        self._close(self.guard.head_timeout if self._head_bytes else None)

    def close_waiting(self) -> None:
        """Evicted by the guard while waiting for a head: a 408 only if part of a head had arrived."""
        self._close(self.guard.head_timeout if self._head_bytes else None)

    def _close(self, answer: bytes | None) -> None:
        self._disarm()
        self._scanning = False
        self.guard.release(self)
        if not self.transport.is_closing():
            if answer is not None:
                self.transport.write(answer)
            self.transport.close()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ------------------------------------------------------------ called by the per-request wrapper

    def request_started(self) -> None:
        self._disarm()
        self._scanning = False
        self.guard.busy(self)

    def request_finished(self, body_complete: bool) -> None:
        if self.transport.is_closing():
            return
        if not body_complete:
            self.transport.close()  # after the answer already written: what is left is not a request head
            return
        self._await_head()


def _expects_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False


class _TimedBody:
    """The request's ``receive`` with the body read timeouts (module docstring)."""

    def __init__(self, receive: Receive, limits: Limits, guard: Guard, scope: Scope) -> None:
        self._receive = receive
        self._limits = limits
        self._guard = guard
        self.complete = not _expects_body(scope)
        self.received = 0
        self.waited = 0.0

    def allowance(self) -> float:
        timeout, rate = self._limits.body_timeout, self._limits.body_min_rate
        if rate <= 0:
            return timeout
        return max(0.0, min(timeout, timeout + self.received / rate - self.waited))

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self.allowance()):
                message = await self._receive()
        except TimeoutError:
            self._guard.note("body_timeout")
            return {"type": "http.disconnect"}
        finally:
            self.waited += loop.time() - started
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        return message


class _GuardedRequest:
    """Wraps a connection's app: marks the request's start and end, and times the body."""

    def __init__(self, app: ASGIApp, conn: GuardedConnection) -> None:
        self.app = app
        self.conn = conn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.conn.request_started()
        body = _TimedBody(receive, self.conn.guard.limits, self.conn.guard, scope)
        try:
            await self.app(scope, body.receive, send)
        finally:
            self.conn.request_finished(body.complete)


def fit_file_limit(limits: Limits) -> Limits:
    """Make room for ``max_connections`` descriptors: raise the soft RLIMIT_NOFILE towards the hard one,
    or, when even the hard limit is too low, lower the total (and the per-client bound with it) and warn."""
    needed = limits.max_connections + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return limits
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
    if soft >= needed:
        return limits
    total = max(1, soft - FD_RESERVE)
    log.warning(
        "the open-file limit (%d) leaves room for %d connections, not the %d configured: serving %d",
        soft,
        total,
        limits.max_connections,
        total,
    )
    return replace(
        limits,
        max_connections=total,
        max_connections_per_client=min(limits.max_connections_per_client, total),
    )
