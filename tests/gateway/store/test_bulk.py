"""The store's bulk helpers: key lookups of any size in one statement, and column-wise inserts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from gateway.source_units import record_unit
from gateway.store.bulk import bulk_insert, insert_columns, select_matching
from gateway.store.db import engine_for
from gateway.store.tables import entity, record, record_version

NOW = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)


def test_lookup_of_more_keys_than_sqlite_takes_parameters(database_url: str) -> None:
    """40,000 keys (SQLite allows 32,766 host parameters): one statement, only the matching rows back."""
    with engine_for(database_url).begin() as conn:
        insert_columns(
            conn,
            entity,
            {
                "uscc": [f"U{n:017d}" for n in range(300)],
                "name": [f"名称{n}" for n in range(300)],
                "name_norm": [f"名称{n}" for n in range(300)],
            },
            {"origin": "record", "created_at": NOW, "updated_at": NOW},
        )
        keys = [f"U{n:017d}" for n in range(0, 80_000, 2)]
        found = select_matching(conn, entity, ("uscc", "name"), "uscc", keys)
        assert sorted(found) == [(f"U{n:017d}", f"名称{n}") for n in range(0, 300, 2)]
        only = select_matching(conn, entity, ("uscc",), "uscc", keys, equal={"name": "名称4"})
        assert only == [("U00000000000000004",)]
        assert select_matching(conn, entity, ("uscc",), "uscc", ["", None]) == []  # type: ignore[list-item]


def test_columns_and_constants_are_stored_with_their_types(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        file_id = record_unit(
            conn, source_id="d", file_name="f", sha256="0" * 64, size=1, status="accepted", received_at=NOW
        )
        created = insert_columns(
            conn,
            entity,
            {"uscc": ["A", "B"], "name": ["甲", "乙"], "name_norm": ["甲", "乙"]},
            {"origin": "record", "created_at": NOW, "updated_at": NOW},
        )
        assert created == 2
        conn.execute(
            insert(record),
            [
                {
                    "record_type": "t",
                    "natural_key": "k",
                    "status": "active",
                    "version": 1,
                    "content_hash": "h",
                    "source_file_id": file_id,
                    "source_row": 2,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
        rid = conn.execute(select(record.c.id)).scalar_one()
        written = insert_columns(
            conn,
            record_version,
            {
                "version": [1, 2, 3],
                "operation": ["i", "u", "d"],
                "payload": ['{"a":"忻州"}', "{}", "{}"],
                "entity_uscc": ["A", None, "B"],
                "source_row": [2, 3, 4],
                "outbound": [True, False, True],
            },
            {
                "record_id": rid,
                "content_hash": "h",
                "source_file_id": file_id,
                "source_sha256": "s" * 64,
                "created_at": NOW,
            },
        )
        assert written == 3
        rows = conn.execute(
            select(
                record_version.c.version,
                record_version.c.operation,
                record_version.c.payload,
                record_version.c.entity_uscc,
                record_version.c.outbound,
                record_version.c.created_at,
            ).order_by(record_version.c.version)
        ).all()
    assert [tuple(r[:5]) for r in rows] == [
        (1, "i", '{"a":"忻州"}', "A", True),
        (2, "u", "{}", None, False),
        (3, "d", "{}", "B", True),
    ]
    assert {r[5].replace(tzinfo=UTC) if r[5].tzinfo is None else r[5] for r in rows} == {NOW}


def test_rows_colliding_on_the_unique_key_are_skipped_and_not_counted(database_url: str) -> None:
    """A second writer's entities (or this batch's own repeats) neither fail the insert nor count as new;
    on PostgreSQL the rows travel by COPY and are merged, twice in one transaction here."""
    columns = ("uscc", "name", "name_norm", "origin", "created_at", "updated_at")

    def rows(numbers: range) -> list[tuple[object, ...]]:
        return [(f"U{n:017d}", f"名称{n}", f"名称{n}", "record", NOW, NOW) for n in numbers]

    with engine_for(database_url).begin() as conn:
        assert bulk_insert(conn, entity, columns, rows(range(0, 10)), ignore_conflicts_on=("uscc",)) == 10
        assert bulk_insert(conn, entity, columns, rows(range(5, 15)), ignore_conflicts_on=("uscc",)) == 5
        stored = conn.execute(select(entity.c.uscc, entity.c.name, entity.c.created_at)).all()
    with engine_for(database_url).begin() as conn:
        assert bulk_insert(conn, entity, columns, rows(range(14, 16)), ignore_conflicts_on=("uscc",)) == 1
        total = conn.execute(select(func.count()).select_from(entity)).scalar_one()
    assert sorted(u for u, _, _ in stored) == [f"U{n:017d}" for n in range(15)]
    assert {name for _, name, _ in stored} == {f"名称{n}" for n in range(15)}
    assert {c.replace(tzinfo=UTC) if c.tzinfo is None else c for _, _, c in stored} == {NOW}
    assert total == 16
