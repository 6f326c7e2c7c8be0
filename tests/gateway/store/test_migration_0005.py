"""Revision 0005: a file's content stays unique per department, a pulled unit's content may repeat; the
table rebuild SQLite needs keeps every row and every reference to it."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, MetaData, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from gateway.store.db import engine_for, head_revision
from gateway.store.db import run_migrations as step
from gateway.store.tables import record, source_file

_AT = "'2026-11-27 01:00:00'"


def _unit(kind: str, sha: str) -> dict[str, object]:
    from datetime import UTC, datetime

    return {
        "source_id": "src",
        "kind": kind,
        "file_name": f"{kind}.parquet",
        "sha256": sha,
        "size": 1,
        "status": "landed",
        "receipt": "{}",
        "rows_total": 1,
        "rows_accepted": 0,
        "rows_rejected": 0,
        "rows_unchanged": 0,
        "received_at": datetime(2026, 11, 27, tzinfo=UTC),
    }


def insert_before_0007(conn: Connection, rows: list[dict[str, object]]) -> None:
    """``rows`` (as ``_unit`` makes them) into source_file as a revision before 0007 has it, where the
    column source_id was called department."""
    table = Table("source_file", MetaData(), autoload_with=conn)
    renamed = [{("department" if k == "source_id" else k): v for k, v in row.items()} for row in rows]
    conn.execute(insert(table), renamed)


def _seed_0004(url: str) -> None:
    """A file and a record that points at it, as 0004 kept them."""
    with engine_for(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO source_file (id, department, kind, file_name, sha256, size, status, "
                "rows_total, rows_accepted, rows_rejected, rows_unchanged, receipt, received_at) VALUES "
                f"(900, 'd', 'file', 'f.csv', '{'s' * 64}', 1, 'accepted', 1, 1, 0, 0, '{{}}', {_AT})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO record (id, record_type, natural_key, status, version, content_hash, "
                f"source_file_id, source_row, created_at, updated_at) VALUES (7, 'admin_penalty', 'k', "
                f"'active', 1, 'hb', 900, 2, {_AT}, {_AT})"
            )
        )


def test_upgrade_keeps_rows_and_lets_pulled_units_repeat_content(database_url: str) -> None:
    step(database_url, "downgrade", "0004")
    _seed_0004(database_url)
    step(database_url, "upgrade", "head")
    engine = engine_for(database_url)
    with engine.begin() as conn:
        assert conn.execute(select(record.c.source_file_id).where(record.c.id == 7)).scalar_one() == 900
        conn.execute(insert(source_file), [_unit("api", "a" * 64), _unit("api", "a" * 64)])
        assert conn.execute(select(func.count()).select_from(source_file)).scalar_one() == 3
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(source_file), [_unit("file", "f" * 64), _unit("file", "f" * 64)])
    if engine.dialect.name == "sqlite":  # the rebuild left the foreign keys enforced
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("DELETE FROM source_file WHERE id = 900"))


def test_downgrade_refuses_while_pulled_units_repeat_content(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        conn.execute(insert(source_file), [_unit("xml", "b" * 64), _unit("xml", "b" * 64)])
    with pytest.raises(RuntimeError, match="same content"):
        step(database_url, "downgrade", "0004")
    with engine_for(database_url).begin() as conn:
        conn.execute(text("DELETE FROM source_file"))
    step(database_url, "downgrade", "0004")
    with pytest.raises(IntegrityError), engine_for(database_url).begin() as conn:
        insert_before_0007(conn, [_unit("api", "c" * 64), _unit("api", "c" * 64)])
