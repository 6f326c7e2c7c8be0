"""Bulk inserts that skip SQLAlchemy's per-row parameter processing.

`conn.execute(table.insert(), rows)` spends ~10 µs per row and column in SQLAlchemy's Python code before the
driver sees anything; for files of hundreds of thousands of rows that dominates. Here the statement text is
built once, a column's bind processor (e.g. Boolean on SQLite) runs once per distinct value, and the driver's
own executemany does the rest, inside the caller's transaction. Plain values only: the tables involved have
no Python-side defaults.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import repeat
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
    quote = conn.dialect.identifier_preparer.quote
    if conn.dialect.name == "postgresql":
        if not ignore_conflicts_on:
            names = ", ".join(quote(c) for c in columns)
            return _copy(conn, f"COPY {quote(table.name)} ({names}) FROM STDIN", prepared)
        return _copy_merge(conn, table, columns, prepared, ignore_conflicts_on)
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    if ignore_conflicts_on:
        statement += f" ON CONFLICT ({', '.join(quote(c) for c in ignore_conflicts_on)}) DO NOTHING"
    result = conn.exec_driver_sql(statement, prepared)
    return max(result.rowcount, 0)


def _copy_merge(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict_key: Sequence[str],
) -> int:
    """PostgreSQL: COPY the rows into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO
    NOTHING`` on ``conflict_key`` moves them over. executemany ran the INSERT once per row, which cost
    the new entities of a large file more than COPYing all its records did (docs/performance.md). The
    staging table lives until the transaction ends."""
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    staging = quote(f"_bulk_{table.name}_{zlib.crc32(names.encode()):08x}")  # one per column list
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS "
        f"SELECT {names} FROM {quote(table.name)} WITH NO DATA"
    )
    conn.exec_driver_sql(f"TRUNCATE {staging}")
    _copy(conn, f"COPY {staging} ({names}) FROM STDIN", rows)
    key = ", ".join(quote(c) for c in conflict_key)
    merge = f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {staging}"
    return max(conn.exec_driver_sql(f"{merge} ON CONFLICT ({key}) DO NOTHING").rowcount, 0)


def in_condition(conn: Connection, column_sql: str, values: Sequence[Any]) -> tuple[str, Any]:
    """``column IN values`` as SQL text and its one parameter, however many values there are.

    Why not ``column.in_(chunk)``: SQLAlchemy compiles an expanding IN list anew for every chunk, which cost
    more than the lookups themselves (2 s per 100,000 keys). Here the values travel as one parameter: a JSON
    array unpacked by SQLite's json_each, or an array for PostgreSQL's ``= ANY``.
    """
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    if conn.dialect.name == "sqlite":
        return f"{column_sql} IN (SELECT value FROM json_each({marker}))", json.dumps(
            list(values), ensure_ascii=False
        )
    return f"{column_sql} = ANY({marker})", list(values)


def select_matching(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    key: str,
    keys: Iterable[str],
    *,
    equal: dict[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Rows of ``table`` (``columns``, in order) whose ``key`` is one of ``keys``, in one statement.

    ``equal`` adds ``column = value`` conditions (e.g. the record type). Values come as the driver gives them.
    """
    wanted = list(dict.fromkeys(k for k in keys if k))
    if not wanted:
        return []
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    condition, value = in_condition(conn, quote(key), wanted)
    params: list[Any] = [value]
    for name, expected in (equal or {}).items():
        condition += f" AND {quote(name)} = {marker}"
        params.append(expected)
    statement = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} WHERE {condition}"
    return fetch_all(conn, statement, tuple(params))


def fetch_all(conn: Connection, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """All rows of a driver-level statement, fetched by the driver itself: SQLAlchemy's result rows cost
    several microseconds each, and a batch's lookups return tens of thousands."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement, params)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def insert_columns(
    conn: Connection,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any],
) -> int:
    """Insert rows given column by column; ``constants`` are the same in every row.

    Column-major because that is how the store holds a batch (Arrow columns turned into lists): the rows are
    zipped in C, and a constant's bind processor (timestamps on SQLite) runs once, not once per row.
    """
    if not columns:
        return 0
    count = len(next(iter(columns.values())))
    names = [*columns, *constants]
    processors = _processors(conn, table, names)
    values: list[Iterable[Any]] = []
    for name, processor in zip(names, processors, strict=True):
        if name in constants:
            value = constants[name]
            value = processor(value) if processor is not None and value is not None else value
            values.append(repeat(value, count))
        elif processor is None:
            values.append(columns[name])
        else:
            cache: dict[Any, Any] = {None: None}
            values.append(
                [cache[v] if v in cache else cache.setdefault(v, processor(v)) for v in columns[name]]
            )
    quote = conn.dialect.identifier_preparer.quote
    if conn.dialect.name == "postgresql":
        columns_sql = ", ".join(quote(c) for c in names)
        return _copy(conn, f"COPY {quote(table.name)} ({columns_sql}) FROM STDIN", zip(*values, strict=True))
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) "
        f"VALUES ({', '.join([marker] * len(names))})"
    )
    result = conn.exec_driver_sql(statement, list(zip(*values, strict=True)))
    return max(result.rowcount, 0)


def _copy(conn: Connection, statement: str, rows: Iterable[Sequence[Any]]) -> int:
    """PostgreSQL's COPY: several times faster than executemany, which runs one INSERT per row."""
    count = 0
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
