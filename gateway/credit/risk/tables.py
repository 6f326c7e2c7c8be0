"""The risk classes' tables: the models used, one run per classification, one row per entity and run.

A run is a month's classification (``period`` 'YYYY-MM', as of its last day, or of the day asked for). Runs
are kept: an entity's history is its rows across runs, and the current class of a period is that of its
latest finished run. The row keeps the class before and after the veto rules, the score per dimension and the
evidence (indicator, record, points) behind each point, so a class can be explained to whoever questions it.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text

from gateway.credit.metadata import metadata
from gateway.store.tables import entity

# Every model a run used, by the sha256 of its YAML text: a run's row points here, so an old class is
# explained by the model that made it even after the city changed the weights.
credit_model = Table(
    "credit_model",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("model_id", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("body", Text, nullable=False),  # the YAML text as loaded
    Column("first_used_at", DateTime(timezone=True), nullable=False),
)

credit_run = Table(
    "credit_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("period", String(7), nullable=False),  # YYYY-MM
    Column("as_of", Date, nullable=False),  # the day the decay and the windows count back from
    Column("model_sha256", String(64), ForeignKey(credit_model.c.sha256), nullable=False),
    Column("status", String(16), nullable=False),  # running | finished
    Column("entities", Integer, nullable=False, server_default="0"),
    Column("moves", Text),  # JSON: {"A->B": n, ...} against the previous finished run
    Column("counts", Text),  # JSON: {"A": n, "B": n, ...}
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("actor", String(64), nullable=False),
)
Index("ix_credit_run_period", credit_run.c.period, credit_run.c.status)

credit_class = Table(
    "credit_class",
    metadata,
    Column("run_id", Integer, ForeignKey(credit_run.c.id), primary_key=True),
    Column("entity_id", Integer, ForeignKey(entity.c.id), primary_key=True),
    Column("class", String(1), nullable=False),  # A | B | C | D, after the veto rules
    Column("score_class", String(1), nullable=False),  # what the score alone gave
    Column("score", Float, nullable=False),
    Column("veto", String(64)),  # the veto rule that set the class, if one did
    Column("dimensions", Text, nullable=False),  # JSON: {dimension: score}
    Column("evidence", Text, nullable=False),  # JSON: [[indicator, record_id, points], ...]
)
Index("ix_credit_class_entity_id", credit_class.c.entity_id)
