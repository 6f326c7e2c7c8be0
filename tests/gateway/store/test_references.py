"""PostgreSQL bulk loads without per-row foreign-key triggers: the references are checked per batch, and a
dangling one still stops the load."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select

from gateway.source_units import record_unit
from gateway.store.bulk import insert_columns
from gateway.store.db import engine_for
from gateway.store.references import DanglingReference, checked_set_wise, may_skip_triggers, verify
from gateway.store.tables import entity, record, source_file

NOW = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


@pytest.fixture
def pg_url(database_url: str) -> str:
    """PostgreSQL only: SQLite keeps its own per-row checks (about 0.4 µs a row), tested with the store."""
    return database_url


def _record_columns(keys: list[str], entity_ids: list[int | None]) -> dict[str, list[object]]:
    return {
        "natural_key": keys,
        "entity_id": entity_ids,
        "source_row": list(range(2, 2 + len(keys))),
        "content_hash": ["h"] * len(keys),
    }


def _record_constants(file_id: int) -> dict[str, object]:
    return {
        "record_type": "t",
        "status": "active",
        "version": 1,
        "source_file_id": file_id,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_a_dangling_entity_is_refused_and_nothing_is_written(pg_url: str) -> None:
    engine = engine_for(pg_url)
    with engine.begin() as conn:
        file_id = record_unit(
            conn, source_id="d", file_name="f", sha256="0" * 64, size=1, status="accepted", received_at=NOW
        )
    with pytest.raises(DanglingReference, match=r"record\.entity_id"), engine.begin() as conn:
        assert may_skip_triggers(conn)
        with checked_set_wise(conn) as set_wise:
            assert set_wise
            insert_columns(
                conn,
                record,
                _record_columns(["a", "b"], [424242, None]),
                _record_constants(file_id),
            )
        verify(conn, entity, [424242, None], column="record.entity_id")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(record)).scalar_one() == 0


def test_existing_references_pass_and_are_locked_against_deletion(pg_url: str) -> None:
    engine = engine_for(pg_url)
    with engine.begin() as conn:
        file_id = record_unit(
            conn, source_id="d", file_name="f", sha256="0" * 64, size=1, status="accepted", received_at=NOW
        )
        insert_columns(
            conn,
            entity,
            {"uscc": ["U1"], "name": ["甲"], "name_norm": ["甲"]},
            {"origin": "record", "created_at": NOW, "updated_at": NOW},
        )
        entity_id = conn.execute(select(entity.c.id)).scalar_one()
    other = create_engine(pg_url, connect_args={"options": "-c lock_timeout=500"})
    try:
        with engine.begin() as conn:
            with checked_set_wise(conn):
                insert_columns(
                    conn,
                    record,
                    _record_columns(["a"], [entity_id]),
                    _record_constants(file_id),
                )
            verify(conn, entity, [entity_id], column="record.entity_id")
            verify(conn, source_file, [file_id], column="record.source_file_id")
            # Until this load commits, no one may delete the entity it names (what the trigger's lock does).
            with pytest.raises(Exception, match="lock timeout"), other.begin() as elsewhere:
                elsewhere.execute(entity.delete().where(entity.c.id == entity_id))
    finally:
        other.dispose()
    with engine.connect() as conn:
        assert conn.execute(select(record.c.entity_id)).scalar_one() == entity_id


def test_a_role_without_the_right_keeps_the_triggers(pg_url: str) -> None:
    role = f"gw_plain_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        plain = create_engine(pg_url.replace("postgres@", f"{role}@"))
        try:
            with plain.connect() as conn:
                assert not may_skip_triggers(conn)
                with checked_set_wise(conn) as set_wise:
                    assert not set_wise
                    assert conn.exec_driver_sql("SHOW session_replication_role").scalar() == "origin"
        finally:
            plain.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()
