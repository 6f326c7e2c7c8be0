"""Foreign keys of a bulk load checked once per batch on PostgreSQL, instead of once per row.

PostgreSQL checks a foreign key by a trigger per inserted row, each running its own query: measured on a
file's new records, the two keys of ``record`` took a COPY from 6.0 to 13.9 µs a row, and a record's three
rows (record, version, outbox) carry five such keys (docs/performance.md). For the rows a bulk insert writes,
the same guarantee is given set-wise: the triggers are switched off for those statements
(``session_replication_role = replica``, local to the transaction), and one statement per key locks the
distinct rows the batch names (``FOR KEY SHARE``, as the trigger would, so no one deletes them before the
commit) and counts them; a value that names nothing aborts the transaction, as the trigger would have. The
values are the ones the load holds in hand, not read back from the table: a scan of the new rows by id
range was planned as a sequential scan of the whole table (its statistics predate the load). References
the load takes from the table itself within its transaction (a version's record id read back after the
records' insert, an outbox row's version selected from the versions) hold by construction. The
constraints stay declared: every other statement, and every other writer, is checked by PostgreSQL as
before.

Switching the triggers off needs the right to set that parameter: a superuser has it, another role from
PostgreSQL 15 on when granted ``GRANT SET ON PARAMETER session_replication_role TO <role>``. Without it the
load runs with the triggers, just more slowly. SQLite checks a key with one index lookup (about 0.4 µs a
row), so it keeps its own checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Table

log = logging.getLogger(__name__)


class DanglingReference(RuntimeError):
    """Rows of a bulk load name rows that do not exist; the transaction must not commit."""


def may_skip_triggers(conn: Connection) -> bool:
    """Whether this connection's role may switch per-row triggers off (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return False
    cached = conn.info.get("gateway.skip_triggers")
    if cached is None:
        cached = bool(
            conn.exec_driver_sql(
                "SELECT rolsuper OR (current_setting('server_version_num')::int >= 150000 "
                "AND has_parameter_privilege('session_replication_role', 'SET')) "
                "FROM pg_roles WHERE rolname = current_user"
            ).scalar()
        )
        if not cached:
            log.info(
                "bulk loads keep PostgreSQL's per-row foreign-key triggers: this role may not set "
                "session_replication_role (docs/operations.md)"
            )
        conn.info["gateway.skip_triggers"] = cached
    return bool(cached)


@contextmanager
def checked_set_wise(conn: Connection) -> Iterator[bool]:
    """Within the block, PostgreSQL runs no per-row triggers (yields True) when the role may switch them
    off; the caller then checks what it wrote with :func:`verify`. Elsewhere a no-op (yields False). On
    an exception the setting is left to the rollback, which undoes it (it is local to the transaction)."""
    if not may_skip_triggers(conn):
        yield False
        return
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    yield True
    conn.exec_driver_sql("SET LOCAL session_replication_role = origin")


def verify(conn: Connection, target: Table, values: Iterable[int | None], *, column: str) -> None:
    """Every value names a row of ``target``: those rows are locked (``FOR KEY SHARE``, as PostgreSQL's
    own check would, so none is deleted before the commit) and counted, in one statement; a value that
    names nothing aborts the load. ``column``: the referencing column, for the message."""
    wanted = sorted({value for value in values if value is not None})
    if not wanted:
        return
    quote = conn.dialect.identifier_preparer.quote
    found = conn.exec_driver_sql(
        f"SELECT count(*) FROM (SELECT 1 FROM {quote(target.name)} WHERE id = ANY(%s) FOR KEY SHARE) AS held",
        (wanted,),
    ).scalar_one()
    if found != len(wanted):
        raise DanglingReference(
            f"{len(wanted) - found} value(s) of {column} written by this load name no {target.name}: "
            "the load is rolled back"
        )
