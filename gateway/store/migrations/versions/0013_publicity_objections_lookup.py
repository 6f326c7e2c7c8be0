"""Publicity periods, objections and the lookup: why the gateway made a version (record_version.reason), the
records an objection holds (record_hold), each record's publicity period (credit_publicity), objections and
their steps, the lookup's callers and its query log.

record_version.reason is added in place (ADD COLUMN, nullable, no default): on both databases that touches
no existing row, so it is instant however many versions are stored.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("record_version", sa.Column("reason", sa.String(length=32), nullable=True))
    op.create_table(
        "record_hold",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["record.id"], name=op.f("fk_record_hold_record_id_record")),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_hold")),
    )
    op.create_table(
        "credit_publicity",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("regime", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("repairable_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("own_end", sa.Date(), nullable=True),
        sa.Column("conflict", sa.Text(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["record.id"], name=op.f("fk_credit_publicity_record_id_record")
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_credit_publicity")),
    )
    op.create_index(op.f("ix_credit_publicity_ends_on"), "credit_publicity", ["ends_on"])
    op.create_table(
        "credit_objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("raised_by", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("corrected_version", sa.Integer(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["record.id"], name=op.f("fk_credit_objection_record_id_record")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_objection")),
    )
    op.create_index(op.f("ix_credit_objection_record_id"), "credit_objection", ["record_id"])
    op.create_index(op.f("ix_credit_objection_state"), "credit_objection", ["state"])
    op.create_table(
        "credit_objection_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objection_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["objection_id"],
            ["credit_objection.id"],
            name=op.f("fk_credit_objection_event_objection_id_credit_objection"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_objection_event")),
    )
    op.create_index(
        op.f("ix_credit_objection_event_objection_id"), "credit_objection_event", ["objection_id"]
    )
    op.create_table(
        "lookup_caller",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.Column("key_sha256", sa.String(length=64), nullable=True),
        sa.Column("cert_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_caller")),
        sa.UniqueConstraint("name", name=op.f("uq_lookup_caller_name")),
        sa.UniqueConstraint("key_id", name=op.f("uq_lookup_caller_key_id")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_lookup_caller_key_sha256")),
        sa.UniqueConstraint("cert_sha256", name=op.f("uq_lookup_caller_cert_sha256")),
    )
    op.create_table(
        "lookup_query",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caller_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("code_kind", sa.String(length=16), nullable=True),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("matter", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("report_no", sa.String(length=32), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["caller_id"], ["lookup_caller.id"], name=op.f("fk_lookup_query_caller_id_lookup_caller")
        ),
        sa.ForeignKeyConstraint(["entity_id"], ["entity.id"], name=op.f("fk_lookup_query_entity_id_entity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_query")),
        sa.UniqueConstraint("report_no", name=op.f("uq_lookup_query_report_no")),
    )
    op.create_index(op.f("ix_lookup_query_at"), "lookup_query", ["at"])
    op.create_index(op.f("ix_lookup_query_caller_id"), "lookup_query", ["caller_id"])
    op.create_index(op.f("ix_lookup_query_entity_id"), "lookup_query", ["entity_id"])


def downgrade() -> None:
    for table in ("lookup_query", "lookup_caller", "credit_objection_event", "credit_objection"):
        op.drop_table(table)
    op.drop_table("credit_publicity")
    op.drop_table("record_hold")
    with op.batch_alter_table("record_version") as batch:
        batch.drop_column("reason")
