"""Revision 0006: a file may have parts (a workbook's sheets), each unique per (source, sha256, part)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from gateway.store.db import engine_for, head_revision
from gateway.store.db import run_migrations as step
from gateway.store.tables import source_file
from tests.gateway.store.test_migration_0005 import _unit, insert_before_0007


def _part(name: str) -> dict[str, object]:
    return {**_unit("file", "p" * 64), "part": name}


def test_rows_before_0006_are_files_of_one_part(database_url: str) -> None:
    step(database_url, "downgrade", "0005")
    with engine_for(database_url).begin() as conn:
        insert_before_0007(conn, [_unit("file", "a" * 64)])
    step(database_url, "upgrade", "head")
    with engine_for(database_url).connect() as conn:
        assert conn.execute(select(source_file.c.part)).scalars().all() == [""]


def test_sheets_of_one_file_are_parts_and_each_part_is_unique(database_url: str) -> None:
    engine = engine_for(database_url)
    with engine.begin() as conn:
        conn.execute(insert(source_file), [_part("行政许可"), _part("行政处罚")])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(source_file), [_part("行政处罚")])


def test_downgrade_refuses_while_files_have_parts_and_changes_nothing(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        conn.execute(insert(source_file), [_part("行政处罚")])
    with pytest.raises(RuntimeError, match="multi-part"):
        step(database_url, "downgrade", "0005")
    with engine_for(database_url).connect() as conn:  # the refused downgrade left the schema as it was
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
        assert conn.execute(select(source_file.c.part)).scalars().all() == ["行政处罚"]
