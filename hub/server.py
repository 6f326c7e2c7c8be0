"""Running the hub under uvicorn: in the foreground (CLI) or in a background thread (tests, demos).

uvicorn's own protocol classes are used through subclasses that add the hub's connection layer
(hub/guard.py: read timeouts, a bound on request heads, connections per client address and in total) and
the ASGI TLS extension below; make_server passes the limits (hub/settings.py ``Limits``) to them.

The listening socket is bound here rather than by uvicorn so that ``--port 0`` can report the port the
kernel chose before serving starts: a parent process reads the "hub listening on" line to find it.

With mutual TLS uvicorn terminates TLS with the hub's own SSLContext (gateway.transfer.tls), but uvicorn
0.54 does not implement the ASGI TLS extension: nothing in the request scope tells the app which client
certificate the connection presented. The two protocol classes below add it. ``connection_made`` runs
after the handshake (so the certificate is verified); they read the peer certificate from the
transport's ``ssl_object`` once per connection and put it into every request's scope as
``scope["extensions"]["tls"]`` with the keys of the ASGI TLS extension 0.2 — where a server that
implements the extension puts it, so hub/app.py reads it the same way in either case.
tests/hub/test_mtls.py pins this for both of uvicorn's HTTP/1.1 implementations.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from types import TracebackType
from typing import Any, Literal

import uvicorn
from cryptography import x509
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hub.guard import Guard, GuardedConnection, fit_file_limit
from hub.settings import Limits

READY_TIMEOUT = 30.0
# Connections the kernel completes before the hub accepts them. The socket is listening before uvicorn
# gets it, so uvicorn's own ``backlog`` (2048) never applies; the same number here, so that a burst of
# connections (a flood, or many gateways at once) is queued rather than met with dropped SYNs.
BACKLOG = 2048
# How long stop() lets open connections finish. An idle keep-alive connection over TLS is closed with a
# close_notify whose answer asyncio awaits for 30 s, and a client that merely holds its socket (a pooled
# session, an exception's traceback) never answers: past this grace the thread stops without it.
STOP_GRACE = 5.0
# TLS version names as ssl reports them → the protocol numbers the ASGI TLS extension asks for.
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}

HttpImplementation = Literal["httptools", "h11"]


def bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, *, tls: bool = False) -> str:
    scheme = "https" if tls else "http"
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI TLS extension for one connection; Python's ssl cannot give the server certificate, the
    cipher suite number or the intermediate certificates on 3.11, so those are None or absent."""
    der = ssl_object.getpeercert(binary_form=True)
    chain: tuple[str, ...] = ()
    name: str | None = None
    if der:
        chain = (ssl.DER_cert_to_PEM_cert(der),)
        name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class _WithTLSExtension:
    """Puts one connection's TLS extension into each of its scopes, unless the server already did."""

    def __init__(self, app: ASGIApp, extension: dict[str, Any]) -> None:
        self.app = app
        self.extension = extension

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions") or {}
        if scope["type"] in ("http", "websocket") and "tls" not in extensions:
            scope = {**scope, "extensions": {**extensions, "tls": self.extension}}
        await self.app(scope, receive, send)


class _PeerCertificateMixin:
    app: ASGIApp

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = _WithTLSExtension(self.app, tls_extension(ssl_object))


class HttpToolsHubProtocol(_PeerCertificateMixin, GuardedConnection, HttpToolsProtocol):
    """uvicorn's default HTTP/1.1 protocol (httptools), guarded, with the client certificate in the scope."""


class H11HubProtocol(_PeerCertificateMixin, GuardedConnection, H11Protocol):
    """uvicorn's pure-Python HTTP/1.1 protocol (h11), guarded, with the client certificate in the scope."""


_PROTOCOLS: dict[str, type[asyncio.Protocol]] = {
    "httptools": HttpToolsHubProtocol,
    "h11": H11HubProtocol,
}


class _GuardedConfig(uvicorn.Config):
    """uvicorn's settings plus the one Guard all connections of this server share (config.guard)."""

    guard: Guard


def make_server(
    app: FastAPI,
    *,
    tls: ssl.SSLContext | None = None,
    http: HttpImplementation = "httptools",
    log_level: str = "info",
    access_log: bool = True,
    limits: Limits | None = None,
) -> uvicorn.Server:
    """``tls`` is a server context from gateway.transfer.tls.server_context; None serves plain HTTP.

    Forwarded headers are not trusted (proxy_headers off): the hub is reached directly, and a header
    must not be able to change the scheme or client address the app sees. ``limits`` (default: the
    defaults of hub/settings.py) are enforced by hub/guard.py; the open-file limit is raised to fit them.
    h11's own bound on an unfinished event is set to the head bound (guard.py enforces it first, for both
    parsers); uvicorn's ``limit_concurrency`` stays off, the guard's bounds replace it; WebSocket upgrades
    are off (``ws="none"``: an ``Upgrade`` header is ignored and the request answered as plain HTTP).
    """
    limits = fit_file_limit(limits or Limits())
    options: dict[str, Any] = {}
    if tls is not None:
        context = tls
        options["ssl_context_factory"] = lambda _config, _default: context
    config = _GuardedConfig(
        app,
        http=_PROTOCOLS[http],
        log_level=log_level,
        access_log=access_log,
        lifespan="off",
        proxy_headers=False,
        h11_max_incomplete_event_size=limits.max_header_size,
        # No WebSocket: the hub has no such route, and an upgraded connection would leave the guarded
        # protocol (uvicorn swaps the transport's protocol), uncounted and unbounded from then on.
        ws="none",
        **options,
    )
    config.guard = Guard(limits)
    return uvicorn.Server(config)


class ServerThread:
    """The hub on a loopback port in a daemon thread; ``with ServerThread(app) as url: ...``."""

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        http: HttpImplementation = "httptools",
        limits: Limits | None = None,
    ) -> None:
        self._sock = bind(host, port)
        self.url = url_of(self._sock, tls=tls is not None)
        self._server = make_server(
            app, tls=tls, http=http, log_level="warning", access_log=False, limits=limits
        )
        config = self._server.config
        assert isinstance(config, _GuardedConfig)
        self.guard = config.guard  # its counts and open connections, for tests and the benchmark
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="hub-server", daemon=True
        )

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("hub server did not start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_GRACE)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(READY_TIMEOUT)
        self._sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
