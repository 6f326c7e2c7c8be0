"""The daily run: compute what is new, then withdraw from the hub every active record whose publicity ended.

One transaction for both: the periods computed and the withdrawals they lead to commit together, so a crash
leaves neither, and a rerun (the same day or later) finds the withdrawn records no longer active and
withdraws nothing more. A record is withdrawn only on the period computed from its CURRENT version (a stale
row — a new version arrived and could not be computed — never withdraws it), and only when it is active:
records waiting for an entity, withdrawn by their source, or already expired or repaired are left alone.

Each withdrawal is gateway.store.withdrawals.withdraw(status="expired"): a version with operation d and the
reason publicity_expired, an outbox row if the hub ever had the record, and an audit row carrying the end,
the regime and the tier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from gateway.credit.publicity.compute import ComputeReport, compute
from gateway.credit.publicity.rules import PublicityRules, rules_for
from gateway.credit.publicity.tables import credit_publicity
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record
from gateway.store.withdrawals import withdraw

ACTOR = "credit_publicity"
log = logging.getLogger(__name__)
_LOGGED = 20  # conflicts and undated records named one by one in the log; the rest are counted


@dataclass(frozen=True)
class ExpirySummary:
    as_of: date
    computed: int  # periods computed (or recomputed) by this run
    conflicts: int  # of those, records whose own 公示截止期 contradicts the rules
    undated: int  # records without a readable decision date: no period, reported
    withdrawn: int  # active records whose publicity ended before as_of, withdrawn now
    sent: int  # of those, withdrawals the hub is told of (it had the record)
    report: ComputeReport = field(repr=False, compare=False)

    def describe(self) -> str:
        """The run in one line, for the log and the DAG's output."""
        return (
            f"公示期 {self.as_of.isoformat()}：计算 {self.computed} 条（与规则冲突 {self.conflicts} 条，"
            f"决定日期无法读取 {self.undated} 条）；公示期满撤回 {self.withdrawn} 条，"
            f"其中 {self.sent} 条通知省平台"
        )

    def as_dict(self) -> dict[str, Any]:
        """For the DAG's XCom and the CLI's --json."""
        return {
            "as_of": self.as_of.isoformat(),
            "computed": self.computed,
            "conflicts": self.conflicts,
            "undated": self.undated,
            "withdrawn": self.withdrawn,
            "sent": self.sent,
            "details": self.report.as_dict(),
        }


def withdraw_expired(
    settings: Settings,
    as_of: date,
    now: datetime,
    *,
    actor: str = ACTOR,
    rules: PublicityRules | None = None,
) -> ExpirySummary:
    """Compute the periods that are missing, then withdraw the active records whose ``ends_on`` is before
    ``as_of`` — in one transaction. Logs one line with the counts, and each conflict and undated record."""
    rules = rules or rules_for(settings)
    with engine_for(settings.database_url).begin() as conn:
        report = compute(conn, rules, now)
        due = expired(conn, rules, as_of)
        details = {
            record_id: {"ends_on": ends_on.isoformat(), "regime": regime, "tier": tier}
            for record_id, ends_on, regime, tier in due
        }
        done = withdraw(conn, list(details), status="expired", actor=actor, now=now, details=details)
    summary = ExpirySummary(
        as_of,
        computed=report.computed,
        conflicts=len(report.conflicts),
        undated=len(report.undated),
        withdrawn=len(done),
        sent=sum(w.sent for w in done),
        report=report,
    )
    _log(summary)
    return summary


def expired(conn: Connection, rules: PublicityRules, as_of: date) -> list[tuple[int, date, str, str]]:
    """Active records of the configured types whose period (computed from their current version) ended
    before ``as_of``: record id, ends_on, regime, tier."""
    p = credit_publicity
    rows = conn.execute(
        select(record.c.id, p.c.ends_on, p.c.regime, p.c.tier)
        .select_from(record.join(p, p.c.record_id == record.c.id))
        .where(
            record.c.record_type.in_(list(rules.record_types)),
            record.c.status == "active",
            p.c.version == record.c.version,
            p.c.ends_on < as_of,
        )
        .order_by(record.c.id)
    ).all()
    return [(row.id, row.ends_on, row.regime, row.tier) for row in rows]


def _log(summary: ExpirySummary) -> None:
    log.info(summary.describe())
    for item in summary.report.conflicts[:_LOGGED]:
        log.warning("公示截止期与规则冲突 %s", item.line())
    for item in summary.report.undated[:_LOGGED]:
        log.warning("%s", item.line())
    hidden = max(0, len(summary.report.conflicts) - _LOGGED) + max(0, len(summary.report.undated) - _LOGGED)
    if hidden:
        log.warning("另有 %d 条未逐条列出（`publicity conflicts` 列出全部冲突）", hidden)
