"""Gateway settings inside Airflow: environment defaults, overridden by the ``gateway_hub`` Connection.

gateway/ never imports Airflow; this is where an Airflow Connection becomes plain settings. The Connection
(type http) holds the hub address: host, port and schema (http or https); its extras may hold
``sender_id``, ``verify`` (true/false or a CA bundle path), ``keys_dir``, ``suite`` (default | sm) and
the mTLS client certificate ``hub_client_cert`` / ``hub_client_key`` (paths). Its password field, when
set, is the passphrase of the gateway's private keys (Airflow encrypts it with its Fernet key and masks it
in logs). Without the Connection, the
``GATEWAY_*`` environment variables (or the embedded defaults) apply, which is what the demo uses.
"""

from __future__ import annotations

import logging
from pathlib import Path

from connectors.connection import ConnectionHook, get_connection
from gateway.settings import Settings

log = logging.getLogger(__name__)
HUB_CONN_ID = "gateway_hub"


class GatewayHubHook(ConnectionHook):
    """The hub's Connection: what it says overrides the settings from the environment."""

    def settings(self, base: Settings) -> Settings:
        conn, extra = self.connection, self.extra
        scheme = conn.schema if conn.schema in {"http", "https"} else "https"
        port = f":{conn.port}" if conn.port else ""
        verify = extra.get("verify", base.hub_verify)
        if isinstance(verify, str) and verify.lower() in {"true", "false"}:
            verify = verify.lower() == "true"
        changes: dict[str, object] = {"hub_url": f"{scheme}://{conn.host}{port}", "hub_verify": verify}
        if "sender_id" in extra:
            changes["sender_id"] = str(extra["sender_id"])
        if "keys_dir" in extra:
            changes["keys_dir"] = Path(extra["keys_dir"])
        for key in ("suite", "hub_client_cert", "hub_client_key"):
            if key in extra:
                changes[key] = str(extra[key])
        if conn.password:  # the connection's password field holds the passphrase of our private keys
            changes["key_passphrase"] = conn.password
        return base.with_overrides(**changes)


def gateway_settings(conn_id: str = HUB_CONN_ID) -> Settings:
    from airflow.sdk.exceptions import AirflowNotFoundException

    settings = Settings.from_env()
    try:
        conn = get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("no Airflow connection %r: hub %s from the environment", conn_id, settings.hub_url)
        return settings
    settings = GatewayHubHook(conn).settings(settings)
    log.info("hub from Airflow connection %r: %s", conn_id, settings.hub_url)
    return settings
