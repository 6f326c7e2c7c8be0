"""gateway.transfer.tls: pinned trust, client certificates and keys, the identity rule, refusals with alerts.

The hub itself over mutual TLS is exercised in tests/hub/test_mtls.py; here the contexts meet a stdlib
HTTPS server and a bare asyncio TLS server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.transfer import HubClient, Sender, TransferError
from gateway.transfer.tls import (
    GATEWAY_TLS_PASSPHRASE_ENV,
    HUB_TLS_PASSPHRASE_ENV,
    PinnedTLSAdapter,
    certificate_identity,
    client_context,
    explain,
    server_context,
)
from tests.pki import SERVER_AUTH, Issued, Pki, build

SENDER = "city-001"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build(tmp_path_factory.mktemp("pki"), SENDER, "city-002")


class _EchoCN(BaseHTTPRequestHandler):
    """Answers GET with the CN of the client certificate the handshake verified."""

    def do_GET(self) -> None:
        assert isinstance(self.connection, ssl.SSLSocket)
        der = self.connection.getpeercert(binary_form=True)
        cn = certificate_identity(ssl.DER_cert_to_PEM_cert(der)) if der else None
        body = json.dumps({"cn": cn}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@contextmanager
def https_server(context: ssl.SSLContext) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoCN)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _hub_context(pki: Pki, server: Issued | None = None) -> ssl.SSLContext:
    leaf = server or pki.server
    return server_context(cert=leaf.cert, key=leaf.key, client_ca=pki.ca.cert)


def _session(context: ssl.SSLContext) -> requests.Session:
    session = requests.Session()  # trust_env left on: the adapter alone must decide trust
    session.mount("https://", PinnedTLSAdapter(context))
    return session


def test_the_pinned_ca_and_the_client_certificate_are_all_that_is_used(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another CA bundle in the environment: requests would load it into the context (docs/protocol.md §12.4).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.other_ca.cert))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(pki.other_ca.cert))
    context = client_context(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)
    with https_server(_hub_context(pki)) as url, _session(context) as session:
        answer = session.get(url, timeout=10)
    assert answer.json() == {"cn": SENDER}
    trusted = [x509.load_der_x509_certificate(der) for der in context.get_ca_certs(binary_form=True)]
    assert trusted == [pki.ca.certificate]
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_hub_certificate_from_another_ca_is_refused_even_when_the_environment_trusts_it(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    impostor = pki.other_ca.server("impostor-server")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.other_ca.cert))
    context = client_context(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)
    with (
        https_server(_hub_context(pki, impostor)) as url,
        _session(context) as session,
        pytest.raises(requests.exceptions.SSLError) as err,
    ):
        session.get(url, timeout=10)
    assert "平台证书验证失败" in explain(err.value)


def test_the_system_trust_store_does_not_trust_a_private_ca(pki: Pki) -> None:
    context = client_context(ca=None, cert=pki.client.cert, key=pki.client.key)
    with (
        https_server(_hub_context(pki)) as url,
        _session(context) as session,
        pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        session.get(url, timeout=10)


def test_an_encrypted_client_key_is_opened_with_the_passphrase_from_the_environment(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert b"ENCRYPTED" in pki.encrypted_client.key.read_bytes()
    monkeypatch.setenv(GATEWAY_TLS_PASSPHRASE_ENV, pki.password.decode())
    leaf = pki.encrypted_client
    context = client_context(ca=pki.ca.cert, cert=leaf.cert, key=leaf.key)
    with https_server(_hub_context(pki)) as url, _session(context) as session:
        assert session.get(url, timeout=10).json() == {"cn": SENDER}


def test_an_encrypted_key_without_its_passphrase_is_a_clear_error_not_a_prompt(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaf = pki.encrypted_client
    monkeypatch.delenv(GATEWAY_TLS_PASSPHRASE_ENV, raising=False)
    with pytest.raises(TransferError) as missing:
        client_context(ca=pki.ca.cert, cert=leaf.cert, key=leaf.key)
    assert missing.value.code == "passphrase_required" and GATEWAY_TLS_PASSPHRASE_ENV in missing.value.message
    monkeypatch.setenv(GATEWAY_TLS_PASSPHRASE_ENV, "wrong")
    with pytest.raises(TransferError) as wrong:
        client_context(ca=pki.ca.cert, cert=leaf.cert, key=leaf.key)
    assert wrong.value.code == "tls_config" and "wrong" not in wrong.value.message


def test_the_hub_key_passphrase_has_its_own_variable(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaf = pki.ca.issue(
        "hub-encrypted", "localhost", purposes=(SERVER_AUTH,), password=b"hub-secret", dns=("localhost",)
    )
    monkeypatch.setenv(GATEWAY_TLS_PASSPHRASE_ENV, "hub-secret")
    monkeypatch.delenv(HUB_TLS_PASSPHRASE_ENV, raising=False)
    with pytest.raises(TransferError, match=HUB_TLS_PASSPHRASE_ENV):
        server_context(cert=leaf.cert, key=leaf.key, client_ca=pki.ca.cert)
    monkeypatch.setenv(HUB_TLS_PASSPHRASE_ENV, "hub-secret")
    assert (
        server_context(cert=leaf.cert, key=leaf.key, client_ca=pki.ca.cert).verify_mode == ssl.CERT_REQUIRED
    )


def test_a_clear_text_key_readable_by_others_is_refused(pki: Pki, tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_bytes(pki.client.key.read_bytes())
    key.chmod(0o644)
    with pytest.raises(TransferError) as err:
        client_context(ca=pki.ca.cert, cert=pki.client.cert, key=key)
    assert err.value.code == "key_file_mode"


def test_a_certificate_and_key_in_one_file_are_accepted(pki: Pki, tmp_path: Path) -> None:
    bundle = tmp_path / "client-bundle.pem"
    bundle.write_bytes(pki.client.cert.read_bytes() + pki.client.key.read_bytes())
    bundle.chmod(0o600)
    context = client_context(ca=pki.ca.cert, cert=bundle)
    with https_server(_hub_context(pki)) as url, _session(context) as session:
        assert session.get(url, timeout=10).json() == {"cn": SENDER}


def test_missing_files_are_configuration_errors(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(TransferError) as no_ca:
        client_context(ca=tmp_path / "absent-ca.pem")
    with pytest.raises(TransferError) as no_key:
        server_context(cert=pki.server.cert, key=tmp_path / "absent.key", client_ca=pki.ca.cert)
    assert {no_ca.value.code, no_key.value.code} == {"tls_config"}
    assert "absent-ca.pem" in no_ca.value.message and "absent.key" in no_key.value.message


def test_the_hub_refuses_tls_1_2(pki: Pki) -> None:
    context = client_context(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        https_server(_hub_context(pki)) as url,
        _session(context) as session,
        pytest.raises(requests.exceptions.SSLError) as err,
    ):
        session.get(url, timeout=10)
    assert "TLS 1.3" in explain(err.value)


def _self_signed(names: list[x509.NameAttribute]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(names)
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_the_identity_is_the_single_common_name(pki: Pki) -> None:
    assert certificate_identity(pki.client.cert.read_bytes()) == SENDER
    assert certificate_identity(pki.other_sender.cert.read_text()) == "city-002"
    organisation = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "忻州市")
    assert certificate_identity(_self_signed([organisation])) is None
    two = [
        x509.NameAttribute(NameOID.COMMON_NAME, SENDER),
        x509.NameAttribute(NameOID.COMMON_NAME, "city-002"),
    ]
    assert certificate_identity(_self_signed(two)) is None


@pytest.mark.parametrize(
    ("openssl", "hint"),
    [
        ("[SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired (_ssl.c:2580)", "过期"),
        ("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2580)", "不信任签发本方证书的 CA"),
        (
            "[SSL: SSLV3_ALERT_UNSUPPORTED_CERTIFICATE] sslv3 alert unsupported certificate (_ssl.c:2580)",
            "用途",
        ),
        (
            "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)",
            "没有携带",
        ),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", "不是 TLS 服务"),
    ],
)
def test_openssl_reasons_are_explained_in_chinese_with_the_original_words(openssl: str, hint: str) -> None:
    text = explain(ssl.SSLError(1, openssl))
    assert hint in text
    assert openssl.split(" (_ssl")[0] in text


def test_an_unknown_failure_still_gets_a_readable_explanation() -> None:
    assert explain(ConnectionResetError("peer reset")) == "TLS 握手或加密通道失败（ConnectionResetError）"


@contextmanager
def asyncio_tls_server(context: ssl.SSLContext) -> Iterator[int]:
    """A bare asyncio TLS server (the memory-BIO driver uvicorn runs on) that answers one line."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, asyncio.AbstractServer] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b"ok\n")
        await writer.drain()
        writer.close()

    async def start() -> None:
        holder["server"] = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    )
    thread.start()
    assert ready.wait(10)
    try:
        yield holder["server"].sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _talk(port: int, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"ping\n")
        return tls.recv(16)


