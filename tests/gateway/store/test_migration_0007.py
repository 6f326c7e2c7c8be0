"""Revision 0007: source_file.department becomes source_id, its unique index renamed with it; the rebuild
SQLite needs keeps every row, every value and every reference to a row, and the way down gives it back."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, insert, inspect, text
from sqlalchemy.exc import IntegrityError

from gateway.store.db import engine_for
from gateway.store.db import run_migrations as step
from gateway.store.tables import source_file
from tests.gateway.store.test_migration_0005 import _seed_0004, _unit, insert_before_0007

_AT = "'2026-11-27 01:00:00'"
UNIQUE_BEFORE = ("uq_source_file_department_sha256_part", ["department", "sha256", "part"])
UNIQUE_AFTER = ("uq_source_file_source_id_sha256_part", ["source_id", "sha256", "part"])


def _rows(conn: Connection) -> list[dict[str, object]]:
    return [dict(row._mapping) for row in conn.execute(text("SELECT * FROM source_file ORDER BY id"))]


def _renamed(rows: list[dict[str, object]], old: str, new: str) -> list[dict[str, object]]:
    return [{(new if key == old else key): value for key, value in row.items()} for row in rows]


def _unique_indexes(conn: Connection) -> list[tuple[str, list[str]]]:
    return [
        (str(index["name"]), list(index["column_names"]))
        for index in inspect(conn).get_indexes("source_file")
        if index["unique"]
    ]


def _seed_0006(conn: Connection) -> None:
    """What 0006 holds besides a file and its record (_seed_0004): a department's workbook of two sheets, a
    pulled source's two units with the same content, a rejected file, and a version from the workbook."""

    def row(unit_id: int, kind: str, sha: str, source: str, **changes: object) -> dict[str, object]:
        return {
            **_unit(kind, sha),
            "id": unit_id,
            "source_id": source,
            "part": "",
            "cursor_to": None,
            **changes,
        }

    insert_before_0007(
        conn,
        [
            row(901, "file", "w" * 64, "xz_amr", part="行政许可", file_name="报送.xlsx", status="accepted"),
            row(902, "file", "w" * 64, "xz_amr", part="行政处罚", file_name="报送.xlsx", status="partial"),
            row(903, "api", "a" * 64, "credit_api", cursor_to="c1"),
            row(904, "api", "a" * 64, "credit_api", cursor_to="c2"),
            row(905, "file", "r" * 64, "xz_transport", status="rejected"),
        ],
    )
    conn.execute(
        text(
            "INSERT INTO record_version (record_id, version, operation, content_hash, payload, "
            f"source_file_id, source_sha256, source_row, outbound, created_at) VALUES (7, 1, 'i', 'hb', "
            f"'{{}}', 902, '{'w' * 64}', 2, TRUE, {_AT})"
        )
    )


def test_upgrade_renames_the_column_and_keeps_every_row(database_url: str) -> None:
    step(database_url, "downgrade", "0006")
    _seed_0004(database_url)
    engine = engine_for(database_url)
    with engine.begin() as conn:
        _seed_0006(conn)
        before = _rows(conn)
        assert _unique_indexes(conn) == [UNIQUE_BEFORE]

    step(database_url, "upgrade", "0007")  # the revision under test: later ones add columns of their own
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0007"
        assert _rows(conn) == _renamed(before, "department", "source_id")
        assert _unique_indexes(conn) == [UNIQUE_AFTER]
        pointers = conn.execute(
            text(
                "SELECT r.source_file_id, v.source_file_id FROM record r "
                "JOIN record_version v ON v.record_id = r.id"
            )
        ).one()
        assert tuple(pointers) == (900, 902)

    # The index still means what it meant: a file's part once per source, a pulled unit as often as it comes.
    with engine.begin() as conn:
        conn.execute(insert(source_file), [{**_unit("api", "a" * 64), "source_id": "credit_api"}])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert(source_file), [{**_unit("file", "w" * 64), "source_id": "xz_amr", "part": "行政处罚"}]
        )
    if engine.dialect.name == "sqlite":  # the rebuild left the foreign keys enforced
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("DELETE FROM source_file WHERE id = 902"))


def test_downgrade_gives_the_column_its_old_name_back(database_url: str) -> None:
    step(database_url, "downgrade", "0007")
    engine = engine_for(database_url)
    with engine.begin() as conn:
        conn.execute(
            insert(source_file),
            [
                {**_unit("file", "f" * 64), "source_id": "xz_amr", "part": "行政处罚"},
                {**_unit("xml", "x" * 64), "source_id": "judicial_feed", "part": ""},
            ],
        )
        at_head = _rows(conn)

    step(database_url, "downgrade", "0006")
    with engine.connect() as conn:
        assert _rows(conn) == _renamed(at_head, "source_id", "department")
        assert _unique_indexes(conn) == [UNIQUE_BEFORE]

    step(database_url, "upgrade", "0007")
    with engine.connect() as conn:
        assert _rows(conn) == at_head
        assert _unique_indexes(conn) == [UNIQUE_AFTER]
