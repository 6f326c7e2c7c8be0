"""Revision 0009: source_file.replay_of, a nullable reference from a replay's row to the unit it replayed;
every row keeps its values both ways, and the unique index over a file's content stays a files-only one."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError

from gateway.store.db import engine_for, head_revision
from gateway.store.db import run_migrations as step

_AT = "'2026-11-27 01:00:00'"
SHA = "s" * 64
COLUMNS = (
    "id, source_id, kind, file_name, sha256, size, status, rows_total, rows_accepted, rows_rejected, "
    "rows_unchanged, receipt, received_at, landing_path, part"
)


def _rows(conn: Connection) -> list[dict[str, object]]:
    return [dict(row._mapping) for row in conn.execute(text("SELECT * FROM source_file ORDER BY id"))]


def _unit(conn: Connection, unit_id: int, kind: str, landing: str | None, *extra: tuple[str, str]) -> None:
    names = "".join(f", {name}" for name, _ in extra)
    values = "".join(f", {value}" for _, value in extra)
    path = f"'{landing}'" if landing else "NULL"
    conn.execute(
        text(
            f"INSERT INTO source_file ({COLUMNS}{names}) VALUES ({unit_id}, 'd', '{kind}', 'f.csv', "
            f"'{SHA}', 1, 'accepted', 1, 1, 0, 0, '{{}}', {_AT}, {path}, ''{values})"
        )
    )


def _record(conn: Connection, record_id: int, unit_id: int) -> None:
    conn.execute(
        text(
            "INSERT INTO record (id, record_type, natural_key, status, version, content_hash, "
            f"source_file_id, source_row, created_at, updated_at) VALUES ({record_id}, 'admin_penalty', "
            f"'k{record_id}', 'active', 1, 'hb', {unit_id}, 2, {_AT}, {_AT})"
        )
    )


def test_upgrade_adds_an_empty_reference_and_keeps_every_row(database_url: str) -> None:
    step(database_url, "downgrade", "0008")
    engine = engine_for(database_url)
    with engine.begin() as conn:
        assert "replay_of" not in {c["name"] for c in inspect(conn).get_columns("source_file")}
        _unit(conn, 900, "file", "/l.parquet")
        _unit(conn, 901, "api", "/p.parquet")
        _record(conn, 7, 900)
        before = _rows(conn)

    step(database_url, "upgrade", "0009")  # the revision under test: later ones may add columns of their own
    assert head_revision() >= "0009"
    with engine.begin() as conn:
        after = _rows(conn)
        assert [{k: v for k, v in row.items() if k != "replay_of"} for row in after] == before
        assert all(row["replay_of"] is None for row in after)
        column = {c["name"]: c for c in inspect(conn).get_columns("source_file")}["replay_of"]
        assert column["nullable"]
        references = [fk for fk in inspect(conn).get_foreign_keys("source_file") if fk["constrained_columns"]]
        assert [
            (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]) for fk in references
        ] == [(["replay_of"], "source_file", ["id"])]
        # A replay of the file repeats its content: the files-only unique index allows it.
        _unit(conn, 902, "replay", None, ("replay_of", "900"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _unit(conn, 903, "replay", None, ("replay_of", "12345"))  # a replay of no unit


def test_downgrade_drops_the_reference_and_keeps_every_row(database_url: str) -> None:
    step(database_url, "downgrade", "0009")
    engine = engine_for(database_url)
    with engine.begin() as conn:
        _unit(conn, 900, "file", "/l.parquet")
        _unit(conn, 902, "replay", None, ("replay_of", "900"))
        _record(conn, 7, 902)  # a version a replay stored points at the replay's row
        at_head = _rows(conn)

    step(database_url, "downgrade", "0008")
    with engine.connect() as conn:
        assert _rows(conn) == [{k: v for k, v in row.items() if k != "replay_of"} for row in at_head]
        assert "replay_of" not in {c["name"] for c in inspect(conn).get_columns("source_file")}
        if engine.dialect.name == "sqlite":  # the table was rebuilt: its foreign keys still hold
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the files-only unique index came back
        _unit(conn, 904, "file", "/m.parquet")
    with engine.begin() as conn:
        _unit(conn, 905, "replay", None)
    step(database_url, "upgrade", "head")
