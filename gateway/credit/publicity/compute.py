"""Compute and store the publicity periods of the records that need one: incremental by version.

A record needs a period when it is active or waiting for an entity (unattached: it may be attached and sent
later) and has no credit_publicity row for its current version — never computed, or computed from an older
version. Withdrawn, expired and repaired records keep the row they had: nothing of theirs is published any
more. ``everything=True`` recomputes every such record, for when publicity.yaml changed.

The records' fields come out of the current version's payload with the database's JSON function
(gateway.credit.facts.payload_field), a chunk of rows at a time into Arrow; periods.py computes over the
columns; the rows are written with INSERT … ON CONFLICT DO UPDATE (SQLite and PostgreSQL alike), so two
runs at once cannot fail each other. A record whose decision date cannot be read gets no row (a stale one is
removed) and is reported each run until it is corrected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.credit.facts import payload_field, read_arrow
from gateway.credit.publicity.periods import SECTOR_TEXT, periods
from gateway.credit.publicity.queries import COMPUTED_STATUSES
from gateway.credit.publicity.rules import PublicityRules, RecordBinding, rules_for
from gateway.credit.publicity.tables import credit_publicity
from gateway.ids.resident_id import mask_in_text
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.records import CHUNK
from gateway.store.tables import CURRENT_VERSION, record, record_version

WRITE_ROWS = 2_000
_PASSTHROUGH = ("version", "natural_key", "record_type")


@dataclass(frozen=True)
class Undated:
    """A record whose decision date is missing or not a day: it has no period until it is corrected."""

    record_id: int
    record_type: str
    natural_key: str
    value: str | None  # what the field holds

    def line(self) -> str:
        shown = "未填" if not self.value else f"“{self.value}”"
        key = mask_in_text(self.natural_key)  # a log line: no resident ID number in full, whatever the key
        return f"记录 {self.record_id}（{self.record_type} {key}）：决定日期{shown}，无法计算公示期"


@dataclass(frozen=True)
class Conflict:
    """A record whose own 公示截止期 contradicts the rules: the rules' end was used."""

    record_id: int
    record_type: str
    natural_key: str
    text: str

    def line(self) -> str:
        return f"记录 {self.record_id}（{self.record_type} {mask_in_text(self.natural_key)}）：{self.text}"


@dataclass
class ComputeReport:
    computed: int = 0
    by_tier: Counter[tuple[str, str]] = field(default_factory=Counter)  # (regime, tier) → computed now
    conflicts: list[Conflict] = field(default_factory=list)  # found among the rows computed now
    undated: list[Undated] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "computed": self.computed,
            "by_tier": {f"{regime}/{tier}": n for (regime, tier), n in sorted(self.by_tier.items())},
            "conflicts": [c.__dict__ for c in self.conflicts],
            "undated": [u.__dict__ for u in self.undated],
        }


def compute(
    conn: Connection, rules: PublicityRules, now: datetime, *, everything: bool = False
) -> ComputeReport:
    """Compute the periods the store lacks (or all, with ``everything``) inside the caller's transaction."""
    report = ComputeReport()
    for binding in rules.record_types.values():
        table = pending(conn, binding, everything=everything)
        if table.num_rows == 0:
            continue
        found = periods(table, rules, binding, _PASSTHROUGH)
        _remove(conn, found.undated["record_id"].to_pylist())
        _upsert(conn, found.rows.drop_columns(["natural_key", "record_type"]), now)
        report.computed += found.rows.num_rows
        regimes, tiers = found.rows["regime"].to_pylist(), found.rows["tier"].to_pylist()
        report.by_tier.update(zip(regimes, tiers, strict=True))
        contradicted = found.rows.filter(pc.is_valid(found.rows["conflict"]))
        report.conflicts += [
            Conflict(row["record_id"], row["record_type"], row["natural_key"], row["conflict"])
            for row in contradicted.select(
                ["record_id", "record_type", "natural_key", "conflict"]
            ).to_pylist()
        ]
        report.undated += [
            Undated(row["record_id"], row["record_type"], row["natural_key"], row["decided_on"])
            for row in found.undated.to_pylist()
        ]
    return report


def pending(conn: Connection, binding: RecordBinding, *, everything: bool = False) -> pa.Table:
    """The records of one type that need a period, with their bound fields as text columns."""
    dialect = conn.dialect.name
    names = list(binding.fields)
    sector = [payload_field(code, dialect) for code in binding.sector_fields]
    columns = [
        record.c.id.label("record_id"),
        record.c.version,
        record.c.natural_key,
        record.c.record_type,
        *(payload_field(binding.fields[name], dialect).label(name) for name in names),
        *(value.label(f"sector_{i}") for i, value in enumerate(sector)),
    ]
    stmt = (
        select(*columns)
        .select_from(
            record.join(record_version, CURRENT_VERSION).outerjoin(
                credit_publicity, credit_publicity.c.record_id == record.c.id
            )
        )
        .where(record.c.record_type == binding.record_type, record.c.status.in_(COMPUTED_STATUSES))
        .order_by(record.c.id)
    )
    if not everything:
        stmt = stmt.where(
            or_(credit_publicity.c.record_id.is_(None), credit_publicity.c.version != record.c.version)
        )
    schema = pa.schema(
        [
            ("record_id", pa.int64()),
            ("version", pa.int32()),
            ("natural_key", pa.string()),
            ("record_type", pa.string()),
            *((name, pa.string()) for name in names),
            *((f"sector_{i}", pa.string()) for i in range(len(sector))),
        ]
    )
    table = read_arrow(conn, stmt, schema)
    return _sector_text(table, len(sector))


def _sector_text(table: pa.Table, n: int) -> pa.Table:
    """The sector fields as one text (what a regime's sectors look for), in place of the separate columns."""
    names = [f"sector_{i}" for i in range(n)]
    if not names:
        return table
    texts = [pc.fill_null(table[name].combine_chunks(), "") for name in names]
    joined = pc.binary_join_element_wise(*texts, " ") if len(texts) > 1 else texts[0]
    return table.drop_columns(names).append_column(SECTOR_TEXT, joined)


def _remove(conn: Connection, record_ids: Sequence[int]) -> None:
    """Rows computed from an older version of a record that no longer has a readable decision date."""
    for start in range(0, len(record_ids), CHUNK):
        chunk = list(record_ids[start : start + CHUNK])
        conn.execute(delete(credit_publicity).where(credit_publicity.c.record_id.in_(chunk)))


def _upsert(conn: Connection, rows: pa.Table, now: datetime) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(credit_publicity)
    updated = [c.name for c in credit_publicity.columns if c.name != "record_id"]
    stmt = stmt.on_conflict_do_update(
        index_elements=[credit_publicity.c.record_id], set_={name: stmt.excluded[name] for name in updated}
    )
    for values in _slices(rows):
        conn.execute(stmt, [row | {"computed_at": now} for row in values])


def _slices(rows: pa.Table) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, rows.num_rows, WRITE_ROWS):
        yield rows.slice(start, WRITE_ROWS).to_pylist()


def compute_for(settings: Settings, now: datetime, *, everything: bool = False) -> ComputeReport:
    """``compute`` in a transaction of its own, with the deployment's rules (the CLI's `compute`)."""
    rules = rules_for(settings)
    with engine_for(settings.database_url).begin() as conn:
        return compute(conn, rules, now, everything=everything)