@pytest.mark.parametrize(
    ("leaf", "alert"),
    [
        ("expired", "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
        ("wrong_purpose", "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE"),
        ("foreign", "TLSV1_ALERT_UNKNOWN_CA"),
        (None, "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
    ],
)
def test_asyncio_delivers_the_alert_of_a_refused_handshake(
    pki: Pki, leaf: str | None, alert: str, caplog: pytest.LogCaptureFixture
) -> None:
    issued: Issued | None = getattr(pki, leaf) if leaf else None
    context = client_context(
        ca=pki.ca.cert, cert=issued.cert if issued else None, key=issued.key if issued else None
    )
    with asyncio_tls_server(_hub_context(pki)) as port:
        assert (
            _talk(port, client_context(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)) == b"ok\n"
        )
        with caplog.at_level("WARNING", logger="gateway.transfer.tls"), pytest.raises(ssl.SSLError) as err:
            _talk(port, context)
    assert alert in str(err.value)
    assert any("TLS handshake refused" in r.getMessage() for r in caplog.records)


def test_hub_client_refuses_to_switch_verification_off_or_send_a_certificate_in_clear(
    pki: Pki, sender: Sender
) -> None:
    with pytest.raises(TransferError) as off:
        HubClient("https://hub.example:8443", sender, verify=False)
    with pytest.raises(TransferError) as clear:
        HubClient("http://127.0.0.1:8765", sender, cert=(pki.client.cert, pki.client.key))
    assert (off.value.code, clear.value.code) == ("tls_config", "tls_config")
    assert "verify=False" in off.value.message and "https://" in clear.value.message
