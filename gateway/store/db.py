"""Engines and migrations for the gateway database (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event

from gateway.transfer.private_files import private_database

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets the hub report and the CLI read while a DAG writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache instead of 2: a large file's inserts keep the natural-key index in memory (the
    # end-to-end benchmark ingests about 10 % faster, bench/run.py and docs/performance.md).
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _private_sqlite_file(location: str) -> None:
    """The database file and its folder owner-only, made before SQLite opens it.

    SQLite creates a missing file with 0644 less the umask, and its -wal and -shm files with the mode of
    the database file; so an empty file created 0600 here (SQLite takes an empty file for a new database)
    makes all three private. An existing file from an older release is tightened to 0600."""
    name = location.split("?", 1)[0]
    if not name or name == ":memory:":
        return
    private_database(Path(name), tighten_folder=False)


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process: engines own connection pools and are meant to be shared."""
    if url.startswith("sqlite:///"):
        _private_sqlite_file(url.removeprefix("sqlite:///"))
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@contextmanager
def migration_connection(url: str) -> Iterator[Connection]:
    """A connection in a transaction for Alembic to run migrations on.

    On SQLite two things need care. The foreign keys are switched off for the migration and checked at its
    end, as SQLite's own procedure for changing a table prescribes (https://www.sqlite.org/lang_altertable.html,
    "Making Other Kinds Of Table Schema Changes"): rebuilding a table that others reference — Alembic's
    batch mode — drops it, which enforced keys forbid; the pragma has no effect inside a transaction, so it
    is issued before one begins. And the transaction must hold the DDL too: Python's sqlite3 module opens a
    transaction only before data changes, so a CREATE or DROP before the first INSERT would commit at once
    and a failed migration would leave half its changes behind. The driver is put in autocommit mode and the
    transaction is begun explicitly, so the whole migration commits or rolls back as one."""
    engine = engine_for(url)
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            yield connection
        return
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        level = raw.isolation_level
        raw.isolation_level = None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                raw.execute("BEGIN")
                yield connection
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")
        finally:
            if raw.in_transaction:
                raw.rollback()
            raw.execute("PRAGMA foreign_keys=ON")
            raw.isolation_level = level


def run_migrations(url: str, action: str, revision: str) -> None:
    """``action`` "upgrade" or "downgrade" to ``revision`` (an id or "head"), as `alembic` would."""
    config = _alembic_config()
    with migration_connection(url) as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def migrate(url: str) -> str:
    """Bring the database to the newest schema; returns the revision it is at."""
    run_migrations(url, "upgrade", "head")
    return current_revision(url) or ""


def current_revision(url: str) -> str | None:
    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def describe(url: str) -> str:
    """The URL with any password removed, for logs and summaries."""
    return engine_for(url).url.render_as_string(hide_password=True)
