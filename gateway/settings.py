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


def _retention(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A retention period (gateway.maintenance): a number of days or hours, or ``keep`` for never removed."""
    value = env.get(name, "").strip()
    if not value:
        return default
    if value.lower() == "keep":
        return None
    number = float(value)
    if number < 0:
        raise ValueError(f"{name} must be a number of 0 or more, or keep, not {value!r}")
    return number


def _bytes_or_off(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    """A size in bytes, or ``off`` (None)."""
    value = env.get(name)
    if value is None:
        return default
    if value.strip().lower() == "off":
        return None
    number = int(value)
    if number < 0:
        raise ValueError(f"{name} must be a number of bytes (0 or more), or off, not {value!r}")
    return number


# The credit package's configuration (risk model, warning rules, draw ratios, holiday calendar): shipped
# in the package, replaced as a whole by GATEWAY_CREDIT_DIR (docs/credit.md).
CREDIT_DEFAULTS = Path(__file__).resolve().parent / "credit" / "config"


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
    # The watch DAG alerts when the oldest batch not yet acknowledged by the hub, or the oldest file waiting
    # in an inbox, is older than this (seconds).
    alert_batch_age_seconds: float = 7200.0
    alert_inbox_age_seconds: float = 1800.0
    # Retention (gateway.maintenance; docs/operations.md, "Retention and maintenance"); None: kept for good.
    landing_retention_days: float | None = 90  # processed units' raw rows, in whole local days
    # an acknowledged batch's XML, after the acknowledgement: 0, gone at the first maintenance run after it
    plaintext_retention_hours: float | None = 0
    envelope_retention_days: float | None = None  # an acknowledged batch's sealed envelopes
    archive_retention_days: float | None = 365  # drop folders' processed/ and rejected/ dated folders
    audit_retention_days: float | None = 1095  # rows of the audit table
    # The private keys' passphrase when it comes from an Airflow Connection; otherwise the keystore reads
    # GATEWAY_KEY_PASSPHRASE(_FILE) itself. Never printed: excluded from repr.
    key_passphrase: str | None = field(default=None, repr=False)
    credit_dir: Path = CREDIT_DEFAULTS
    # Units of at least this many bytes are read, mapped, validated and prepared in a forked process while
    # this one stores (gateway.read_process); None: always on a thread (docs/performance.md).
    read_process_min_bytes: int | None = 8 << 20

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
            credit_dir=_set_path(env, "GATEWAY_CREDIT_DIR") or CREDIT_DEFAULTS,
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
            landing_retention_days=_retention(
                env, "GATEWAY_LANDING_RETENTION_DAYS", cls.landing_retention_days
            ),
            plaintext_retention_hours=_retention(
                env, "GATEWAY_PLAINTEXT_RETENTION_HOURS", cls.plaintext_retention_hours
            ),
            envelope_retention_days=_retention(
                env, "GATEWAY_ENVELOPE_RETENTION_DAYS", cls.envelope_retention_days
            ),
            archive_retention_days=_retention(
                env, "GATEWAY_ARCHIVE_RETENTION_DAYS", cls.archive_retention_days
            ),
            audit_retention_days=_retention(env, "GATEWAY_AUDIT_RETENTION_DAYS", cls.audit_retention_days),
            read_process_min_bytes=_bytes_or_off(
                env, "GATEWAY_READ_PROCESS_MIN_BYTES", cls.read_process_min_bytes
            ),
            alert_batch_age_seconds=float(
                env.get("GATEWAY_ALERT_BATCH_AGE_SECONDS", cls.alert_batch_age_seconds)
            ),
            alert_inbox_age_seconds=float(
                env.get("GATEWAY_ALERT_INBOX_AGE_SECONDS", cls.alert_inbox_age_seconds)
            ),
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
