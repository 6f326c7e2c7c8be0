"""The Alembic migrations create exactly the tables gateway/store/tables.py describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.store.db import current_revision, engine_for, head_revision, migrate
from gateway.store.tables import metadata


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    with engine_for(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert current_revision(database_url) == head_revision()


def test_migrate_is_idempotent(database_url: str) -> None:
    assert migrate(database_url) == head_revision()
    assert migrate(database_url) == head_revision()
