"""One run of the rules: read the store as of a day, raise what is new, in one transaction.

Idempotent by construction: each warning's ``evidence_key`` is unique in the table and the insert skips the
keys already there (ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike), so a run repeated on the same
data raises nothing, and a run that dies half way raised nothing at all. Each warning raised gets its first
event (None → new) in the same transaction: a warning without events is one this run just inserted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, DateTime, exists, insert, literal, null, select

from gateway.credit import facts
from gateway.credit.warnings.detect import DETECTORS, Facts
from gateway.credit.warnings.evidence import Raised, materialise
from gateway.credit.warnings.rules import RULES_FILE, RuleSet, load_rules
from gateway.credit.warnings.states import NEW
from gateway.credit.warnings.tables import credit_warning, credit_warning_event
from gateway.settings import Settings
from gateway.store.bulk import bulk_insert, select_matching
from gateway.store.db import engine_for

SYSTEM_ACTOR = "credit_warnings"
REPAIRS_FILE = "repairs.yaml"
_COLUMNS = (
    "rule_id",
    "entity_id",
    "level",
    "department",
    "title",
    "evidence_key",
    "evidence",
    "state",
    "raised_on",
    "raised_at",
    "updated_at",
)


@dataclass
class RaiseReport:
    as_of: date
    found: dict[str, int] = field(default_factory=dict)  # rule id → warnings its evidence gives today
    raised: dict[str, int] = field(default_factory=dict)  # rule id → of those, raised now (new evidence)
    levels: dict[str, str] = field(default_factory=dict)  # rule id → level
    labels: dict[str, str] = field(default_factory=dict)  # rule id → label

    @property
    def total_raised(self) -> int:
        return sum(self.raised.values())

    def by_level(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for rule_id, n in self.raised.items():
            counts[self.levels[rule_id]] += n
        return dict(counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "raised": self.total_raised,
            "by_level": self.by_level(),
            "rules": {
                rule_id: {
                    "label": self.labels[rule_id],
                    "level": self.levels[rule_id],
                    "found": self.found[rule_id],
                    "raised": self.raised[rule_id],
                }
                for rule_id in self.found
            },
        }


def today(settings: Settings) -> date:
    """The day a run is as of unless told: today where the city is."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def rules_of(settings: Settings) -> RuleSet:
    return load_rules(settings.credit_dir / RULES_FILE)


def raise_warnings(
    settings: Settings,
    as_of: date | None = None,
    *,
    actor: str = SYSTEM_ACTOR,
    rules: RuleSet | None = None,
    now: datetime | None = None,
) -> RaiseReport:
    """Evaluate every enabled rule as of ``as_of`` and raise the warnings whose evidence is new."""
    ruleset = rules or rules_of(settings)
    as_of = as_of or today(settings)
    now = now or datetime.now(UTC)
    repairs_path = settings.credit_dir / REPAIRS_FILE
    if not repairs_path.is_file():
        raise FileNotFoundError(
            f"{repairs_path}: the credit repairs' rules are missing (docs/credit-warnings.md)"
        )
    repair_rules = facts.load_repair_rules(repairs_path)
    report = RaiseReport(as_of)
    with engine_for(settings.database_url).begin() as conn:
        repaired_ids = facts.repaired(conn, repair_rules)["record_id"]
        seen = Facts(conn, as_of, repaired_ids, ruleset.routing.routes)
        for rule in ruleset.rules:
            found = DETECTORS[rule.kind](rule, seen)
            report.found[rule.id], warnings = materialise(
                rule, found, ruleset.routing, as_of, known=lambda keys: known_keys(conn, keys)
            )
            report.raised[rule.id] = store(conn, rule.id, warnings, as_of, actor, now)
            report.levels[rule.id] = rule.level
            report.labels[rule.id] = rule.label
    return report


def known_keys(conn: Connection, keys: list[str]) -> set[str]:
    """Which of these evidence keys are raised already (one statement, however many keys)."""
    return {row[0] for row in select_matching(conn, credit_warning, ["evidence_key"], "evidence_key", keys)}


def store(
    conn: Connection, rule_id: str, warnings: list[Raised], as_of: date, actor: str, now: datetime
) -> int:
    """Insert the warnings whose keys are new and give each its first event; returns how many were new."""
    rows = [
        (
            w.rule_id,
            w.entity_id,
            w.level,
            w.department,
            w.title,
            w.evidence_key,
            w.evidence,
            NEW,
            as_of,
            now,
            now,
        )
        for w in warnings
    ]
    bulk_insert(conn, credit_warning, _COLUMNS, rows, ignore_conflicts_on=("evidence_key",))
    w, e = credit_warning, credit_warning_event
    fresh = select(
        w.c.id,
        literal(now, DateTime(timezone=True)),
        literal(actor),
        null(),
        literal(NEW),
        null(),
    ).where(w.c.rule_id == rule_id, ~exists().where(e.c.warning_id == w.c.id))
    columns = ["warning_id", "at", "actor", "from_state", "to_state", "reason"]
    return len(conn.execute(insert(e).from_select(columns, fresh).returning(e.c.id)).all())
