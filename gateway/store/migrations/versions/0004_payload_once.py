"""Each payload stored once: a record's content is its current version's (record_version), and the index of
hub-refused versions holds only those.

Revision ID: 0004
Revises: 0003

record.payload always equalled the payload of the record's current version (the two were written together),
so dropping it loses nothing; the downgrade fills it back from there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_REFUSED = sa.text("hub_batch_id IS NOT NULL")


def upgrade() -> None:
    # ALTER TABLE … DROP COLUMN, which SQLite has had since 3.35, rather than Alembic's batch mode: batch
    # mode copies the table and drops the old one, which the foreign keys from record_version forbid (and
    # PRAGMA foreign_keys cannot be switched off inside the migration's transaction).
    op.execute("ALTER TABLE record DROP COLUMN payload")
    op.drop_index("ix_record_version_hub_batch_id", table_name="record_version")
    op.create_index(
        "ix_record_version_hub_batch_id",
        "record_version",
        ["hub_batch_id"],
        unique=False,
        sqlite_where=_REFUSED,
        postgresql_where=_REFUSED,
    )


def downgrade() -> None:
    op.drop_index("ix_record_version_hub_batch_id", table_name="record_version")
    op.create_index("ix_record_version_hub_batch_id", "record_version", ["hub_batch_id"], unique=False)
    # NOT NULL needs a default to be added to rows that exist; every row then gets its real payload.
    op.add_column("record", sa.Column("payload", sa.Text(), nullable=False, server_default=""))
    op.execute(
        "UPDATE record SET payload = (SELECT v.payload FROM record_version v "
        "WHERE v.record_id = record.id AND v.version = record.version)"
    )
