"""The gateway's settings inside Airflow: the gateway_hub Connection over the GATEWAY_* environment.

The Connection is read as a task reads it, through Airflow 3's ``BaseHook.get_connection``, which outside a
worker finds connections in ``AIRFLOW_CONN_*`` variables (JSON) and never needs the metadata database.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from connectors.airflow_settings import GatewayHubHook, gateway_settings
from gateway.settings import Settings
from tests.connectors.connections import Connection

# Importing Airflow creates $AIRFLOW_HOME/logs; without this it would be ~/airflow. (tests/dags/conftest.py
# sets its own AIRFLOW_HOME when the DAG tests run in the same session.)
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="gateway-airflow-"))

PASSPHRASE = "correct horse battery staple 42"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """GATEWAY_* settings of their own, and no gateway_hub Connection until a test defines one."""
    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_HUB_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("GATEWAY_SENDER_ID", "XZ149999")
    monkeypatch.delenv("AIRFLOW_CONN_GATEWAY_HUB", raising=False)
    return monkeypatch


def hub_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str = "gateway_hub", **fields: Any) -> None:
    connection = {"conn_type": "http", "host": "hub.shanxi.gov.cn", **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


def test_the_connection_gives_the_hub_the_sender_the_keys_and_the_passphrase(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hub_connection(
        env,
        port=8443,
        schema="https",
        password=PASSPHRASE,
        extra={
            "sender_id": "XZ140901",
            "verify": "/etc/pki/hub-ca.pem",
            "keys_dir": str(tmp_path / "keys"),
            "suite": "sm",
            "hub_client_cert": "/etc/pki/gateway.crt",
            "hub_client_key": "/etc/pki/gateway.key",
        },
    )
    settings = gateway_settings()
    assert settings.hub_url == "https://hub.shanxi.gov.cn:8443"
    assert settings.sender_id == "XZ140901"
    assert settings.hub_verify == "/etc/pki/hub-ca.pem"
    assert settings.keys_dir == tmp_path / "keys"
    assert settings.suite == "sm"
    assert settings.hub_cert == ("/etc/pki/gateway.crt", "/etc/pki/gateway.key")
    assert settings.key_passphrase == PASSPHRASE
    # What the Connection does not say comes from the environment.
    assert settings.home == tmp_path / "var" and settings.landing_dir == tmp_path / "var" / "landing"


@pytest.mark.parametrize(
    ("verify", "expected"),
    [
        ("false", False),
        ("False", False),
        ("true", True),
        (False, False),
        ("/etc/pki/ca.pem", "/etc/pki/ca.pem"),
    ],
)
def test_verify_is_a_boolean_or_the_path_of_a_ca_bundle(
    env: pytest.MonkeyPatch, verify: object, expected: object
) -> None:
    hub_connection(env, extra={"verify": verify})
    assert gateway_settings().hub_verify == expected


def test_what_the_connection_leaves_out_keeps_the_environments_value(env: pytest.MonkeyPatch) -> None:
    env.setenv("GATEWAY_HUB_VERIFY", "false")
    hub_connection(env)  # no schema, no port, no extras, no password
    settings = gateway_settings()
    assert settings.hub_url == "https://hub.shanxi.gov.cn"  # https unless the schema says http
    assert settings.hub_verify is False and settings.sender_id == "XZ149999"
    assert settings.key_passphrase is None and settings.suite == "default"
    hub_connection(env, schema="http", port=8765)
    assert gateway_settings().hub_url == "http://hub.shanxi.gov.cn:8765"


def test_without_the_connection_the_environment_applies(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="connectors.airflow_settings"):
        settings = gateway_settings()
    assert settings == Settings.from_env()
    assert settings.hub_url == "http://127.0.0.1:9999" and settings.sender_id == "XZ149999"
    assert "no Airflow connection 'gateway_hub'" in caplog.text


def test_another_connection_id_can_be_named(env: pytest.MonkeyPatch) -> None:
    hub_connection(env, "gateway_hub_standby", extra={"sender_id": "XZ140902"})
    assert gateway_settings("gateway_hub_standby").sender_id == "XZ140902"
    assert gateway_settings().sender_id == "XZ149999"  # gateway_hub itself is not defined


def test_the_passphrase_is_never_logged_or_printed(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hub_connection(env, port=8443, password=PASSPHRASE, extra={"sender_id": "XZ140901"})
    with caplog.at_level(logging.DEBUG):
        settings = gateway_settings()
    assert settings.key_passphrase == PASSPHRASE
    assert "hub.shanxi.gov.cn:8443" in caplog.text  # the address is logged …
    assert PASSPHRASE not in caplog.text and PASSPHRASE not in repr(settings)  # … the passphrase never


def test_the_hook_reads_any_object_with_a_connections_fields() -> None:
    base = Settings.from_env({"GATEWAY_HOME": "/srv/gateway"})
    conn = Connection("http", "hub.example.cn", 443, "https", password=PASSPHRASE, extra={"verify": "true"})
    settings = GatewayHubHook(conn).settings(base)
    assert (settings.hub_url, settings.hub_verify, settings.key_passphrase) == (
        "https://hub.example.cn:443",
        True,
        PASSPHRASE,
    )
    assert settings.keys_dir == base.keys_dir and settings.sender_id == base.sender_id
