"""The early warnings' tables (gateway.credit.warnings.tables): one row per warning, unique by the sha256
of its rule and evidence, and one row per change of its state (who, when, why).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("evidence_key", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entity.id"], name=op.f("fk_credit_warning_entity_id_entity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_warning")),
        sa.UniqueConstraint("evidence_key", name=op.f("uq_credit_warning_evidence_key")),
    )
    op.create_index(
        "ix_credit_warning_department_state", "credit_warning", ["department", "state"], unique=False
    )
    op.create_index("ix_credit_warning_entity_id", "credit_warning", ["entity_id"], unique=False)
    op.create_table(
        "credit_warning_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["credit_warning.id"],
            name=op.f("fk_credit_warning_event_warning_id_credit_warning"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_warning_event")),
    )
    op.create_index(
        "ix_credit_warning_event_warning_id", "credit_warning_event", ["warning_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_credit_warning_event_warning_id", table_name="credit_warning_event")
    op.drop_table("credit_warning_event")
    op.drop_index("ix_credit_warning_entity_id", table_name="credit_warning")
    op.drop_index("ix_credit_warning_department_state", table_name="credit_warning")
    op.drop_table("credit_warning")
