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

import pyarrow as pa
from sqlalchemy import Boolean, Connection, CursorResult, DateTime, Table

from gateway.store.copy_text import copy_buffer


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
    staging, names = _staging(conn, table, columns)
    _copy(conn, f"COPY {staging} ({names}) FROM STDIN", rows)
    return max(_merge(conn, table, staging, names, conflict_key).rowcount, 0)


def _staging(conn: Connection, table: Table, columns: Sequence[str]) -> tuple[str, str]:
    """An empty temporary table shaped as ``columns`` of ``table`` (one per column list, dropped at the
    commit), and the columns' list as SQL."""
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    staging = quote(f"_bulk_{table.name}_{zlib.crc32(names.encode()):08x}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS "
        f"SELECT {names} FROM {quote(table.name)} WITH NO DATA"
    )
    conn.exec_driver_sql(f"TRUNCATE {staging}")
    return staging, names


def _merge(
    conn: Connection,
    table: Table,
    staging: str,
    names: str,
    conflict_key: Sequence[str],
    returning: Sequence[str] = (),
) -> CursorResult[Any]:
    """Move the staged rows over, skipping those that collide with ``conflict_key``; with ``returning``,
    the result holds those columns of the rows inserted."""
    quote = conn.dialect.identifier_preparer.quote
    key = ", ".join(quote(c) for c in conflict_key)
    statement = f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {staging} "
    statement += f"ON CONFLICT ({key}) DO NOTHING"
    if returning:
        statement += f" RETURNING {', '.join(quote(c) for c in returning)}"
    return conn.exec_driver_sql(statement)


def merge_columns(
    conn: Connection,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any],
    conflict_key: Sequence[str],
    returning: Sequence[str] = (),
) -> tuple[int, list[tuple[Any, ...]] | None]:
    """Insert rows given column by column, skipping those that collide with the unique ``conflict_key``
    (concurrent writers cannot fail each other). Returns how many were inserted and, on PostgreSQL with
    ``returning``, those columns of the inserted rows (None elsewhere: look them up). On PostgreSQL the rows
    go to a staging table by one COPY of text Arrow built (gateway.store.copy_text), then merge."""
    count = len(next(iter(columns.values()))) if columns else 0
    if count == 0:
        return 0, [] if returning else None
    names = [*columns, *constants]
    if conn.dialect.name == "postgresql" and _copyable(table, names, _processors(conn, table, names)):
        staging, names_sql = _staging(conn, table, names)
        _copy_buffer(conn, f"COPY {staging} ({names_sql}) FROM STDIN", copy_buffer(table, columns, constants))
        result = _merge(conn, table, staging, names_sql, conflict_key, returning)
        if not returning:
            return max(result.rowcount, 0), None
        inserted = [tuple(row) for row in result]
        return len(inserted), inserted
    values = [*columns.values(), *(repeat(value, count) for value in constants.values())]
    rows = list(zip(*values, strict=False))
    return bulk_insert(conn, table, names, rows, ignore_conflicts_on=conflict_key), None


_SEPARATOR = "\x1f"


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
    # psycopg adapts a list element by element in Python (~5 µs each for 16,384 keys); one string split by
    # the server costs one adaptation. The separator is a control character validation refuses in fields;
    # a value holding it anyway (or a value that is not text or a whole number) travels as a list.
    if all(isinstance(value, str) and value for value in values):  # string_to_array("") is {}
        joined = _SEPARATOR.join(values)
        if joined.count(_SEPARATOR) == len(values) - 1:
            return f"{column_sql} = ANY(string_to_array({marker}, E'\\x1f'))", joined
    elif all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return f"{column_sql} = ANY(string_to_array({marker}, ',')::bigint[])", ",".join(map(str, values))
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


def reserved_ids(conn: Connection, table: Table, count: int) -> list[int] | None:
    """PostgreSQL: ``count`` ids taken from ``table``'s own sequence, for rows inserted with them, so their
    ids are known without reading the rows back; None on SQLite.

    Reading back ``WHERE id > (the largest before)`` was planned as a sequential scan of the whole table
    on PostgreSQL (a table filling up within one transaction has no statistics, and an open range is
    guessed at a third of the rows): every batch of a large file scanned all the rows before it. SQLite
    reads a rowid range by the primary key, so there the rows are read back."""
    if conn.dialect.name != "postgresql" or count == 0:
        return None
    # The sequence's name is looked up once per connection: pg_get_serial_sequence called for every id cost
    # 2.7 µs an id, nextval alone 0.37.
    names: dict[str, str] = conn.info.setdefault("gateway.id_sequences", {})
    if table.name not in names:
        names[table.name] = conn.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)
        ).scalar_one()
    statement = "SELECT nextval(%s::regclass) FROM generate_series(1, %s)"
    return [row[0] for row in fetch_all(conn, statement, (names[table.name], count))]


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
    if count == 0:
        return 0
    names = [*columns, *constants]
    processors = _processors(conn, table, names)
    if conn.dialect.name == "postgresql" and _copyable(table, names, processors):
        quote = conn.dialect.identifier_preparer.quote
        statement = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in names)}) FROM STDIN"
        _copy_buffer(conn, statement, copy_buffer(table, columns, constants))
        return count
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
    # SQLite: a constant is written into the statement as a literal, so sqlite3 binds only what varies
    # (each bound value costs about 0.2 µs a row; a record has five constants, its version four).
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    varying = [name not in constants for name in names]
    slots = [
        marker if varies else _sqlite_literal(next(iter(value)))
        for varies, value in zip(varying, values, strict=True)
    ]
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) VALUES ({', '.join(slots)})"
    )
    rows = zip(*(value for varies, value in zip(varying, values, strict=True) if varies), strict=True)
    result = conn.exec_driver_sql(statement, list(rows))
    return max(result.rowcount, 0)


def _sqlite_literal(value: Any) -> str:
    """A constant as an SQLite literal: what sqlite3 would have bound (numbers, text, NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("an SQLite literal cannot hold a NUL character")
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQLite literal for a constant of type {type(value).__name__}")


def _copyable(table: Table, names: Sequence[str], processors: Sequence[Callable[[Any], Any] | None]) -> bool:
    """Whether gateway.store.copy_text writes these columns as the driver would: no conversion but the
    flags', which it writes itself."""
    return all(
        processor is None or isinstance(table.c[name].type, Boolean)
        for name, processor in zip(names, processors, strict=True)
    )


def _copy_buffer(conn: Connection, statement: str, buffer: pa.Buffer) -> None:
    """PostgreSQL's COPY of rows already in its text format (gateway.store.copy_text)."""
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        copy.write(memoryview(buffer))


def _copy(conn: Connection, statement: str, rows: Iterable[Sequence[Any]]) -> int:
    """PostgreSQL's COPY: several times faster than executemany, which runs one INSERT per row."""
    count = 0
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
