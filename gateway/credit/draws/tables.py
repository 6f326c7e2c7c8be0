"""The double-random tables: the lists (inspection items, inspectors), plans and their tasks, each task's
signed draw record, and the objects drawn (which also keeps an object from being drawn twice in a year)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from gateway.credit.metadata import metadata
from gateway.store.tables import entity

# 抽查事项清单: loaded from a file; kind 重点 (key) or 一般 (general).
draw_item = Table(
    "draw_item",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("kind", String(8), nullable=False),  # 重点 | 一般
    Column("department", String(64), nullable=False),
    Column("qualifications", Text, nullable=False),  # JSON list: what an inspector must hold to check it
    Column("detail", Text),  # JSON: the other columns of the list, as loaded
    Column("loaded_from", String(1024), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
)

# 执法检查人员名录库: loaded from a file.
draw_inspector = Table(
    "draw_inspector",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("department", String(64), nullable=False),
    Column("qualifications", Text, nullable=False),  # JSON list
    Column("conflicts", Text, nullable=False),  # JSON list of USCCs the inspector must not inspect
    Column("active", Boolean, nullable=False),
    Column("loaded_from", String(1024), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
)

draw_plan = Table(
    "draw_plan",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("year", Integer, nullable=False),
    Column("department", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

draw_task = Table(
    "draw_task",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("plan_id", String(64), ForeignKey(draw_plan.c.plan_id), nullable=False),
    Column("name", String(255), nullable=False),
    Column("items", Text, nullable=False),  # JSON list of item codes (several for a joint task)
    Column("departments", Text, nullable=False),  # JSON list: one for a task, several for a joint one
    Column("mode", String(8), nullable=False),  # 定向 | 不定向
    Column("filters", Text),  # JSON: type, industry, area, scale for 定向
    Column("end_date", Date, nullable=False),  # the inspections end by this day; results due 20 wd later
    # An object drawn by another task of the same year is a candidate again only if this is set.
    Column("allow_repeat", Boolean, nullable=False),
    Column("status", String(16), nullable=False),  # planned | drawn
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The draw, frozen: the record is canonical JSON of everything needed to re-run it, signed by the gateway.
draw_record = Table(
    "draw_record",
    metadata,
    Column("task_id", String(64), ForeignKey(draw_task.c.task_id), primary_key=True),
    Column("seed", String(64), nullable=False),
    Column("population_hash", String(64), nullable=False),
    Column("population_size", Integer, nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("record", Text, nullable=False),  # canonical JSON (seed, population hash, ratios, drawn)
    # The frozen population, exactly the bytes population_hash is the SHA-256 of: one "USCC<TAB>stratum"
    # line per candidate, sorted. Kept so a draw can be verified whatever the store says later.
    Column("population", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("key_id", String(128), nullable=False),
    Column("drawn_at", DateTime(timezone=True), nullable=False),
)

draw_object = Table(
    "draw_object",
    metadata,
    Column("task_id", String(64), ForeignKey(draw_task.c.task_id), primary_key=True),
    Column("entity_id", Integer, ForeignKey(entity.c.id), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("stratum", String(8), nullable=False),  # the risk class it was drawn from
    Column("inspectors", Text, nullable=False),  # JSON list of inspector codes
)
Index("ix_draw_object_year_entity_id", draw_object.c.year, draw_object.c.entity_id)
