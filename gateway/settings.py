"""Where the gateway keeps things and whom it talks to, as one plain value.

gateway/ never imports Airflow: DAGs (and the CLI) build a ``Settings`` from environment variables or an
Airflow Connection and pass it in. Every path defaults to a folder under ``GATEWAY_HOME`` (``var/`` in the
repository), so a new user runs everything with no configuration and no server.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger(__name__)

# The gateway's own files hold personal data (names, ID numbers, penalties): owner only, whatever the umask.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# What departments read back (archived files, receipts) may be group-readable: the drop zone's group is how
# a department's share account reads its receipts. Never anything for others.
SHARED_DIR = 0o750
SHARED_FILE = 0o640


def private_dir(path: Path, mode: int = PRIVATE_DIR, *, tighten_existing: bool = True) -> Path:
    """``mkdir -p`` whose every new folder gets exactly ``mode`` and whose existing leaf is tightened to it.

    Not ``Path.mkdir(mode=...)``: the umask applies to that (and only to the leaf), so the result would
    depend on how the process was started. Existing parents are left alone (they may be shared, like
    /srv); an existing leaf loses any permission beyond ``mode`` (a folder made 0755 by an older
    release), keeping special bits such as setgid that an operator may have set — unless
    ``tighten_existing`` is false, for a folder that may hold other things than ours.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, mode)
        except FileExistsError:
            continue  # another process made it at the same moment: tightened below if it is the leaf
        os.chmod(folder, mode)
    if tighten_existing:
        tighten(path, mode)
    return path


def tighten(path: Path, mode: int) -> None:
    """Remove permissions beyond ``mode`` from an existing file or folder we own; a no-op when it is tight.

    One we do not own (an operator's choice) is logged, not fatal: the gateway still runs, and the log
    says what to fix."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(info.st_mode)
    wanted = (current & 0o7000) | (current & mode) | (mode & 0o700)
    if wanted == current or stat.S_ISLNK(info.st_mode):
        return
    try:
        os.chmod(path, wanted)
    except PermissionError:
        log.warning("%s has mode %o, wider than %o, and is not ours to change", path, current, mode)


def create_private_file(path: Path, mode: int = PRIVATE_FILE, *, exclusive: bool = True) -> int:
    """Open ``path`` for writing as a new file of exactly ``mode``; returns the descriptor.

    ``exclusive``: fail if it exists (a temporary name of our own); otherwise an existing file is
    truncated and its mode reset (a leftover of a crashed run). Never follows a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_EXCL if exclusive else os.O_TRUNC
    descriptor = os.open(path, flags, mode)
    try:
        os.fchmod(descriptor, mode)  # the umask applied to os.open's mode
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _env_path(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    return Path(value).expanduser().resolve() if value else default


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
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``GATEWAY_*`` variables; anything unset falls back to the embedded defaults."""
        env = os.environ if env is None else env
        home = _env_path(env, "GATEWAY_HOME", REPO_ROOT / "var")
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
            schemas_dir=_env_path(env, "GATEWAY_SCHEMAS_DIR", REPO_ROOT / "schemas"),
            mappings_dir=_env_path(env, "GATEWAY_MAPPINGS_DIR", REPO_ROOT / "mappings"),
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
