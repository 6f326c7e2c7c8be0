"""The risk classes' tables (gateway.credit.risk.tables): the models runs used, one run per month's
classification, one row per entity and run with its class, score per dimension and evidence.

Derived data: the store's tables are not touched. The class is internal (gateway.credit), so nothing here
is ever part of a batch for the hub.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_model",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_credit_model")),
    )
    op.create_table(
        "credit_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entities", sa.Integer(), server_default="0", nullable=False),
        sa.Column("moves", sa.Text(), nullable=True),
        sa.Column("counts", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_sha256"], ["credit_model.sha256"], name=op.f("fk_credit_run_model_sha256_credit_model")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_run")),
    )
    op.create_index("ix_credit_run_period", "credit_run", ["period", "status"], unique=False)
    op.create_table(
        "credit_class",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("class", sa.String(length=1), nullable=False),
        sa.Column("score_class", sa.String(length=1), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("veto", sa.String(length=64), nullable=True),
        sa.Column("dimensions", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entity.id"], name=op.f("fk_credit_class_entity_id_entity")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["credit_run.id"], name=op.f("fk_credit_class_run_id_credit_run")
        ),
        sa.PrimaryKeyConstraint("run_id", "entity_id", name=op.f("pk_credit_class")),
    )
    op.create_index("ix_credit_class_entity_id", "credit_class", ["entity_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_credit_class_entity_id", table_name="credit_class")
    op.drop_table("credit_class")
    op.drop_index("ix_credit_run_period", table_name="credit_run")
    op.drop_table("credit_run")
    op.drop_table("credit_model")
