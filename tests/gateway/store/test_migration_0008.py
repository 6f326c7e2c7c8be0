"""Revision 0008: the maintenance's marks (when a unit's landed rows, an archived file, a batch's plaintext or
its envelopes were removed) are new, empty columns; every row keeps its values both ways."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from gateway.store.db import engine_for, head_revision
from gateway.store.db import run_migrations as step

_AT = "'2026-11-27 01:00:00'"
MARKS = {
    "source_file": {"landing_purged_at", "archive_purged_at"},
    "delivery_batch": {"plaintext_purged_at", "envelopes_purged_at"},
}


def _rows(conn: Connection, table: str, key: str) -> list[dict[str, object]]:
    return [dict(row._mapping) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))]


def _seed(conn: Connection) -> None:
    """A file, a record pointing at it and an acknowledged batch, as 0007 and later hold them."""
    conn.execute(
        text(
            "INSERT INTO source_file (id, source_id, kind, file_name, sha256, size, status, rows_total, "
            "rows_accepted, rows_rejected, rows_unchanged, receipt, received_at, landing_path, part) "
            f"VALUES (900, 'd', 'file', 'f.csv', '{'s' * 64}', 1, 'accepted', 1, 1, 0, 0, '{{}}', {_AT}, "
            "'/l.parquet', '')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO record (id, record_type, natural_key, status, version, content_hash, "
            f"source_file_id, source_row, created_at, updated_at) VALUES (7, 'admin_penalty', 'k', "
            f"'active', 1, 'hb', 900, 2, {_AT}, {_AT})"
        )
    )
    conn.execute(
        text(
            "INSERT INTO delivery_batch (batch_id, seq, record_type, records, status, xml_path, attempts, "
            "created_at, updated_at, seals, hub_rejected) VALUES ('20261127-000001-admin_penalty', 1, "
            f"'admin_penalty', 1, 'acknowledged', '/x.xml', 1, {_AT}, {_AT}, 1, 0)"
        )
    )


def test_upgrade_adds_empty_marks_and_keeps_every_row(database_url: str) -> None:
    step(database_url, "downgrade", "0007")
    engine = engine_for(database_url)
    with engine.begin() as conn:
        for table, marks in MARKS.items():
            assert not marks & {c["name"] for c in inspect(conn).get_columns(table)}
    with engine.begin() as conn:
        _seed(conn)
        before = {
            "source_file": _rows(conn, "source_file", "id"),
            "delivery_batch": _rows(conn, "delivery_batch", "seq"),
        }

    step(database_url, "upgrade", "0008")  # the revision under test: later ones add columns of their own
    assert head_revision() >= "0008"
    with engine.connect() as conn:
        for table, key in (("source_file", "id"), ("delivery_batch", "seq")):
            after = _rows(conn, table, key)
            assert [{k: v for k, v in row.items() if k not in MARKS[table]} for row in after] == before[table]
            assert all(row[mark] is None for row in after for mark in MARKS[table])
            columns = {c["name"]: c for c in inspect(conn).get_columns(table)}
            assert all(columns[mark]["nullable"] for mark in MARKS[table])


def test_downgrade_drops_the_marks_and_keeps_every_row(database_url: str) -> None:
    step(database_url, "downgrade", "0008")
    engine = engine_for(database_url)
    with engine.begin() as conn:
        _seed(conn)
        conn.execute(text(f"UPDATE source_file SET landing_purged_at = {_AT}, landing_path = NULL"))
        conn.execute(text(f"UPDATE delivery_batch SET plaintext_purged_at = {_AT}"))
        at_head = {
            "source_file": _rows(conn, "source_file", "id"),
            "delivery_batch": _rows(conn, "delivery_batch", "seq"),
        }

    step(database_url, "downgrade", "0007")
    with engine.connect() as conn:
        for table, key in (("source_file", "id"), ("delivery_batch", "seq")):
            assert _rows(conn, table, key) == [
                {k: v for k, v in row.items() if k not in MARKS[table]} for row in at_head[table]
            ]
    if engine.dialect.name == "sqlite":  # the foreign keys still hold after the columns went
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    step(database_url, "upgrade", "head")
