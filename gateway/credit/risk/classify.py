"""A month's classification: every entity in scope scored by the model, vetoes applied, stored as one run.

The run is one transaction: a crash leaves no half-written month behind, and running the same month again
makes a new run (the latest finished run of a month is its class; earlier ones stay as history). Scores,
classes and the JSON that explains them are built column by column with Arrow; only the final rows cross
into Python, to be written in bulk.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, func, insert, select, update

from gateway.credit import facts
from gateway.credit.risk.indicators import EVIDENCE, Counted, compute, evidence_rows
from gateway.credit.risk.model import CLASSES, RiskModel
from gateway.credit.risk.tables import credit_class, credit_model, credit_run
from gateway.store.bulk import bulk_insert

log = logging.getLogger(__name__)
WRITE_ROWS = 20_000


@dataclass
class RunReport:
    run_id: int
    period: str
    as_of: date
    model: str  # id and version
    entities: int
    counts: dict[str, int]
    moves: dict[str, int]  # "B->C": n against the previous finished run; "new->A" for entities it lacked
    vetoed: dict[str, int]  # per veto rule: entities whose class it made worse than the score's
    evidence: dict[str, int] = field(default_factory=dict)  # evidence rows per indicator
    undated: dict[str, int] = field(default_factory=dict)  # records whose date could not be read
    seconds: float = 0.0

    def moved(self) -> int:
        return sum(n for move, n in self.moves.items() if not move.startswith("new->"))


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def last_day(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def in_scope(model: RiskModel, entities: pa.Table) -> pa.Table:
    """The entities the model classifies: by the leading characters of their USCC (an entity known only by
    a legacy code has no USCC and is not classified; the run's report says how many were left out)."""
    uscc = pc.fill_null(entities["uscc"], "")
    keep = pc.starts_with(uscc, model.uscc_prefixes[0])
    for prefix in model.uscc_prefixes[1:]:
        keep = pc.or_(keep, pc.starts_with(uscc, prefix))
    return entities.filter(keep)


def _aligned(ids: pa.Array, keys: pa.Array, values: pa.Array, default: object) -> pa.Array:
    """``values`` (keyed by ``keys``) in the order of ``ids``, ``default`` where an id has none."""
    return pc.fill_null(pc.take(values, pc.index_in(ids, value_set=keys)), default)


def _json_numbers(names: list[str], columns: list[pa.Array]) -> pa.Array:
    pieces = []
    for name, column in zip(names, columns, strict=True):
        pieces.append(
            pc.binary_join_element_wise(f'"{name}":', pc.cast(pc.round(column, 2), pa.string()), "")
        )
    return pc.binary_join_element_wise("{", pc.binary_join_element_wise(*pieces, ","), "}", "")


def evidence_json(ids: pa.Array, evidence: pa.Table, names: list[str]) -> pa.Array:
    """Per entity of ``ids``: [[indicator, record_id, points], ...], in the order of ``ids``; '[]' for
    none. Called a slice of entities at a time (classify): the texts of a city's evidence at once would
    take gigabytes."""
    evidence = evidence.filter(pc.is_in(evidence["entity_id"], value_set=ids))
    if evidence.num_rows == 0:
        return pa.array(["[]"] * len(ids), pa.string())
    item = pc.binary_join_element_wise(
        '["',
        pc.take(pa.array(names, pa.string()), evidence["code"]),
        '",',
        pc.cast(evidence["record_id"], pa.string()),
        ",",
        pc.cast(pc.round(evidence["points"], 2), pa.string()),
        "]",
        "",
    )
    grouped = (
        pa.table({"entity_id": evidence["entity_id"], "item": item})
        .group_by("entity_id")
        .aggregate([("item", "list")])
    )
    joined = pc.binary_join(grouped["item_list"], ",")
    lists = pc.binary_join_element_wise("[", joined, "]", "")
    return _aligned(ids, grouped["entity_id"].combine_chunks(), lists.combine_chunks(), "[]")


@dataclass
class Scored:
    """Every entity in scope with its class, score, veto and scores per dimension (``table``), and the
    evidence rows behind them (``evidence``), kept apart until they are written."""

    table: pa.Table
    evidence: pa.Table
    counted: Counted
    vetoed: dict[str, int]
    out_of_scope: int


def score(conn: Connection, model: RiskModel, as_of: date, repair_rules: list[facts.RepairRule]) -> Scored:
    """Score every entity in scope and apply the vetoes."""
    everyone = facts.entities(conn)
    scoped = in_scope(model, everyone)
    ids = scoped["entity_id"].combine_chunks()
    repaired = facts.repaired(conn, repair_rules)["record_id"]
    counted = Counted()
    parts = []
    for indicator in model.indicators:
        found = compute(conn, indicator, as_of, repaired, counted)
        parts.append(found.filter(pc.is_in(found["entity_id"], value_set=ids)))
    evidence = pa.concat_tables([EVIDENCE.empty_table(), *parts])

    dimension_scores = []
    for dimension in model.dimensions:
        codes = pa.array([i.code for i in model.indicators if i.dimension == dimension.id], pa.int16())
        mine = evidence.filter(pc.is_in(evidence["code"], value_set=codes))
        sums = mine.group_by("entity_id").aggregate([("points", "sum")])
        lost = pc.min_element_wise(
            _aligned(ids, sums["entity_id"].combine_chunks(), sums["points_sum"].combine_chunks(), 0.0),
            dimension.weight,
        )
        dimension_scores.append(
            pc.subtract(pa.scalar(dimension.weight, pa.float64()), pc.cast(lost, pa.float64()))
        )
    total = dimension_scores[0]
    for column in dimension_scores[1:]:
        total = pc.add(total, column)
    total = pc.round(total, 2) if len(ids) else pa.array([], pa.float64())

    rank = pa.array([len(CLASSES) - 1] * len(ids), pa.int8())  # D, unless a threshold is reached
    for position, threshold in reversed(list(enumerate(model.classes))):
        rank = pc.if_else(pc.greater_equal(total, threshold.min), pa.scalar(position, pa.int8()), rank)
    final = rank
    veto = pa.nulls(len(ids), pa.string())
    vetoed: dict[str, int] = {}
    veto_evidence = [evidence]
    for number, rule in enumerate(model.vetoes):
        hits = facts.without(facts.records(conn, [rule.record_type], origin=False), repaired)
        forced = pa.scalar(CLASSES.index(rule.cls), pa.int8())
        applies = pc.and_(pc.is_in(ids, value_set=hits["entity_id"].unique()), pc.less(final, forced))
        vetoed[rule.id] = int(pc.sum(pc.cast(applies, pa.int64())).as_py() or 0)
        final = pc.if_else(applies, forced, final)
        veto = pc.if_else(applies, pa.scalar(rule.id), veto)
        # The records that forced the class are part of the explanation, at no points of their own.
        mine = hits.filter(pc.is_in(hits["entity_id"], value_set=ids.filter(applies)))
        zero = pa.array([0.0] * mine.num_rows, pa.float64())
        veto_evidence.append(
            evidence_rows(len(model.indicators) + number, mine["entity_id"], mine["record_id"], zero)
        )
    classes = pa.array(CLASSES, pa.string())
    table = pa.table(
        {
            "entity_id": ids,
            "class": pc.take(classes, final),
            "score_class": pc.take(classes, rank),
            "score": total,
            "veto": veto,
            "dimensions": _json_numbers([d.id for d in model.dimensions], dimension_scores)
            if len(ids)
            else pa.array([], pa.string()),
        }
    )
    return Scored(
        table, pa.concat_tables(veto_evidence), counted, vetoed, everyone.num_rows - scoped.num_rows
    )


def _remember_model(conn: Connection, model: RiskModel, now: datetime) -> None:
    known = conn.execute(select(credit_model.c.sha256).where(credit_model.c.sha256 == model.sha256)).first()
    if known is None:
        conn.execute(
            insert(credit_model).values(
                sha256=model.sha256,
                model_id=model.id,
                version=model.version,
                body=model.text,
                first_used_at=now,
            )
        )


def _previous_run(conn: Connection, before: int) -> int | None:
    return conn.execute(
        select(func.max(credit_run.c.id)).where(
            (credit_run.c.status == "finished") & (credit_run.c.id < before)
        )
    ).scalar()


def _moves(conn: Connection, run_id: int, previous: int | None) -> dict[str, int]:
    new = credit_class.alias("new")
    if previous is None:
        rows = conn.execute(
            select(new.c["class"], func.count()).where(new.c.run_id == run_id).group_by(new.c["class"])
        )
        return {f"new->{cls}": int(n) for cls, n in rows}
    old = (
        select(credit_class.c.entity_id, credit_class.c["class"])
        .where(credit_class.c.run_id == previous)
        .subquery()
    )
    rows = conn.execute(
        select(old.c["class"], new.c["class"], func.count())
        .select_from(new.outerjoin(old, old.c.entity_id == new.c.entity_id))
        .where(new.c.run_id == run_id)
        .group_by(old.c["class"], new.c["class"])
    )
    moves: dict[str, int] = {}
    for before, after, n in rows:
        if before != after:
            moves[f"{before or 'new'}->{after}"] = int(n)
    return dict(sorted(moves.items()))


def classify(
    conn: Connection,
    model: RiskModel,
    period: str,
    as_of: date,
    repair_rules: list[facts.RepairRule],
    *,
    actor: str = "gateway",
) -> RunReport:
    """Classify every entity in scope as of ``as_of`` and store the run (the caller commits)."""
    started = time.monotonic()
    now = datetime.now(UTC)
    _remember_model(conn, model, now)
    run_id = int(
        conn.execute(
            insert(credit_run)
            .values(
                period=period,
                as_of=as_of,
                model_sha256=model.sha256,
                status="running",
                started_at=now,
                actor=actor,
            )
            .returning(credit_run.c.id)
        ).scalar_one()
    )
    scored = score(conn, model, as_of, repair_rules)
    table, counted, vetoed, out_of_scope = scored.table, scored.counted, scored.vetoed, scored.out_of_scope
    names = model.evidence_names()
    columns = ["run_id", "entity_id", "class", "score_class", "score", "veto", "dimensions", "evidence"]
    for start in range(0, table.num_rows, WRITE_ROWS):
        chunk = table.slice(start, WRITE_ROWS)
        explained = evidence_json(chunk["entity_id"].combine_chunks(), scored.evidence, names)
        rows = zip(
            [run_id] * chunk.num_rows,
            *(chunk[name].to_pylist() for name in columns[1:-1]),
            explained.to_pylist(),
            strict=True,
        )
        bulk_insert(conn, credit_class, columns, list(rows))
    counts = {cls: 0 for cls in CLASSES}
    if table.num_rows:
        for item in pc.value_counts(table["class"]).to_pylist():
            counts[item["values"]] = int(item["counts"])
    moves = _moves(conn, run_id, _previous_run(conn, run_id))
    conn.execute(
        update(credit_run)
        .where(credit_run.c.id == run_id)
        .values(
            status="finished",
            entities=table.num_rows,
            counts=json.dumps(counts),
            moves=json.dumps(moves, ensure_ascii=False),
            finished_at=datetime.now(UTC),
        )
    )
    report = RunReport(
        run_id=run_id,
        period=period,
        as_of=as_of,
        model=f"{model.id} {model.version}",
        entities=table.num_rows,
        counts=counts,
        moves=moves,
        vetoed=vetoed,
        evidence=dict(counted.records),
        undated={k: v for k, v in counted.undated.items() if v},
        seconds=round(time.monotonic() - started, 2),
    )
    log.info(
        "credit run %s (%s, as of %s, model %s): %s entities classified %s; %s moved since the previous run; "
        "%s entities out of scope",
        run_id,
        period,
        as_of,
        report.model,
        report.entities,
        counts,
        report.moved(),
        out_of_scope,
    )
    return report


__all__ = ["RunReport", "Scored", "classify", "evidence_json", "in_scope", "last_day", "period_of", "score"]
