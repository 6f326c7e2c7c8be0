"""Pulled sources (cursors, kind and cursor range of a landed unit) and versions flagged for the hub.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_cursor",
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_cursor")),
    )
    with op.batch_alter_table("source_file") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), server_default="file", nullable=False))
        batch.add_column(sa.Column("cursor_from", sa.Text(), nullable=True))
        batch.add_column(sa.Column("cursor_to", sa.Text(), nullable=True))
    with op.batch_alter_table("record_version") as batch:
        batch.add_column(sa.Column("outbound", sa.Boolean(), server_default=sa.false(), nullable=False))
    # Versions written before this revision that have an outbox row were outbound.
    op.execute("UPDATE record_version SET outbound = TRUE WHERE id IN (SELECT record_version_id FROM outbox)")


def downgrade() -> None:
    with op.batch_alter_table("record_version") as batch:
        batch.drop_column("outbound")
    with op.batch_alter_table("source_file") as batch:
        batch.drop_column("cursor_to")
        batch.drop_column("cursor_from")
        batch.drop_column("kind")
    op.drop_table("source_cursor")
