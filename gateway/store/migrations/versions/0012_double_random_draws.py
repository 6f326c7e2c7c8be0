"""The double-random tables (gateway.credit.draws.tables): inspection items and inspectors as loaded from
their files, plans and tasks, each task's signed draw record and the objects it drew.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draw_inspector",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("qualifications", sa.Text(), nullable=False),
        sa.Column("conflicts", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("loaded_from", sa.String(length=1024), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_draw_inspector")),
    )
    op.create_table(
        "draw_item",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("qualifications", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("loaded_from", sa.String(length=1024), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_draw_item")),
    )
    op.create_table(
        "draw_plan",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_draw_plan")),
    )
    op.create_table(
        "draw_task",
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("departments", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("filters", sa.Text(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("allow_repeat", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["draw_plan.plan_id"], name=op.f("fk_draw_task_plan_id_draw_plan")
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_draw_task")),
    )
    op.create_table(
        "draw_object",
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(length=8), nullable=False),
        sa.Column("inspectors", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entity.id"], name=op.f("fk_draw_object_entity_id_entity")),
        sa.ForeignKeyConstraint(
            ["task_id"], ["draw_task.task_id"], name=op.f("fk_draw_object_task_id_draw_task")
        ),
        sa.PrimaryKeyConstraint("task_id", "entity_id", name=op.f("pk_draw_object")),
    )
    op.create_index("ix_draw_object_year_entity_id", "draw_object", ["year", "entity_id"], unique=False)
    op.create_table(
        "draw_record",
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("population_hash", sa.String(length=64), nullable=False),
        sa.Column("population_size", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("population", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["draw_task.task_id"], name=op.f("fk_draw_record_task_id_draw_task")
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_draw_record")),
    )


def downgrade() -> None:
    op.drop_table("draw_record")
    op.drop_index("ix_draw_object_year_entity_id", table_name="draw_object")
    op.drop_table("draw_object")
    op.drop_table("draw_task")
    op.drop_table("draw_plan")
    op.drop_table("draw_item")
    op.drop_table("draw_inspector")
