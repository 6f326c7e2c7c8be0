"""Settings of the reference hub: plain values, so the CLI, tests and a deployment build them alike.

Accepted suites (HUB_SUITES, ``serve --suites``): a comma list of ``default``, ``sm`` or full suite ids.
The default is the default suite only: a receiver accepts exactly what it was set up for (an agreement
with its senders, and keys of that suite in its keyring), and the SM suite's bulk cipher is several times
slower, so enabling it is a capacity decision as well (docs/protocol.md §2).

Two groups. :class:`Settings` is what the app decides per request (caps on bodies, freshness, the suites,
whether the API pages are served); :class:`Limits` is what the connection layer (hub/guard.py) enforces
before and while a request is read: timeouts, the size of a request head, connections per client address
and in total. Every value has an environment variable, read by ``python -m hub serve`` (its ``--help``
lists them with their defaults); the names and defaults are the constants below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.transfer import DEFAULT_SUITE_ID
from gateway.transfer.manifest import MAX_MANIFEST_SIZE
from gateway.transfer.suites import parse_suite_list

DB_FILE = "hub.db"

# ---------------------------------------------------------------------------------------- Settings
MAX_SKEW_ENV, DEFAULT_MAX_SKEW = "HUB_MAX_SKEW", 300
MAX_BODY_ENV, DEFAULT_MAX_BODY = "HUB_MAX_BODY", 2 << 30
DEFAULT_MAX_REJECTIONS = 1000
SUITES_ENV, DEFAULT_SUITES = "HUB_SUITES", "default"
# The most of a body the hub reads before it has authenticated the request's manifest — that is, of the
# body of any request it refuses at admission. It is read (and discarded) only so that a client still
# sending sees the answer rather than a reset; past it the hub answers and closes the connection.
MAX_UNAUTHENTICATED_BODY_ENV, DEFAULT_MAX_UNAUTHENTICATED_BODY = "HUB_MAX_UNAUTHENTICATED_BODY", 64 << 10
# /docs, /redoc and /openapi.json: off unless asked for (they describe the surface to anyone who can
# connect, and /docs loads its script from a CDN); docs/hub-openapi.json is the published description.
DOCS_ENV = "HUB_DOCS"

# ------------------------------------------------------------------------------------------ Limits
# Seconds from the start of waiting for a request (connection made, or previous answer sent) until its
# whole head (request line and headers) has arrived. A gateway sends its head in one write.
HEADER_TIMEOUT_ENV, DEFAULT_HEADER_TIMEOUT = "HUB_HEADER_TIMEOUT", 10.0
# Seconds the hub waits for the next piece of a body it is reading; and the body must average at least
# BODY_MIN_RATE bytes/s over the time the hub spent waiting for it, beyond a first BODY_TIMEOUT of grace
# (0 switches the rate rule off). Time the hub itself is busy (checking the manifest, writing) never counts.
BODY_TIMEOUT_ENV, DEFAULT_BODY_TIMEOUT = "HUB_BODY_TIMEOUT", 30.0
BODY_MIN_RATE_ENV, DEFAULT_BODY_MIN_RATE = "HUB_BODY_MIN_RATE", 1024
# Bytes of a request head. A push's head is about 6 KiB at most (base64 of a ≤ 4 KiB manifest and of the
# signature, plus a few short headers); 64 KiB leaves room for proxies that add headers.
MAX_HEADER_SIZE_ENV, DEFAULT_MAX_HEADER_SIZE = "HUB_MAX_HEADER_SIZE", 64 << 10
MIN_HEADER_SIZE = 2 * MAX_MANIFEST_SIZE  # below this a legitimate push could not be sent at all
# Open connections in total and per client address. Each is a file descriptor: the total must stay below
# the process's limit (hub/guard.py raises the soft RLIMIT_NOFILE to fit, or lowers the total and warns).
MAX_CONNECTIONS_ENV, DEFAULT_MAX_CONNECTIONS = "HUB_MAX_CONNECTIONS", 1000
MAX_CONNECTIONS_PER_CLIENT_ENV, DEFAULT_MAX_CONNECTIONS_PER_CLIENT = "HUB_MAX_CONNECTIONS_PER_CLIENT", 32


class SettingError(ValueError):
    """A setting out of its range; the message names the setting and its environment variable."""


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
    max_unauthenticated_body: int = DEFAULT_MAX_UNAUTHENTICATED_BODY
    docs: bool = False

    def __post_init__(self) -> None:
        """Aliases (``default``, ``sm``) become full ids, and an unknown id fails here, not per batch."""
        object.__setattr__(self, "allowed_suites", parse_suite_list(",".join(self.allowed_suites)))
        _at_least(0, max_skew=(self.max_skew, MAX_SKEW_ENV))
        _at_least(
            1,
            max_body=(self.max_body, MAX_BODY_ENV),
            max_unauthenticated_body=(self.max_unauthenticated_body, MAX_UNAUTHENTICATED_BODY_ENV),
        )

    @property
    def db_path(self) -> Path:
        return self.home / DB_FILE

    @property
    def received_dir(self) -> Path:
        return self.home / "received"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"


@dataclass(frozen=True)
class Limits:
    """What hub/guard.py enforces on each connection; the defaults are the constants above."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    body_min_rate: int = DEFAULT_BODY_MIN_RATE
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_connections_per_client: int = DEFAULT_MAX_CONNECTIONS_PER_CLIENT

    def __post_init__(self) -> None:
        """A limit that would refuse every request, or none, fails at start-up with its variable named."""
        _positive(
            header_timeout=(self.header_timeout, HEADER_TIMEOUT_ENV),
            body_timeout=(self.body_timeout, BODY_TIMEOUT_ENV),
        )
        _at_least(0, body_min_rate=(self.body_min_rate, BODY_MIN_RATE_ENV))
        _at_least(MIN_HEADER_SIZE, max_header_size=(self.max_header_size, MAX_HEADER_SIZE_ENV))
        _at_least(
            1,
            max_connections=(self.max_connections, MAX_CONNECTIONS_ENV),
            max_connections_per_client=(self.max_connections_per_client, MAX_CONNECTIONS_PER_CLIENT_ENV),
        )


def _positive(**values: tuple[float, str]) -> None:
    for name, (value, env) in values.items():
        if not value > 0:
            raise SettingError(f"平台设置 {name}（{env}）必须大于 0，而它是 {value}")


def _at_least(low: int, **values: tuple[float, str]) -> None:
    for name, (value, env) in values.items():
        if value < low:
            raise SettingError(f"平台设置 {name}（{env}）不能小于 {low}，而它是 {value}")
