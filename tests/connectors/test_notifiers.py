"""Failure alerts go out by webhook and by e-mail as Connections say, cleaned, and never raise."""

from __future__ import annotations

import email
import json
import socketserver
import threading
from collections.abc import Iterator
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.notifiers import (
    SMTP_CONN_ID,
    WEBHOOK_CONN_ID,
    Alert,
    GatewayAlertNotifier,
    alert_from_context,
    send_alert,
)

ID_NUMBER = "11010119900307803X"


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), **json.loads(body)}
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet: the default writes every request to stderr, which the test output does not need."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.server_address[1],
        "schema": "http",
        "password": "robot-token",
        "extra": {"endpoint": "/hooks/gateway"},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{WEBHOOK_CONN_ID.upper()}", json.dumps(conn))
    yield received
    server.shutdown()


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[email.message.Message]]:
    """A minimal SMTP server (plain, no auth): enough for smtplib's conversation, keeps each message."""
    messages: list[email.message.Message] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 test ESMTP\r\n")
            while line := self.rfile.readline():
                verb = line.strip().split(b" ")[0].upper()
                if verb in {b"EHLO", b"HELO"}:
                    self.wfile.write(b"250 test\r\n")
                elif verb == b"DATA":
                    self.wfile.write(b"354 go on\r\n")
                    data = b""
                    while (chunk := self.rfile.readline()) != b".\r\n":
                        data += chunk
                    messages.append(email.message_from_bytes(data))
                    self.wfile.write(b"250 kept\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": server.server_address[1],
        "extra": {
            "disable_ssl": True,
            "disable_tls": True,
            "to": "ops@example.org, duty@example.org",
            "from_email": "gateway@example.org",
        },
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}", json.dumps(conn))
    yield messages
    server.shutdown()
    server.server_close()


def _context(exception: BaseException) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="department_files",
        task_id="ingest",
        map_index=3,
        rendered_map_index="amr/处罚.csv",
        try_number=3,
    )
    return {"ti": ti, "run_id": "asset_triggered__2026-12-07", "exception": exception}


def test_the_alert_names_the_task_and_its_label_and_hides_secrets() -> None:
    error = RuntimeError(
        f"connect postgresql://gw:s3cret@db/gw failed [parameters: ('{ID_NUMBER}',)] for {ID_NUMBER}"
    )
    alert = alert_from_context(_context(error))
    assert "department_files.ingest[amr/处罚.csv]" in alert.title
    assert alert.fields["map"] == "amr/处罚.csv" and alert.fields["try"] == "3"
    text = json.dumps(alert.as_json(), ensure_ascii=False)
    assert "s3cret" not in text and ID_NUMBER not in text
    assert "gw:***@db" in text and "[parameters: hidden]" in text


def test_webhook_and_mail_both_receive_it(webhook: list[dict[str, Any]], mailbox: list[Any]) -> None:
    GatewayAlertNotifier().notify(_context(ValueError("hub refused <batch>")))
    assert len(webhook) == 1
    posted = webhook[0]
    assert posted["path"] == "/hooks/gateway" and posted["auth"] == "Bearer robot-token"
    assert posted["severity"] == "error" and posted["dag_id"] == "department_files"
    assert len(mailbox) == 1
    message = mailbox[0]
    assert "department_files.ingest" in str(make_header(decode_header(message["Subject"])))
    assert "ops@example.org" in message["To"] and "duty@example.org" in message["To"]
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
    assert "hub refused &lt;batch&gt;" in html.decode("utf-8")  # escaped in the mail's HTML


def test_no_channel_logs_a_warning_and_sends_nothing(caplog: pytest.LogCaptureFixture) -> None:
    assert send_alert(Alert(title="t", text="x")) == []
    assert "no channel set" in caplog.text


def test_a_failing_channel_does_not_stop_the_other_or_raise(
    webhook: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": 9,
        "extra": {"to": "a@b.c", "disable_ssl": True},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}", json.dumps(broken))
    GatewayAlertNotifier().notify(_context(RuntimeError("boom")))
    assert len(webhook) == 1
    assert "alert via smtp failed" in caplog.text
