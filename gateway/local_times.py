"""Times as the gateway's people read them: in the configured time zone, to the second.

The database keeps UTC; SQLite hands datetimes back without a zone, and everything the gateway writes is
UTC, so a naive value is read as UTC (never as the machine's local time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from gateway.settings import Settings

SHOWN = "%Y-%m-%d %H:%M:%S"


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shown(settings: Settings, moment: datetime | None) -> str:
    """``moment`` in the settings' time zone, or "" when there is none."""
    if moment is None:
        return ""
    return as_utc(moment).astimezone(ZoneInfo(settings.timezone)).strftime(SHOWN)
