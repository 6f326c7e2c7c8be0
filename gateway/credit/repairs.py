"""Credit repair (信用修复) applied: the records a repair decision names leave every feed, not only the pages.

A repair decision arrives as a record of its own (type credit_repair) from the credit platform, the
enterprise-disclosure system or a department's file, and stays stored as such, with the decision; the
entity's history shows it. NDRC 令第36号《信用修复管理办法》 Art 3 defines repair as 终止公示 plus
停止共享和使用 (no system shows the record, sharing platforms stop passing it on), so the repaired record is
withdrawn from the hub (operation d, reason credit_repaired, gateway.store.withdrawals) and its status
becomes ``repaired``: the lookup, the pages and the credit computations stop using it. Which record a
decision names is config/repairs.yaml (gateway.credit.facts.repaired).

Then what was computed from the repaired records is computed again where it exists: warnings still open
whose evidence holds a repaired record are closed (dismissed, by ``credit_repair``, naming the repair), the
rules run again over what remains, and the month's risk classes are run again if classes were ever run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow.compute as pc
from sqlalchemy import Connection, select

from gateway.credit import facts
from gateway.credit.warnings.states import ACKNOWLEDGED, DISMISSED, NEW, change_state
from gateway.credit.warnings.tables import credit_warning
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record
from gateway.store.withdrawals import Withdrawn, withdraw

log = logging.getLogger(__name__)
ACTOR = "credit_repair"
REPAIRS_FILE = "repairs.yaml"


@dataclass
class RepairReport:
    withdrawn: list[Withdrawn] = field(default_factory=list)
    repairs: dict[int, int] = field(default_factory=dict)  # repaired record id → the repair's record id
    entities: list[int] = field(default_factory=list)
    warnings_closed: list[int] = field(default_factory=list)
    # effective repairs naming no stored record (it has not arrived, or is named differently): repair
    # record id, repaired type and key — reported every run until the record arrives
    unmatched: list[tuple[int, str, str]] = field(default_factory=list)
    warnings_raised: int | None = None  # None: the warnings were not run again (nothing repaired)
    risk_run: int | None = None  # the risk run made again, if classes exist and something was repaired

    @property
    def sent(self) -> int:
        return sum(1 for item in self.withdrawn if item.sent)

    def summary(self) -> str:
        waiting = f"；{len(self.unmatched)} 条修复决定未找到被修复记录" if self.unmatched else ""
        if not self.withdrawn:
            return f"信用修复：没有新的需撤回记录 (no record newly repaired){waiting}"
        parts = [
            f"信用修复：撤回 {len(self.withdrawn)} 条记录（其中 {self.sent} 条通知省级平台删除），"
            f"涉及 {len(self.entities)} 个主体",
            f"关闭预警 {len(self.warnings_closed)} 条",
        ]
        if self.warnings_raised is not None:
            parts.append(f"重新预警新增 {self.warnings_raised} 条")
        if self.risk_run is not None:
            parts.append(f"重新分类（运行 {self.risk_run}）")
        return "；".join(parts) + waiting


def apply_repairs(settings: Settings, now: datetime, as_of: date, *, recompute: bool = True) -> RepairReport:
    """Withdraw every active record an effective repair names, close the warnings that rested on them, and,
    with ``recompute``, run the warnings and (if classes exist) the month's classes again. A rerun finds
    nothing new: a withdrawn record is no longer active."""
    rules = facts.load_repair_rules(settings.credit_dir / REPAIRS_FILE)
    report = RepairReport()
    engine = engine_for(settings.database_url)
    with engine.begin() as conn:
        # Records repaired by an earlier run are among these; withdraw() takes only the active ones.
        found, left = facts.repair_targets(conn, rules)
        ids = found["record_id"].to_pylist()
        repair_of = dict(zip(ids, found["repair_record_id"].to_pylist(), strict=True))
        dates = dict(zip(ids, pc.cast(found["repair_date"], "string").to_pylist(), strict=True))
        details = {rid: {"repair_record_id": repair_of[rid], "repair_date": dates[rid]} for rid in ids}
        report.withdrawn = withdraw(conn, ids, status="repaired", actor=ACTOR, now=now, details=details)
        report.repairs = {item.record_id: repair_of[item.record_id] for item in report.withdrawn}
        report.entities = _entities(conn, list(report.repairs))
        report.warnings_closed = _close_warnings(conn, report.repairs, report.entities, now)
        report.unmatched = list(
            zip(
                left["record_id"].to_pylist(),
                left["repaired_type"].to_pylist(),
                left["repaired_key"].to_pylist(),
                strict=True,
            )
        )
    for item in report.withdrawn:
        log.info(
            "record %d (%s) repaired by record %d: withdrawn%s",
            item.record_id,
            item.record_type,
            report.repairs[item.record_id],
            ", the hub is told" if item.sent else " (the hub never had it)",
        )
    for repair_id, repaired_type, repaired_key in report.unmatched:
        log.warning(
            "repair record %d names %s %s, which is not stored: nothing withdrawn for it yet",
            repair_id,
            repaired_type,
            repaired_key,
        )
    if report.withdrawn and recompute:
        _recompute(settings, as_of, report)
    log.info("%s", report.summary())
    return report


def _entities(conn: Connection, record_ids: list[int]) -> list[int]:
    if not record_ids:
        return []
    rows = conn.execute(select(record.c.entity_id).where(record.c.id.in_(record_ids)).distinct())
    return sorted(entity_id for (entity_id,) in rows if entity_id is not None)


def _close_warnings(
    conn: Connection, repairs: dict[int, int], entity_ids: list[int], now: datetime
) -> list[int]:
    """Open warnings (new, acknowledged) of these entities whose evidence names a repaired record."""
    if not repairs:
        return []
    open_warnings = conn.execute(
        select(credit_warning.c.id, credit_warning.c.evidence).where(
            credit_warning.c.entity_id.in_(entity_ids), credit_warning.c.state.in_((NEW, ACKNOWLEDGED))
        )
    ).all()
    closed = []
    for warning_id, evidence in open_warnings:
        named = {item.get("record_id") for item in json.loads(evidence).get("records", [])}
        hit = sorted(rid for rid in named if rid in repairs)
        if hit:
            because = "；".join(f"记录 {rid} 已由信用修复记录 {repairs[rid]} 修复" for rid in hit)
            change_state(conn, warning_id, DISMISSED, ACTOR, reason=f"依据已修复：{because}", now=now)
            closed.append(warning_id)
    return closed


def _recompute(settings: Settings, as_of: date, report: RepairReport) -> None:
    # Imported here: the risk and warnings services read their own configuration files, which a
    # deployment without those features may not have; repairs alone must still work there.
    from gateway.credit.risk.service import run as run_classes
    from gateway.credit.risk.tables import credit_run
    from gateway.credit.warnings.raising import raise_warnings
    from gateway.credit.warnings.rules import RULES_FILE

    if (settings.credit_dir / RULES_FILE).is_file():
        report.warnings_raised = raise_warnings(settings, as_of, actor=ACTOR).total_raised
    with engine_for(settings.database_url).connect() as conn:
        classes_exist = conn.execute(select(credit_run.c.id).limit(1)).first() is not None
    if classes_exist:
        report.risk_run = run_classes(settings, as_of=as_of, actor=ACTOR).run_id
