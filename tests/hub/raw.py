"""Raw HTTP/1.1 over a socket, for what requests will not do: a chosen source address, half a head, a
stalled or trickled body, and reading whatever the hub answers before it closes the connection."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.transfer import Manifest, Sealed
from gateway.transfer.protocol import BATCHES_PATH, IDEMPOTENCY_HEADER, MANIFEST_HEADER, SIGNATURE_HEADER


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def code(self) -> str:
        error: dict[str, Any] = json.loads(self.body)["error"]
        return str(error["code"])

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def connect(url: str, source: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    """A connection from ``source`` (any 127.0.0.0/8 address is this machine's, on Linux)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(address(url))
    return sock


@contextlib.contextmanager
def sockets() -> Iterator[list[socket.socket]]:
    """A list to put sockets in; every one is closed on the way out, whatever happened."""
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


def head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: hub", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def push_headers(sealed: Sealed, **overrides: str) -> dict[str, str]:
    """The headers of a push of ``sealed`` (Content-Length left to the caller)."""
    return {
        IDEMPOTENCY_HEADER: Manifest.decode(sealed.manifest).batch_id,
        MANIFEST_HEADER: base64.b64encode(sealed.manifest).decode(),
        SIGNATURE_HEADER: base64.b64encode(sealed.signature).decode(),
        **overrides,
    }


def push_head(sealed: Sealed, content_length: int | None = None, **overrides: str) -> bytes:
    headers = push_headers(sealed, **overrides)
    headers["Content-Length"] = str(sealed.size if content_length is None else content_length)
    return head("POST", BATCHES_PATH, headers)


def read_reply(sock: socket.socket, timeout: float = 5.0) -> Reply | None:
    """The hub's answer on ``sock``; None when it closed without answering. Stops at the end of the
    answer (Content-Length), at end of stream, or at a reset after some of it arrived."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            break
        data += chunk
        reply = _parse(data)
        if reply is not None and len(reply.body) >= int(reply.headers.get("content-length", "0")):
            return reply
    return _parse(data) if data else None


def _parse(data: bytes) -> Reply | None:
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    status_line, *lines = data[:head_end].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(status_line.split()[1]), headers, data[head_end + 4 :])


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the hub closed ``sock`` (reading and dropping what it sent); fails past ``seconds``."""
    started = time.monotonic()
    sock.settimeout(seconds)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return time.monotonic() - started


def get(url: str, path: str, source: str = "127.0.0.1", timeout: float = 5.0) -> Reply:
    """One GET on a fresh connection from ``source``."""
    with contextlib.closing(connect(url, source, timeout)) as sock:
        sock.sendall(head("GET", path))
        reply = read_reply(sock, timeout)
    assert reply is not None, f"GET {path} from {source}: closed without an answer"
    return reply
