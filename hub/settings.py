"""Settings of the reference hub: plain values, so the CLI, tests and a deployment build them alike.

Accepted suites (HUB_SUITES, ``serve --suites``): a comma list of ``default``, ``sm`` or full suite ids.
The default is the default suite only: a receiver accepts exactly what it was set up for (an agreement
with its senders, and keys of that suite in its keyring), and the SM suite's bulk cipher is several times
slower, so enabling it is a capacity decision as well (docs/protocol.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.transfer import DEFAULT_SUITE_ID
from gateway.transfer.suites import parse_suite_list

DEFAULT_MAX_SKEW = 300
DEFAULT_MAX_BODY = 2 << 30
DEFAULT_MAX_REJECTIONS = 1000
DB_FILE = "hub.db"
SUITES_ENV = "HUB_SUITES"
DEFAULT_SUITES = "default"


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

    def __post_init__(self) -> None:
        """Aliases (``default``, ``sm``) become full ids, and an unknown id fails here, not per batch."""
        object.__setattr__(self, "allowed_suites", parse_suite_list(",".join(self.allowed_suites)))

    @property
    def db_path(self) -> Path:
        return self.home / DB_FILE

    @property
    def received_dir(self) -> Path:
        return self.home / "received"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"
