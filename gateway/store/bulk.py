"""Bulk inserts that skip SQLAlchemy's per-row parameter processing.

`conn.execute(table.insert(), rows)` spends ~10 µs per row and column in SQLAlchemy's Python code before the
driver sees anything; for files of hundreds of thousands of rows that dominates. Here the statement text is
built once, a column's bind processor (e.g. Boolean on SQLite) runs once per distinct value, and the driver's
own executemany does the rest, inside the caller's transaction. Plain values only: the tables involved have
no Python-side defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Table


def _sqlite_datetime(value: datetime) -> str:
    """What the sqlite3 module's own datetime adapter stores (Python 3.11), once per distinct value."""
    return value.isoformat(" ")


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in columns]
    if conn.dialect.name == "sqlite":
        return [
            _sqlite_datetime if processor is None and isinstance(table.c[name].type, DateTime) else processor
            for name, processor in zip(columns, processors, strict=True)
        ]
    return processors


def bulk_insert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_conflicts_on: Sequence[str] = (),
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order); returns how many were inserted.

    ``ignore_conflicts_on`` names a unique key: rows that collide with it are skipped (ON CONFLICT DO
    NOTHING, which SQLite and PostgreSQL both understand), so concurrent writers cannot fail each other."""
    if not rows:
        return 0
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    if ignore_conflicts_on:
        statement += f" ON CONFLICT ({', '.join(quote(c) for c in ignore_conflicts_on)}) DO NOTHING"
    processors = _processors(conn, table, columns)
    converted = [i for i, processor in enumerate(processors) if processor is not None]
    prepared: list[tuple[Any, ...]] = []
    caches: dict[int, dict[Any, Any]] = {i: {} for i in converted}
    for row in rows:
        if not converted:
            prepared.append(tuple(row))
            continue
        values = list(row)
        for i in converted:
            value = values[i]
            if value is not None:
                cache = caches[i]
                if value not in cache:  # timestamps and flags repeat across a batch: convert each once
                    cache[value] = processors[i](value)  # type: ignore[misc]
                values[i] = cache[value]
        prepared.append(tuple(values))
    result = conn.exec_driver_sql(statement, prepared)
    return max(result.rowcount, 0)
