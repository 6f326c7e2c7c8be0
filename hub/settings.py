"""Settings of the reference hub: plain values, so the CLI, tests and a deployment build them alike."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.transfer import DEFAULT_SUITE_ID

DEFAULT_MAX_SKEW = 300
DEFAULT_MAX_BODY = 2 << 30
DEFAULT_MAX_REJECTIONS = 1000
DB_FILE = "hub.db"


@dataclass(frozen=True)
class Settings:
    """``home`` holds the hub's own state (hub.db, received/, tmp/); ``keys`` its key directory."""

    home: Path
    keys: Path
    schemas: Path
    max_skew: int = DEFAULT_MAX_SKEW
    max_body: int = DEFAULT_MAX_BODY
    max_rejections: int = DEFAULT_MAX_REJECTIONS
    allowed_suites: tuple[str, ...] = (DEFAULT_SUITE_ID,)

    @property
    def db_path(self) -> Path:
        return self.home / DB_FILE

    @property
    def received_dir(self) -> Path:
        return self.home / "received"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"
