"""The Alembic migrations create exactly the tables gateway/store/tables.py and the credit package's table
modules (gateway.credit.metadata) describe: one schema, two collections of tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData

import gateway.credit.draws.tables
import gateway.credit.lookup.tables
import gateway.credit.objections.tables
import gateway.credit.publicity.tables
import gateway.credit.risk.tables
import gateway.credit.warnings.tables  # noqa: F401  (each module adds its tables to the credit metadata)
from gateway.credit.metadata import metadata as credit_metadata
from gateway.store.db import current_revision, engine_for, head_revision, migrate
from gateway.store.tables import metadata as store_metadata


def _every_table() -> MetaData:
    together = MetaData(naming_convention=store_metadata.naming_convention)
    for collection in (store_metadata, credit_metadata):
        for table in collection.sorted_tables:
            table.to_metadata(together)
    return together


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    with engine_for(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), _every_table())
    assert diff == []
    assert current_revision(database_url) == head_revision()


def test_the_credit_tables_are_the_credit_packages_own() -> None:
    assert not set(store_metadata.tables) & set(credit_metadata.tables)
    assert all(name.startswith(("credit_", "draw_", "lookup_")) for name in credit_metadata.tables)


def test_migrate_is_idempotent(database_url: str) -> None:
    assert migrate(database_url) == head_revision()
    assert migrate(database_url) == head_revision()
