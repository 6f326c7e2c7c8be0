"""Column-wise inserts as the store writes them: PostgreSQL's COPY text built by Arrow, SQLite's constants
written as literals. What goes in must come back exactly, whatever characters it holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gateway.source_units import record_unit
from gateway.store.bulk import insert_columns, merge_columns, select_matching
from gateway.store.copy_text import constant_text
from gateway.store.db import engine_for
from gateway.store.tables import entity, record, record_version

NOW = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
AWKWARD = ["制表\t符", "换行\n与回车\r", "反斜杠\\N 不是空值", "\\", "引号'和\"", "", "𠀀 超出基本平面"]


def test_text_with_every_escaped_character_comes_back_as_it_went_in(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        file_id = record_unit(
            conn, source_id="d", file_name="f", sha256="0" * 64, size=1, status="accepted", received_at=NOW
        )
        keys = [f"k{n}" for n in range(len(AWKWARD))]
        insert_columns(
            conn,
            record,
            {
                "natural_key": keys,
                "subject_name": AWKWARD,
                "entity_id": [None] * len(keys),
                "source_row": list(range(2, 2 + len(keys))),
                "content_hash": [f"h{n}" for n in range(len(keys))],
            },
            {
                "record_type": "类型'引号",
                "status": "active",
                "version": 1,
                "source_file_id": file_id,
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        rows = conn.execute(
            select(
                record.c.natural_key, record.c.subject_name, record.c.entity_id, record.c.record_type
            ).order_by(record.c.id)
        ).all()
        assert [row.subject_name for row in rows] == AWKWARD
        assert {row.entity_id for row in rows} == {None}
        assert {row.record_type for row in rows} == {"类型'引号"}
        ids = [row[0] for row in conn.execute(select(record.c.id).order_by(record.c.id))]
        insert_columns(
            conn,
            record_version,
            {
                "record_id": ids,
                "payload": AWKWARD,
                "content_hash": ["h"] * len(ids),
                "source_row": [2] * len(ids),
                "operation": ["i"] * len(ids),
                "outbound": [n % 2 == 0 for n in range(len(ids))],
            },
            {"version": 1, "source_file_id": file_id, "source_sha256": "a" * 64, "created_at": NOW},
        )
        back = conn.execute(
            select(record_version.c.payload, record_version.c.outbound, record_version.c.created_at).order_by(
                record_version.c.id
            )
        ).all()
        assert [row.payload for row in back] == AWKWARD
        assert [row.outbound for row in back] == [n % 2 == 0 for n in range(len(ids))]
        assert {
            row.created_at.replace(tzinfo=UTC) if row.created_at.tzinfo is None else row.created_at
            for row in back
        } == {NOW}


def test_merging_skips_what_is_there_and_counts_what_it_added(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        columns = {"uscc": ["A1", "B2"], "name": ["甲\t公司", "乙"], "name_norm": ["甲公司", "乙"]}
        constants = {"origin": "record", "created_at": NOW, "updated_at": NOW}
        assert merge_columns(conn, entity, columns, constants, ("uscc",)) == (2, None)
        again = {"uscc": ["B2", "C3"], "name": ["乙（改）", "丙"], "name_norm": ["乙", "丙"]}
        created, returned = merge_columns(conn, entity, again, constants, ("uscc",), returning=("uscc", "id"))
        assert created == 1
        c3 = conn.execute(select(entity.c.id).where(entity.c.uscc == "C3")).scalar_one()
        assert returned == ([("C3", c3)] if database_url.startswith("postgresql") else None)
        names = dict(conn.execute(select(entity.c.uscc, entity.c.name)).all())
        assert names == {"A1": "甲\t公司", "B2": "乙", "C3": "丙"}


def test_keys_holding_the_separator_are_still_found(database_url: str) -> None:
    """PostgreSQL lookups send many keys as one string split by \\x1f; a key holding it goes as a list."""
    with engine_for(database_url).begin() as conn:
        odd = "含\x1f分隔符"
        insert_columns(
            conn,
            entity,
            {"uscc": ["X1", odd], "name": ["甲", "乙"], "name_norm": ["甲", "乙"]},
            {"origin": "record", "created_at": NOW, "updated_at": NOW},
        )
        assert sorted(select_matching(conn, entity, ("uscc",), "uscc", ["X1", odd, "none"])) == [
            ("X1",),
            (odd,),
        ]
        assert select_matching(conn, entity, ("uscc",), "uscc", ["X1"]) == [("X1",)]


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "\\N"), (True, "t"), (7, "7"), ("a\tb\\c", "a\\tb\\\\c"), (NOW, "2026-12-08T09:30:00+00:00")],
)
def test_constants_in_the_copy_text_format(value: object, text: str) -> None:
    assert constant_text(value) == text
