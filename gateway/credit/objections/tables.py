"""Objections (异议) against records and every step of each, with who and when.

An open objection holds its record (gateway.store.tables.record_hold) until it is resolved — corrected,
upheld or unconfirmed — or lapses when its working-day deadline passes.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from gateway.credit.metadata import metadata
from gateway.store.tables import record

credit_objection = Table(
    "credit_objection",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_id", Integer, ForeignKey(record.c.id), nullable=False),
    Column("record_version", Integer, nullable=False),  # the version objected to
    Column("raised_by", String(64), nullable=False),  # the department or the credit platform's source id
    Column("channel", String(16), nullable=False),  # department | credit_platform
    Column("reason", Text, nullable=False),
    Column("raised_on", Date, nullable=False),
    Column("deadline", Date, nullable=False),  # the last working day for a decision
    Column("state", String(16), nullable=False),  # open | corrected | upheld | unconfirmed | lapsed
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(64)),
    Column("note", Text),
    Column("corrected_version", Integer),  # corrected: the version that corrects the record
    Column("raised_at", DateTime(timezone=True), nullable=False),
)
Index("ix_credit_objection_record_id", credit_objection.c.record_id)
Index("ix_credit_objection_state", credit_objection.c.state)

credit_objection_event = Table(
    "credit_objection_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("objection_id", Integer, ForeignKey(credit_objection.c.id), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # raised | corrected | upheld | unconfirmed | lapsed
    Column("detail", Text),
)
Index("ix_credit_objection_event_objection_id", credit_objection_event.c.objection_id)
