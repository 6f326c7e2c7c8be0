"""The real server over TLS: uvicorn with the lookup's protocol class puts the verified client certificate
into the scope, and a registered certificate is a credential; an API key over TLS still is; a certificate
from another CA ends the handshake."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from gateway.credit.lookup.app import create_app
from gateway.credit.lookup.keys import add_cert_caller
from gateway.credit.lookup.server import config
from gateway.store.db import engine_for
from tests.gateway.credit.lookup.conftest import USCC, World
from tests.pki import Authority, Issued


@dataclass
class Served:
    url: str
    ca: Authority
    registered: Issued
    unregistered: Issued
    foreign: Issued


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[Served]:
    ca = Authority(tmp_path / "pki", "lookup")
    other = Authority(tmp_path / "pki", "other")
    server_cert = ca.server()
    registered = ca.client("tax", "xz-tax-cert")
    with engine_for(world.settings.database_url).begin() as conn:
        add_cert_caller(conn, "xz-tax-cert", "忻州市税务局", "department", registered.cert)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        config(
            create_app(world.settings),
            port=port,
            tls_cert=server_cert.cert,
            tls_key=server_cert.key,
            client_ca=ca.cert,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Served(
            f"https://127.0.0.1:{port}",
            ca,
            registered,
            ca.client("stranger", "stranger"),
            other.client("f", "f"),
        )
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _client(served: Served, cert: Issued | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(served.ca.cert))
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return httpx.Client(base_url=served.url, verify=context, timeout=10)


def test_a_registered_client_certificate_is_a_credential(served: Served, world: World) -> None:
    with _client(served, served.registered) as client:
        answer = client.get(f"/v1/standing/{USCC}", params={"matter": "XK-TLS-1"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["caller"] == {
        "name": "xz-tax-cert",
        "department": "忻州市税务局",
        "role": "department",
    }
    assert "risk" not in answer.json()
    with engine_for(world.settings.database_url).connect() as conn:
        logged = conn.exec_driver_sql(
            "SELECT c.name, q.matter, q.outcome"
            " FROM lookup_query q JOIN lookup_caller c ON c.id = q.caller_id"
        ).all()
    assert [tuple(r) for r in logged] == [("xz-tax-cert", "XK-TLS-1", "found")]


def test_an_api_key_over_tls_and_the_refusals(served: Served, world: World) -> None:
    with _client(served, None) as client:
        keyed = client.get(
            f"/v1/standing/{USCC}",
            params={"matter": "m"},
            headers={"Authorization": f"Bearer {world.keys['xz-amr']}"},
        )
        bare = client.get(f"/v1/standing/{USCC}", params={"matter": "m"})
    assert keyed.status_code == 200 and keyed.json()["risk"]["class"] == "D"
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "credential_missing"
    with _client(served, served.unregistered) as client:
        stranger = client.get(f"/v1/standing/{USCC}", params={"matter": "m"})
    assert stranger.status_code == 401 and stranger.json()["error"]["code"] == "credential_invalid"
    with _client(served, served.foreign) as client, pytest.raises((httpx.ConnectError, httpx.ReadError)):
        client.get(f"/v1/standing/{USCC}", params={"matter": "m"})
