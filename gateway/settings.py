"""Where the gateway keeps things and whom it talks to, as one plain value.

gateway/ never imports Airflow: DAGs (and the CLI) build a ``Settings`` from environment variables or an
Airflow Connection and pass it in. Every path defaults to a folder under ``GATEWAY_HOME`` (``var/`` in the
working directory unless set; a deployment sets it), so a new user runs everything with no configuration
and no server. The schemas and mappings default to the ones shipped with the package (gateway.bundled).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.bundled import bundled_dir
from gateway.transfer.private_files import SHARED_DIR, private_dir

log = logging.getLogger(__name__)


def _set_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value).expanduser().resolve() if value else None


def _env_path(env: Mapping[str, str], name: str, default: Path) -> Path:
    return _set_path(env, name) or default


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    schemas_dir: Path
    mappings_dir: Path
    dropzone: Path
    landing_dir: Path
    outbox_dir: Path
    keys_dir: Path
    sender_id: str = "XZ140900"
    hub_url: str = "http://127.0.0.1:8765"
    hub_verify: bool | str = True
    reject_threshold: float = 0.2
    batch_max_records: int = 5000
    settle_seconds: float = 2.0
    # How long a drop-folder file with a temporary name (".x.csv", "x.csv.part", "~$x.xlsx") may sit before
    # it is taken out of the inbox with a receipt: editors and sync tools write such names while they work.
    temp_grace_seconds: float = 3600.0
    push_retries: int = 5
    timezone: str = "Asia/Shanghai"
    suite: str = "default"  # transfer suite: default (X25519/AES-GCM/Ed25519), sm (国密) or a full suite id
    hub_client_cert: str | None = None  # mTLS: PEM certificate (and key) presented to the hub
    hub_client_key: str | None = None
    # The private keys' passphrase when it comes from an Airflow Connection; otherwise the keystore reads
    # GATEWAY_KEY_PASSPHRASE(_FILE) itself. Never printed: excluded from repr.
    key_passphrase: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``GATEWAY_*`` variables; anything unset falls back to the embedded defaults."""
        env = os.environ if env is None else env
        home = _env_path(env, "GATEWAY_HOME", Path.cwd() / "var")
        db_default = f"sqlite:///{home / 'gateway' / 'gateway.db'}"
        verify_raw = env.get("GATEWAY_HUB_VERIFY", "true")
        hub_verify: bool | str = (
            verify_raw.lower() not in {"0", "false", "no"}
            if verify_raw.lower() in {"0", "1", "true", "false", "yes", "no"}
            else verify_raw
        )
        return cls(
            home=home,
            database_url=env.get("GATEWAY_DATABASE_URL", db_default),
            schemas_dir=_set_path(env, "GATEWAY_SCHEMAS_DIR") or bundled_dir("schemas"),
            mappings_dir=_set_path(env, "GATEWAY_MAPPINGS_DIR") or bundled_dir("mappings"),
            dropzone=_env_path(env, "GATEWAY_DROPZONE", home / "dropzone"),
            landing_dir=_env_path(env, "GATEWAY_LANDING_DIR", home / "landing"),
            outbox_dir=_env_path(env, "GATEWAY_OUTBOX_DIR", home / "outbox"),
            keys_dir=_env_path(env, "GATEWAY_KEYS_DIR", home / "keys"),
            sender_id=env.get("GATEWAY_SENDER_ID", cls.sender_id),
            hub_url=env.get("GATEWAY_HUB_URL", cls.hub_url).rstrip("/"),
            hub_verify=hub_verify,
            reject_threshold=float(env.get("GATEWAY_REJECT_THRESHOLD", cls.reject_threshold)),
            batch_max_records=int(env.get("GATEWAY_BATCH_MAX_RECORDS", cls.batch_max_records)),
            settle_seconds=float(env.get("GATEWAY_SETTLE_SECONDS", cls.settle_seconds)),
            temp_grace_seconds=float(env.get("GATEWAY_TEMP_GRACE_SECONDS", cls.temp_grace_seconds)),
            push_retries=int(env.get("GATEWAY_PUSH_RETRIES", cls.push_retries)),
            timezone=env.get("GATEWAY_TIMEZONE", cls.timezone),
            suite=env.get("GATEWAY_SUITE", cls.suite),
            hub_client_cert=env.get("GATEWAY_HUB_CLIENT_CERT") or None,
            hub_client_key=env.get("GATEWAY_HUB_CLIENT_KEY") or None,
        )

    @property
    def hub_cert(self) -> str | tuple[str, str] | None:
        """What HubClient takes as ``cert``: None, a combined PEM, or (certificate, key)."""
        if self.hub_client_cert and self.hub_client_key:
            return (self.hub_client_cert, self.hub_client_key)
        return self.hub_client_cert

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def local_time(self, moment: datetime) -> str:
        """Times shown to people (receipts) are local; the database keeps UTC."""
        return moment.astimezone(ZoneInfo(self.timezone)).isoformat()

    def ensure_dirs(self) -> None:
        """Create the gateway's folders: its own data owner-only (0700), the home and the drop zone 0750.

        The home and the drop zone are only created, never changed: departments reach their inboxes
        through them, and on a real deployment their permissions are the share's (docs/operations.md)."""
        for path in (self.home, self.dropzone):
            if not path.exists():
                private_dir(path, SHARED_DIR)
        for path in (self.landing_dir, self.outbox_dir, self.keys_dir):
            private_dir(path)
        if self.database_url.startswith("sqlite:///"):
            # Only created: the database file is private itself (gateway.store.db), its folder may be shared.
            private_dir(Path(self.database_url.removeprefix("sqlite:///")).parent, tighten_existing=False)
