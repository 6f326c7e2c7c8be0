"""Driver-level access for the lookup's hot path: statements written once per dialect, run on the pooled DBAPI
connection without SQLAlchemy's per-statement compilation and result rows.

Why not Core here: a lookup is half a dozen indexed statements, and Core's compile-cache lookup, parameter
processing and Row objects cost about as much as the statements themselves (docs/lookup.md, "Load"). The
statements are plain SQL that SQLite and PostgreSQL both accept; only the parameter marker differs (``?`` for
sqlite3, ``%s`` for psycopg), so they are written with ``?`` and translated once. None contains a literal
``%`` or ``?`` of its own.

Dates and times come back as the driver gives them: ``date``/``datetime`` from psycopg, text from sqlite3
(SQLAlchemy's own format, UTC without a zone); :func:`day` and :func:`moment` read both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from gateway.store.db import engine_for


class Database:
    """One gateway database as the lookup uses it: its dialect, its statements and its connections."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)
        self.dialect = self.engine.dialect.name
        self._marker = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def sql(self, statement: str) -> str:
        """``statement`` (written with ``?`` markers) in this driver's parameter style."""
        return statement if self._marker == "?" else statement.replace("?", self._marker)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A DBAPI connection from the engine's pool in autocommit mode, handed back as it was found.

        Autocommit because a lookup is reads, each one statement with its own consistent snapshot, and one
        INSERT that must be durable before the answer leaves: in autocommit the INSERT is its own
        transaction, committed when ``execute`` returns — one round trip, not an INSERT and a COMMIT. The
        mode is switched on the driver's connection (a local flag for psycopg and sqlite3, no round trip)
        and switched back before the connection returns to the pool, which the rest of the gateway shares.
        A connection that broke (the server restarted) is invalidated so the next checkout opens a new one.
        """
        raw = self.engine.raw_connection()
        driver = raw.dbapi_connection
        sqlite = self.dialect == "sqlite"
        before = driver.isolation_level if sqlite else driver.autocommit
        if sqlite:
            driver.isolation_level = None
        else:
            driver.autocommit = True
        try:
            yield raw
        except BaseException as exc:
            if self.engine.dialect.is_disconnect(exc, driver, None):
                raw.invalidate(exc)
            raise
        finally:
            if raw.dbapi_connection is not None:  # not invalidated
                if sqlite:
                    driver.isolation_level = before
                else:
                    driver.autocommit = before
            raw.close()


def fetch_all(raw: Any, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    cursor = raw.cursor()
    try:
        cursor.execute(statement, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def day(value: date | str | None) -> str | None:
    """A DATE column's value as ``YYYY-MM-DD``."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def moment(value: datetime | str | None) -> datetime | None:
    """A DateTime column's value as an aware datetime; SQLite's naive text is UTC (gateway.local_times)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def stored_moment(dialect: str, value: datetime) -> datetime | str:
    """What to bind for a DateTime(timezone=True) column: the aware value for PostgreSQL, and for SQLite the
    naive UTC text SQLAlchemy itself writes, so Core reads the log back as it reads every other table."""
    if dialect != "sqlite":
        return value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
