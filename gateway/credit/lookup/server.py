"""Serving the lookup with uvicorn: workers, TLS, and the client certificate in the request scope.

uvicorn (0.54) terminates TLS but does not implement the ASGI TLS extension, so nothing in a request's
scope says which client certificate the connection presented. :class:`PeerCertificateProtocol` adds it: its
``connection_made`` runs after the handshake (the certificate was verified against the client CA by then),
reads the peer certificate once per connection from the transport's ``ssl_object`` and puts it into every
request's scope as ``scope["extensions"]["tls"]["client_cert_chain"]`` (PEM), where a server implementing
the extension would. The app (gateway.credit.lookup.app) reads it there.

TLS: ``--tls-cert``/``--tls-key`` serve HTTPS; ``--client-ca`` additionally asks each client for a
certificate and verifies one that is presented (CERT_OPTIONAL, RFC 5280 strict, clientAuth purpose): a
department may call with its certificate, or with an API key over TLS. A certificate that fails
verification ends the handshake with its TLS alert (gateway.transfer.tls.server_context). TLS 1.2 is the
floor: department systems still include TLS 1.2-only clients.

The server is configured for throughput (docs/lookup.md, "Load"): httptools and uvloop, no access log (it
would write every URL — codes and matters — to the log, which must not hold personal data), forwarded
headers not trusted.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

from gateway.transfer.tls import server_context

APP = "gateway.credit.lookup.app:app_from_env"
PASSPHRASE_ENV = "GATEWAY_LOOKUP_TLS_KEY_PASSPHRASE"


class _WithClientCertificate:
    """Puts one connection's TLS extension into each of its scopes."""

    def __init__(self, app: ASGIApp, extension: dict[str, Any]) -> None:
        self.app = app
        self.extension = extension

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": self.extension}}
        await self.app(scope, receive, send)


class PeerCertificateProtocol(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol with the verified client certificate in the scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        chain = (ssl.DER_cert_to_PEM_cert(der),) if der else ()
        self.app = _WithClientCertificate(self.app, {"client_cert_chain": chain})


def tls_context(
    cert: str, key: str | None, client_ca: str | None, _config: object = None, _default: object = None
) -> ssl.SSLContext:
    """The server's TLS context; a module-level function (bound with partial) so that uvicorn can hand it
    to worker processes, which it starts with spawn and therefore pickles."""
    if client_ca:
        context = server_context(
            cert=Path(cert),
            key=Path(key) if key else None,
            client_ca=Path(client_ca),
            passphrase_env=PASSPHRASE_ENV,
        )
        context.verify_mode = ssl.CERT_OPTIONAL  # an API key over TLS stays a valid credential
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key, password=os.environ.get(PASSPHRASE_ENV))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def config(
    app: Any = APP,
    *,
    host: str = "127.0.0.1",
    port: int = 8780,
    workers: int = 2,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    client_ca: Path | None = None,
    log_level: str = "warning",
) -> uvicorn.Config:
    """uvicorn's configuration for the lookup; ``app`` is the import string of the factory (needed for
    several workers) or an app object (tests, one worker in a thread)."""
    if client_ca is not None and tls_cert is None:
        raise ValueError("--client-ca needs --tls-cert (and --tls-key): client certificates come with TLS")
    options: dict[str, Any] = {}
    if tls_cert is not None:
        options["ssl_context_factory"] = partial(
            tls_context,
            str(tls_cert),
            str(tls_key) if tls_key else None,
            str(client_ca) if client_ca else None,
        )
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=workers if isinstance(app, str) else None,
        http=PeerCertificateProtocol,
        loop="uvloop",
        access_log=False,
        proxy_headers=False,
        lifespan="off",
        log_level=log_level,
        **options,
    )


def serve(**kwargs: Any) -> None:
    """Run in the foreground until stopped (`gateway lookup serve`)."""
    cfg = config(**kwargs)
    if cfg.workers > 1:
        Multiprocess(cfg, sockets=[cfg.bind_socket()]).run()
    else:
        uvicorn.Server(cfg).run()
