"""Time the gateway's stages one by one on a source: parse, map, validate, prepare, attach, store, commit.

The same library calls, in the same order and with the same batch size, as
gateway.processing.process_rows, but with a clock around each; the end-to-end figure comes from the real
ingest_file (bench/workloads.py), never from adding these up. Each stage streams, so memory stays that of
one batch whatever the file's size.

Within attach and store, every statement is timed too, by kind and table (``insert record``, ``copy
record_version``, ``select entity``, …): those SQLAlchemy executes and those gateway.store.bulk sends the
driver directly (COPY, the large lookups). What the two stages spend outside them is Python.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
from sqlalchemy import Connection, event, insert

from gateway.entities import attach
from gateway.ingest import BATCH_ROWS
from gateway.mapping.engine import Plan, apply_plan
from gateway.settings import Settings
from gateway.store import bulk, records
from gateway.store.db import engine_for
from gateway.store.records import prepare, store_batch
from gateway.store.tables import source_file
from gateway.validation import validate

STAGES = ("parse", "map", "validate", "prepare", "attach", "store", "commit")
_STATEMENT = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM|COPY|SELECT\b.*?\bFROM)\s+"?(\w+)', re.I | re.S)
# The calls that go to the driver without SQLAlchemy (so no cursor event sees them), by module and name:
# COPY on PostgreSQL and the lookups that fetch tens of thousands of rows (gateway.store.bulk).
_DIRECT = (
    (bulk, "_copy"),
    (bulk, "fetch_all"),
    (records, "fetch_all"),
)


def statement_label(sql: str) -> str:
    """``insert record``, ``select entity``, ``insert outbox from select``: what a statement does, to what.

    >>> statement_label('INSERT INTO "record" (a) VALUES (?)')
    'insert record'
    >>> statement_label("INSERT INTO outbox (a) SELECT record_version.id FROM record_version")
    'insert outbox from select'
    >>> statement_label('COPY "record_version" ("record_id") FROM STDIN')
    'copy record_version'
    """
    match = _STATEMENT.match(sql)
    if match is None:
        return "other"
    verb = match.group(1).split()[0].lower()
    label = f"{verb} {match.group(2).lower()}"
    if verb == "insert" and re.search(r"\)\s*SELECT\b", sql, re.I):
        label += " from select"
    return label


@contextmanager
def timed_statements(conn: Connection, into: dict[str, dict[str, float]]) -> Iterator[None]:
    """Add each statement's driver time on ``conn`` to ``into[label]`` (calls, seconds) while inside: what
    SQLAlchemy executes (its cursor events) and what gateway.store.bulk sends the driver directly."""
    started: list[float] = []

    def count(statement: str, seconds: float) -> None:
        entry = into.setdefault(statement_label(statement), {"calls": 0, "seconds": 0.0})
        entry["calls"] += 1
        entry["seconds"] += seconds

    def before(*_args: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        count(statement, time.perf_counter() - started.pop())

    def clocked(function: Callable[..., Any]) -> Callable[..., Any]:
        def call(connection: Connection, statement: str, *args: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(connection, statement, *args)
            finally:
                count(statement, time.perf_counter() - start)

        return call

    event.listen(conn, "before_cursor_execute", before)
    event.listen(conn, "after_cursor_execute", after)
    try:
        with ExitStack() as patches:
            for module, name in _DIRECT:
                patches.enter_context(mock.patch.object(module, name, clocked(getattr(module, name))))
            yield
    finally:
        event.remove(conn, "before_cursor_execute", before)
        event.remove(conn, "after_cursor_execute", after)


def narrow_rows_per_s(rows: int, directory: Path) -> float:
    """What SQLite does with narrow rows: ``rows`` of (file, row, hash) into a table with no index but its
    rowid, one transaction, the gateway's pragmas. The ceiling for a store that kept only references to
    content held elsewhere (docs/performance.md)."""
    with tempfile.TemporaryDirectory(prefix="bench-narrow-", dir=directory) as scratch:
        db = sqlite3.connect(Path(scratch) / "narrow.db", isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
            db.execute(f"PRAGMA {pragma}")
        db.execute("CREATE TABLE ref (id INTEGER PRIMARY KEY, file_id INTEGER, source_row INTEGER, sha TEXT)")
        values = [(1, i, f"{i:064x}") for i in range(rows)]
        start = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO ref (file_id, source_row, sha) VALUES (?, ?, ?)", values)
        db.execute("COMMIT")
        seconds = time.perf_counter() - start
        db.close()
    return rows / seconds


def _clocked(batches: Iterator[pa.RecordBatch], seconds: dict[str, float]) -> Iterator[pa.RecordBatch]:
    while True:
        start = time.perf_counter()
        batch = next(batches, None)
        seconds["parse"] += time.perf_counter() - start
        if batch is None:
            return
        yield batch


def time_stages(
    settings: Settings, batches: Iterator[pa.RecordBatch], plan: Plan
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Seconds per stage for one pass over ``batches`` into the (fresh) database of ``settings``, and the
    statements of attach and store by label (calls, seconds)."""
    seconds = dict.fromkeys(STAGES, 0.0)
    statements: dict[str, dict[str, float]] = {}
    rtype = plan.record_type
    now = datetime.now(UTC).replace(microsecond=0)
    engine = engine_for(settings.database_url)
    conn = engine.connect()
    transaction = conn.begin()
    try:
        file_id = conn.execute(
            insert(source_file).returning(source_file.c.id),
            [
                {
                    "source_id": "bench",
                    "file_name": "stages",
                    "sha256": f"stages-{time.time_ns()}",
                    "size": 0,
                    "status": "processing",
                    "receipt": "{}",
                    "received_at": now,
                }
            ],
        ).scalar_one()
        for batch in _clocked(batches, seconds):
            start = time.perf_counter()
            mapped = apply_plan(plan, batch)
            seconds["map"] += time.perf_counter() - start

            start = time.perf_counter()
            checked = validate(rtype, mapped.table, plan.header_of, earlier=mapped.errors)
            seconds["validate"] += time.perf_counter() - start

            start = time.perf_counter()
            prepared = prepare(rtype, checked.good)
            seconds["prepare"] += time.perf_counter() - start

            with timed_statements(conn, statements):
                start = time.perf_counter()
                attachment = attach(conn, rtype, checked.good, now)
                seconds["attach"] += time.perf_counter() - start

                start = time.perf_counter()
                store_batch(
                    conn,
                    rtype,
                    checked.good,
                    attachment,
                    source_file_id=file_id,
                    source_sha256="0" * 64,
                    now=now,
                    header_of=plan.header_of,
                    prepared=prepared,
                )
                seconds["store"] += time.perf_counter() - start
        start = time.perf_counter()
        transaction.commit()
        seconds["commit"] = time.perf_counter() - start
    finally:
        if transaction.is_active:
            transaction.rollback()
        conn.close()
    return seconds, statements


__all__ = ["BATCH_ROWS", "STAGES", "narrow_rows_per_s", "statement_label", "time_stages", "timed_statements"]
