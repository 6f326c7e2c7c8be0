"""The hub over mutual TLS: the client certificate reaches the app, names the sender, bad ones are refused.

Every refusal must be clear to the engineer at each end: the gateway gets the hub's TLS alert explained
in Chinese (not "EOF"), the hub's log says why it refused.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.transfer import HubClient, HubRejected, Sealed, Sender, TransferError
from gateway.transfer.protocol import MANIFEST_HEADER
from gateway.transfer.tls import GATEWAY_TLS_PASSPHRASE_ENV, server_context
from hub import cli, launch
from hub.app import check_peer, create_app
from hub.receiving import Answer
from hub.report import build_report
from hub.server import HttpImplementation, ServerThread
from hub.settings import Settings
from hub.validate import BatchValidator
from tests.pki import Issued, Pki, build

from .conftest import SENDER, Rec

Seal = Callable[..., tuple[Path, Sealed]]
REPO = Path(__file__).resolve().parents[2]
OTHER_SENDER = "city-002"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build(tmp_path_factory.mktemp("pki"), SENDER, OTHER_SENDER)


def _serve(settings: Settings, validator: BatchValidator, pki: Pki, http: HttpImplementation) -> ServerThread:
    tls = server_context(cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca.cert)
    return ServerThread(create_app(settings, validator=validator), tls=tls, http=http)


@pytest.fixture
def tls_hub(settings: Settings, validator: BatchValidator, pki: Pki) -> Iterator[str]:
    with _serve(settings, validator, pki, "httptools") as url:
        yield url


def _client(url: str, sender: Sender, pki: Pki, leaf: Issued | None) -> HubClient:
    cert = (leaf.cert, leaf.key) if leaf is not None else None
    return HubClient(url, sender, verify=pki.ca.cert, cert=cert, retries=0, backoff=0.01)


def _refusal(client: HubClient, envelope: Path, sealed: Sealed, batch_id: str) -> tuple[int, str, bool, str]:
    """(status, code, signed receipt?, message) of a refused push.

    The fields, not the exception: its traceback holds the client's socket, so the hub's TLS connection
    would stay open (and the hub's shutdown wait for it) as long as the exception lived.
    """
    try:
        client.push(envelope, sealed, batch_id)
    except HubRejected as exc:
        return exc.status, exc.code, exc.receipt is not None, exc.message
    raise AssertionError(f"the hub accepted {batch_id}")


def _batches(settings: Settings) -> dict[str, int]:
    """Batches the hub recorded: total, accepted, rejected."""
    return build_report(settings.db_path)["batches"]  # type: ignore[no-any-return]


NOTHING = {"total": 0, "accepted": 0, "rejected": 0}


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_the_certificate_reaches_the_app_and_must_name_the_sender(
    http: HttpImplementation,
    settings: Settings,
    validator: BatchValidator,
    pki: Pki,
    sender: Sender,
    seal_batch: Seal,
) -> None:
    with _serve(settings, validator, pki, http) as url:
        assert url.startswith("https://127.0.0.1:")
        with _client(url, sender, pki, pki.client) as client:
            receipt = client.push(*seal_batch("m-1", 1, records=[Rec(), Rec()]), "m-1")
        assert (receipt.status, receipt.accepted) == ("accepted", 2)
        # The same sender's batch from a connection whose certificate names another sender.
        with _client(url, sender, pki, pki.other_sender) as client:
            status, code, signed, message = _refusal(client, *seal_batch("m-2", 2), "m-2")
    assert (status, code, signed) == (403, "certificate_sender_mismatch", False)
    assert OTHER_SENDER in message and SENDER in message
    assert build_report(settings.db_path)["senders"][SENDER]["last_seq"] == 1


@pytest.mark.parametrize(
    ("leaf", "hint", "hub_log"),
    [
        ("expired", "证书已过期", "certificate has expired"),
        ("wrong_purpose", "证书用途不符", "unsuitable certificate purpose"),
        ("foreign", "不信任签发本方证书的 CA", "unable to get local issuer certificate"),
        (None, "平台要求客户端证书", "PEER_DID_NOT_RETURN_A_CERTIFICATE"),
    ],
)
def test_a_bad_client_certificate_is_refused_with_a_clear_error_at_both_ends(
    tls_hub: str,
    pki: Pki,
    sender: Sender,
    seal_batch: Seal,
    settings: Settings,
    leaf: str | None,
    hint: str,
    hub_log: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued: Issued | None = getattr(pki, leaf) if leaf else None
    envelope, sealed = seal_batch("bad-1", 1)
    with (
        caplog.at_level("WARNING", logger="gateway.transfer.tls"),
        _client(tls_hub, sender, pki, issued) as client,
        pytest.raises(TransferError) as err,
    ):
        client.push(envelope, sealed, "bad-1")
    assert err.value.code == "tls_error"
    assert hint in err.value.message, err.value.message
    assert any(hub_log in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert _batches(settings) == NOTHING


def test_a_large_upload_with_a_refused_certificate_still_names_the_reason(
    tls_hub: str, pki: Pki, sender: Sender, tmp_path: Path
) -> None:
    # Without the small request before the upload, the hub's alert is lost in the reset of an 8 MiB body.
    src, envelope = tmp_path / "big.bin", tmp_path / "big.gwenv"
    src.write_bytes(bytes(8 << 20))
    sealed = sender.seal(src, envelope, batch_id="big-1", seq=1)
    with _client(tls_hub, sender, pki, pki.expired) as client, pytest.raises(TransferError) as err:
        client.push(envelope, sealed, "big-1")
    assert err.value.code == "tls_error" and "证书已过期" in err.value.message


def test_a_stored_receipt_is_not_handed_to_another_senders_connection(
    tls_hub: str, pki: Pki, sender: Sender, seal_batch: Seal, settings: Settings
) -> None:
    envelope, sealed = seal_batch("r-1", 1)
    with _client(tls_hub, sender, pki, pki.client) as client:
        first = client.push(envelope, sealed, "r-1")
    with _client(tls_hub, sender, pki, pki.other_sender) as client:
        assert _refusal(client, envelope, sealed, "r-1")[1:3] == ("certificate_sender_mismatch", False)
    with _client(tls_hub, sender, pki, pki.client) as client:
        assert client.push(envelope, sealed, "r-1") == first  # the right sender still gets it
    assert _batches(settings) == {"total": 1, "accepted": 1, "rejected": 0}


def test_an_encrypted_client_key_is_used_with_its_passphrase(
    tls_hub: str, pki: Pki, sender: Sender, seal_batch: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GATEWAY_TLS_PASSPHRASE_ENV, pki.password.decode())
    with _client(tls_hub, sender, pki, pki.encrypted_client) as client:
        assert client.push(*seal_batch("e-1", 1), "e-1").status == "accepted"


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"type": "http", "scheme": "http"}, None),  # plain HTTP: started with --plain-http on loopback
        ({"type": "http", "scheme": "https"}, "client_certificate_required"),  # TLS, but no certificate seen
        (
            {"type": "http", "scheme": "https", "extensions": {"tls": {"client_cert_chain": ()}}},
            "client_certificate_required",
        ),
    ],
)
def test_without_a_verified_certificate_https_fails_closed(
    scope: dict[str, object], expected: str | None, seal_batch: Seal
) -> None:
    _, sealed = seal_batch("c-1", 1)
    headers = {MANIFEST_HEADER: base64.b64encode(sealed.manifest).decode()}
    answer = check_peer(scope, headers)
    if expected is None:
        assert answer is None
    else:
        assert isinstance(answer, Answer) and answer.status == 403 and expected.encode() in answer.body


@pytest.mark.parametrize(
    ("leaf", "manifest", "expected"),
    [
        ("client", "sealed", None),
        ("other_sender", "sealed", "certificate_sender_mismatch"),
        ("other_sender", "garbage", None),  # left to admission, which answers 400 bad_manifest
    ],
)
def test_the_certificate_check_compares_the_cn_with_the_claimed_sender(
    pki: Pki, seal_batch: Seal, leaf: str, manifest: str, expected: str | None
) -> None:
    _, sealed = seal_batch("c-2", 1)
    chain = (getattr(pki, leaf).cert.read_text(),)
    scope = {"type": "http", "scheme": "https", "extensions": {"tls": {"client_cert_chain": chain}}}
    value = base64.b64encode(sealed.manifest if manifest == "sealed" else b"{not json").decode()
    answer = check_peer(scope, {MANIFEST_HEADER: value})
    if expected is None:
        assert answer is None
    else:
        assert isinstance(answer, Answer) and answer.status == 403 and expected.encode() in answer.body


# ------------------------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ((), "--plain-http"),
        (("--plain-http", "--host", "0.0.0.0"), "回环地址"),
        (("--plain-http", "--tls-cert", "x.pem", "--client-ca", "ca.pem"), "不能与"),
        (("--tls-cert", "x.pem"), "--client-ca"),
    ],
)
def test_serve_refuses_to_run_without_tls_unless_told_to_on_loopback(
    settings: Settings, extra: tuple[str, ...], complaint: str
) -> None:
    command = ["serve", "--home", str(settings.home), "--keys", str(settings.keys), "--port", "0", *extra]
    out = CliRunner().invoke(cli.app, command)
    assert out.exit_code == 2
    assert complaint in out.stderr, out.stderr
    assert not settings.home.exists()  # refused before anything was created


def test_serve_with_tls_announces_https_and_accepts_a_pinned_client(
    settings: Settings, pki: Pki, sender: Sender, seal_batch: Seal, tmp_path: Path
) -> None:
    tls = launch.ServerTls(cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca.cert)
    command = launch.serve_command(settings.home, settings.keys, settings.schemas, tls=tls)
    with launch.start(command, tmp_path / "hub.log", cwd=REPO) as hub:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", hub.url), hub.url
        with _client(hub.url, sender, pki, pki.client) as client:
            receipt = client.push(*seal_batch("cli-tls-1", 1), "cli-tls-1")
        assert (receipt.status, receipt.accepted) == ("accepted", 1)
    assert "明文" not in hub.log.read_text("utf-8")  # the plain-HTTP warning is for --plain-http only
