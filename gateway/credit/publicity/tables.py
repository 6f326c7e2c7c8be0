"""Each published record's publicity period as the rules give it (gateway.credit.publicity.rules).

One row per record, for the version it was computed from: a new version of the record is computed again.
``ends_on`` is the last day the record is published; the daily withdrawal takes out active records whose
``ends_on`` is before the day it runs for.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from gateway.credit.metadata import metadata
from gateway.store.tables import record

credit_publicity = Table(
    "credit_publicity",
    metadata,
    Column("record_id", Integer, ForeignKey(record.c.id), primary_key=True),
    Column("version", Integer, nullable=False),  # the record's version this was computed from
    Column("regime", String(32), nullable=False),  # the rule set that applied (publicity.yaml regimes)
    Column("tier", String(32), nullable=False),  # the period's name within the regime (minor, general, …)
    Column("basis", Text, nullable=False),  # why: the penalty kinds and amounts that decided, in words
    Column("starts_on", Date, nullable=False),  # the decision date
    Column("repairable_on", Date),  # the minimum period's end: repair may be applied for from here
    Column("ends_on", Date, nullable=False),  # the last day of publicity
    Column("own_end", Date),  # the 公示截止期 the record itself carries, if any
    Column("conflict", Text),  # the record's own end contradicts the rules: what and why (reported)
    Column("computed_at", DateTime(timezone=True), nullable=False),
)
Index("ix_credit_publicity_ends_on", credit_publicity.c.ends_on)
