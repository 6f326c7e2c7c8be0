"""Callers' credentials: keys shown once and stored as SHA-256, certificates by fingerprint, `keys list` with
no secret, revocation; the OpenAPI document."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.credit.lookup.cli import app as cli
from gateway.credit.lookup.keys import key_matches, parse_key
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.lookup.conftest import USCC, World
from tests.pki import SERVER_AUTH, Authority


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GATEWAY_HOME", str(settings.home))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    return settings


def test_key_format_and_comparison() -> None:
    from gateway.credit.lookup.keys import key_sha256, new_key

    key_id, key = new_key()
    assert parse_key(key) == key_id and key.startswith(f"gwl_{key_id}_") and len(key) == 4 + 12 + 1 + 43
    assert key_matches(key, key_sha256(key)) and not key_matches(key, key_sha256(key + "x"))
    assert not key_matches(key, None) and parse_key("gwl_short_x") is None


def test_keys_add_prints_the_key_once_and_stores_its_hash(cli_env: Settings) -> None:
    runner = CliRunner()
    made = runner.invoke(
        cli, ["keys", "add", "xz-tax", "--department", "忻州市税务局", "--role", "department"]
    )
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    key_id = parse_key(key)
    assert key_id is not None
    with engine_for(cli_env.database_url).connect() as conn:
        stored = conn.exec_driver_sql("SELECT key_id, key_sha256 FROM lookup_caller").one()
    assert tuple(stored) == (key_id, hashlib.sha256(key.encode()).hexdigest())
    listed = runner.invoke(cli, ["keys", "list"])
    as_json = runner.invoke(cli, ["keys", "list", "--json"])
    assert key_id in listed.output and key.split("_")[2][:10] not in listed.output + as_json.output
    assert (
        json.loads(as_json.output)[0] | {"role": "department", "credential": "key"}
        == json.loads(as_json.output)[0]
    )
    again = runner.invoke(cli, ["keys", "add", "xz-tax", "--department", "忻州市税务局"])
    assert again.exit_code == 2 and "exists" in again.output
    bad_role = runner.invoke(cli, ["keys", "add", "x", "--department", "d", "--role", "admin"])
    assert bad_role.exit_code == 2 and "role" in bad_role.output


def test_keys_cert_registers_the_fingerprint_and_revoke_refuses_it(cli_env: Settings, tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki", "lookup")
    client = ca.client("tax", "xz-tax")
    runner = CliRunner()
    made = runner.invoke(
        cli, ["keys", "cert", "xz-tax", "--department", "忻州市税务局", "--cert", str(client.cert)]
    )
    assert made.exit_code == 0, made.output
    fingerprint = hashlib.sha256(client.certificate.public_bytes(Encoding.DER)).hexdigest()
    assert fingerprint in made.output
    server_only = ca.issue("srv", "localhost", purposes=(SERVER_AUTH,))
    refused = runner.invoke(
        cli, ["keys", "cert", "srv", "--department", "d", "--cert", str(server_only.cert)]
    )
    assert refused.exit_code == 2 and "client authentication" in refused.output
    twice = runner.invoke(cli, ["keys", "cert", "again", "--department", "d", "--cert", str(client.cert)])
    assert twice.exit_code == 2 and "already registered" in twice.output
    assert runner.invoke(cli, ["keys", "revoke", "xz-tax"]).output.strip().endswith("revoked")
    assert "already revoked" in runner.invoke(cli, ["keys", "revoke", "xz-tax"]).output
    assert runner.invoke(cli, ["keys", "revoke", "nobody"]).exit_code == 2
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).output)
    assert listed[0]["cert_sha256"] == fingerprint and listed[0]["revoked_at"] is not None


def test_the_openapi_document_describes_the_api(client: TestClient, world: World) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/v1/standing/{code}", "/v1/report/{code}.html", "/v1/report/{code}.pdf", "/v1/queries"} <= set(
        schema["paths"]
    )
    standing = schema["paths"]["/v1/standing/{code}"]["get"]
    assert {p["name"] for p in standing["parameters"]} == {"code", "matter"}
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey", "clientCertificate"}
    assert schema["paths"]["/v1/health"]["get"]["security"] == []
    assert client.get("/docs").status_code == 200
    assert client.get(f"/v1/standing/{USCC}", params={"matter": "m"}).status_code == 401


def test_serve_refuses_client_certificates_without_tls(cli_env: Settings) -> None:
    done = CliRunner().invoke(cli, ["serve", "--client-ca", "ca.pem"])
    assert done.exit_code == 2 and "--client-ca needs --tls-cert" in done.output
    assert CliRunner().invoke(cli, ["serve", "--workers", "0"]).exit_code == 2
