"""The risk classes for the CLI, the DAG and the pages: run a month, read an entity's class and history.

Everything that shows a class is internal (gateway.credit): the CLI is for platform engineers on the
gateway's host; the pages check the caller's Airflow role before they show one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from gateway.credit.facts import load_repair_rules
from gateway.credit.risk.classify import RunReport, classify, last_day, period_of
from gateway.credit.risk.model import MODEL_FILE, RiskModel, load_model
from gateway.credit.risk.tables import credit_class, credit_run
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record

REPAIRS_FILE = "repairs.yaml"


def model_for(settings: Settings) -> RiskModel:
    return load_model(settings.credit_dir / MODEL_FILE, load_record_types(settings.schemas_dir))


def today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def run(
    settings: Settings, period: str | None = None, as_of: date | None = None, actor: str = "gateway"
) -> RunReport:
    """Classify a month: ``period`` 'YYYY-MM' (default: this month), as of its last day or today, whichever
    is earlier, unless ``as_of`` is given."""
    now = today(settings)
    period = period or period_of(as_of or now)
    _check_period(period)
    as_of = as_of or min(last_day(period), now)
    model = model_for(settings)
    rules = load_repair_rules(settings.credit_dir / REPAIRS_FILE)
    with engine_for(settings.database_url).begin() as conn:
        return classify(conn, model, period, as_of, rules, actor=actor)


def _check_period(period: str) -> None:
    try:
        year, month = (int(part) for part in period.split("-"))
        date(year, month, 1)
    except ValueError as exc:
        raise ValueError(f"a period is written YYYY-MM (e.g. 2026-11), not {period!r}") from exc


@dataclass(frozen=True)
class ClassRow:
    run_id: int
    period: str
    as_of: date
    cls: str
    score_class: str
    score: float
    veto: str | None
    dimensions: dict[str, float]
    evidence: list[tuple[str, int, float]]  # indicator, record id, points


def history(conn: Connection, entity_id: int) -> list[ClassRow]:
    """The entity's class in each month's latest finished run, newest first."""
    latest = (
        select(credit_run.c.period, credit_run.c.id)
        .where(credit_run.c.status == "finished")
        .order_by(credit_run.c.period.desc(), credit_run.c.id.desc())
    )
    seen: set[str] = set()
    runs = []
    for period, run_id in conn.execute(latest):
        if period not in seen:
            seen.add(period)
            runs.append(run_id)
    if not runs:
        return []
    rows = conn.execute(
        select(credit_class, credit_run.c.period, credit_run.c.as_of)
        .join(credit_run, credit_run.c.id == credit_class.c.run_id)
        .where((credit_class.c.entity_id == entity_id) & credit_class.c.run_id.in_(runs))
        .order_by(credit_run.c.period.desc())
    ).all()
    return [
        ClassRow(
            r.run_id,
            r.period,
            r.as_of,
            r._mapping["class"],
            r.score_class,
            r.score,
            r.veto,
            json.loads(r.dimensions),
            [tuple(item) for item in json.loads(r.evidence)],
        )
        for r in rows
    ]


def current_classes(conn: Connection) -> dict[int, str]:
    """entity id → class in the latest finished run (for the draws' strata and the warnings)."""
    run_id = conn.execute(
        select(credit_run.c.id)
        .where(credit_run.c.status == "finished")
        .order_by(credit_run.c.id.desc())
        .limit(1)
    ).scalar()
    if run_id is None:
        return {}
    rows = conn.execute(
        select(credit_class.c.entity_id, credit_class.c["class"]).where(credit_class.c.run_id == run_id)
    )
    return {int(entity_id): cls for entity_id, cls in rows}


@dataclass(frozen=True)
class EvidenceLine:
    label: str  # the indicator's label, or 否决：<veto label>
    record_type: str
    natural_key: str
    points: float  # 0 for a record that forced the class through a veto


@dataclass(frozen=True)
class RiskView:
    """An entity's class for a person: the months, newest first, and the latest month explained."""

    months: list[ClassRow]
    dimension_labels: dict[str, str]
    class_labels: dict[str, str]
    latest_evidence: list[EvidenceLine]


def risk_history(settings: Settings, entity_id: int, months: int = 12) -> RiskView | None:
    """The class history of an entity with the latest month's evidence named by record; None when it was
    never classified. Internal: the caller checks the viewer's role first."""
    model = model_for(settings)
    labels = {i.id: i.label for i in model.indicators} | {
        f"veto:{v.id}": f"否决：{v.label}" for v in model.vetoes
    }
    with engine_for(settings.database_url).connect() as conn:
        rows = history(conn, entity_id)[:months]
        if not rows:
            return None
        ids = [record_id for _, record_id, _ in rows[0].evidence]
        named = {
            r.id: (r.record_type, r.natural_key)
            for r in conn.execute(
                select(record.c.id, record.c.record_type, record.c.natural_key).where(record.c.id.in_(ids))
            )
        }
    evidence = [
        EvidenceLine(labels.get(indicator, indicator), *named.get(record_id, ("", f"#{record_id}")), points)
        for indicator, record_id, points in rows[0].evidence
    ]
    return RiskView(
        rows,
        {d.id: d.label for d in model.dimensions},
        {c.cls: c.label for c in model.classes},
        evidence,
    )
