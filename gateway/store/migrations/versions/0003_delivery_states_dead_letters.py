"""Delivery states sent and dead, retry schedule, seal history, the hub's per-record rejections.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_batch") as batch:
        batch.add_column(sa.Column("last_code", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("seals", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("open_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("hub_rejected", sa.Integer(), server_default="0", nullable=False))
        batch.create_index("ix_delivery_batch_status", ["status"], unique=False)
    op.create_table(
        "delivery_seal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("seal_no", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("envelope_path", sa.String(length=1024), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["delivery_batch.batch_id"],
            name=op.f("fk_delivery_seal_batch_id_delivery_batch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_seal")),
        sa.UniqueConstraint("batch_id", "seal_no", name=op.f("uq_delivery_seal_batch_id_seal_no")),
    )
    with op.batch_alter_table("record_version") as batch:
        batch.add_column(sa.Column("hub_code", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hub_message", sa.Text(), nullable=True))
        batch.add_column(sa.Column("hub_batch_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hub_rejected_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_record_version_hub_batch_id", ["hub_batch_id"], unique=False)

    # Batches of revision 0002: their age counts from creation, and their envelope is their first seal.
    op.execute("UPDATE delivery_batch SET open_since = created_at")
    op.execute(
        "INSERT INTO delivery_seal (batch_id, seal_no, seq, envelope_path, envelope_sha256, manifest, "
        "signature, created_at) SELECT batch_id, 1, seq, envelope_path, envelope_sha256, manifest, "
        "signature, updated_at FROM delivery_batch WHERE envelope_sha256 IS NOT NULL "
        "AND envelope_path IS NOT NULL AND manifest IS NOT NULL AND signature IS NOT NULL"
    )
    op.execute("UPDATE delivery_batch SET seals = 1 WHERE envelope_sha256 IS NOT NULL")
    # Revision 0002 pushed straight from "sealed": one that was tried may be at the hub, which is "sent" now.
    op.execute(
        "UPDATE delivery_batch SET status = 'sent', sent_at = updated_at "
        "WHERE status = 'sealed' AND attempts > 0"
    )


def downgrade() -> None:
    op.execute("UPDATE delivery_batch SET status = 'sealed' WHERE status IN ('sent', 'dead')")
    with op.batch_alter_table("record_version") as batch:
        batch.drop_index("ix_record_version_hub_batch_id")
        batch.drop_column("hub_rejected_at")
        batch.drop_column("hub_batch_id")
        batch.drop_column("hub_message")
        batch.drop_column("hub_code")
    op.drop_table("delivery_seal")
    with op.batch_alter_table("delivery_batch") as batch:
        batch.drop_index("ix_delivery_batch_status")
        batch.drop_column("hub_rejected")
        batch.drop_column("dead_at")
        batch.drop_column("next_attempt_at")
        batch.drop_column("sent_at")
        batch.drop_column("open_since")
        batch.drop_column("seals")
        batch.drop_column("last_code")
