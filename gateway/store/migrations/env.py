"""Alembic environment: runs the gateway migrations on the connection handed in by gateway.store.db."""

from __future__ import annotations

from alembic import context

from gateway.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # invoked by the alembic command line: build an engine from the configured URL
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
