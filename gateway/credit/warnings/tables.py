"""The warnings' tables: one row per warning, one row per change of its state.

``evidence_key`` is the sha256 of the rule and the evidence (record ids and versions): unique, so the same
evidence never raises the same warning twice, however often the daily run repeats.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from gateway.credit.metadata import metadata
from gateway.store.tables import entity

credit_warning = Table(
    "credit_warning",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rule_id", String(64), nullable=False),
    Column("entity_id", Integer, ForeignKey(entity.c.id), nullable=False),
    Column("level", String(16), nullable=False),  # red | orange | yellow | blue (configurable)
    Column("department", String(64), nullable=False),  # whom it goes to
    Column("title", String(255), nullable=False),
    Column("evidence_key", String(64), nullable=False, unique=True),
    Column("evidence", Text, nullable=False),  # JSON: the records (id, type, key, version) and figures
    Column("state", String(16), nullable=False),  # new | acknowledged | handled | dismissed
    Column("raised_on", Date, nullable=False),  # the run's day
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_credit_warning_department_state", credit_warning.c.department, credit_warning.c.state)
Index("ix_credit_warning_entity_id", credit_warning.c.entity_id)

credit_warning_event = Table(
    "credit_warning_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("warning_id", Integer, ForeignKey(credit_warning.c.id), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("from_state", String(16)),  # NULL for the raise
    Column("to_state", String(16), nullable=False),
    Column("reason", Text),
)
Index("ix_credit_warning_event_warning_id", credit_warning_event.c.warning_id)
