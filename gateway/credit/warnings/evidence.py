"""From what a rule found to the warnings' rows: the evidence key, the department, the title and the
evidence JSON.

``evidence_key`` = sha256 of the rule id, the entity id and the sorted evidence items, one per line. A
record's item is ``record:<id>:<version>``, so a new version of a record (a corrected fine) or another
record (a new penalty) is new evidence; a risk class's is ``credit_class:<run id>``. Re-running on the same
evidence gives the same keys, which the table keeps unique: nothing is raised twice.

This works warning by warning, not entity by entity: the detection (gateway.credit.warnings.detect) has
already narrowed a million entities down to the few that match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gateway.credit.warnings.detect import EVIDENCE_BASE, ROUTED, Found
from gateway.credit.warnings.rules import Routing, Rule


@dataclass(frozen=True)
class Raised:
    """A warning ready to insert."""

    rule_id: str
    entity_id: int
    level: str
    department: str
    title: str
    evidence_key: str
    evidence: str  # JSON


@dataclass
class _Group:
    items: str  # the sorted evidence items, one per line
    records: list[dict[str, Any]]
    department: str | None
    _text: str | None = None

    def records_json(self) -> str:
        """The records as JSON, made once: a cluster's members share it."""
        if self._text is None:
            self._text = json.dumps(self.records, ensure_ascii=False, sort_keys=True)
        return self._text


def items(evidence: pa.Table) -> pa.ChunkedArray | pa.Array:
    """Each evidence row's item for the key: record:<id>:<version>; <type>:<natural key> for what is not a
    record (a risk class: credit_class:run:<id>)."""
    record = pc.binary_join_element_wise(
        "record", pc.cast(evidence["record_id"], pa.string()), pc.cast(evidence["version"], pa.string()), ":"
    )
    other = pc.binary_join_element_wise(evidence["record_type"], evidence["natural_key"], ":")
    return pc.coalesce(record, other)


def _departments(evidence: pa.Table) -> dict[str, str]:
    """Per group, the department most of its records go to (ties: the first by name)."""
    routed = evidence.filter(pc.is_valid(evidence[ROUTED]))
    if routed.num_rows == 0:
        return {}
    counts = routed.group_by(["group", ROUTED]).aggregate([("item", "count")])
    counts = counts.sort_by([("group", "ascending"), ("item_count", "descending"), (ROUTED, "ascending")])
    chosen: dict[str, str] = {}
    for group, department in zip(counts["group"].to_pylist(), counts[ROUTED].to_pylist(), strict=True):
        chosen.setdefault(group, department)
    return chosen


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


_BASE_TYPES = {
    "group": pa.string(),
    "record_id": pa.int64(),
    "record_type": pa.string(),
    "natural_key": pa.string(),
    "version": pa.int32(),
    "department": pa.string(),
    ROUTED: pa.string(),
}


def _complete(evidence: pa.Table) -> pa.Table:
    """Evidence that is not records (a risk class) has no record id, version or department: nulls."""
    for name, kind in _BASE_TYPES.items():
        if name not in evidence.column_names:
            evidence = evidence.append_column(name, pa.nulls(evidence.num_rows, kind))
    return evidence


def _groups(evidence: pa.Table) -> dict[str, _Group]:
    evidence = _complete(evidence)
    evidence = evidence.append_column("item", items(evidence))
    departments = _departments(evidence)
    evidence = evidence.sort_by([("group", "ascending"), ("item", "ascending")])
    fields = [c for c in evidence.column_names if c not in (*EVIDENCE_BASE, "item")]
    out: dict[str, _Group] = {}
    for group, rows in groupby(evidence.to_pylist(), key=lambda row: row["group"]):
        records, lines, seen = [], [], set()
        for row in rows:
            if row["item"] in seen:  # the same record shown twice (it has two field values): once
                continue
            seen.add(row["item"])
            lines.append(row["item"])
            shown = {
                "record_id": row.get("record_id"),
                "record_type": row["record_type"],
                "natural_key": row["natural_key"],
                "version": row.get("version"),
                "department": row.get("department"),
            }
            shown = {k: v for k, v in shown.items() if v is not None}
            shown["fields"] = {c: _json_value(row[c]) for c in fields if row.get(c) not in (None, "")}
            records.append(shown)
        out[group] = _Group("\n".join(lines), records, departments.get(group))
    return out


def evidence_key(rule_id: str, entity_id: int, evidence_items: str) -> str:
    return hashlib.sha256(f"{rule_id}\n{entity_id}\n{evidence_items}".encode()).hexdigest()


def materialise(
    rule: Rule,
    found: Found,
    routing: Routing,
    as_of: date,
    known: Callable[[list[str]], set[str]] = lambda keys: set(),
) -> tuple[int, list[Raised]]:
    """How many warnings the evidence gives, and those of them whose keys ``known`` does not know, with
    their departments, titles and evidence. Most of a day's warnings were raised on an earlier day: only
    their keys are computed, their evidence is not written out again."""
    if found.warnings.num_rows == 0:
        return 0, []
    groups = _groups(found.evidence)
    figure_names = [c for c in found.warnings.column_names if c not in ("entity_id", "group")]
    keyed = []
    for row in found.warnings.to_pylist():
        group = groups.get(row["group"])
        if group is not None:  # no evidence left (every record repaired): nothing to raise
            keyed.append((row, group, evidence_key(rule.id, row["entity_id"], group.items)))
    old = known([key for _, _, key in keyed])
    raised = []
    for row, group, key in keyed:
        if key in old:
            continue
        figures = {name: _json_value(row[name]) for name in figure_names}
        department = rule.department or group.department or routing.default_department
        if department is None:
            raise ValueError(f"rule {rule.id}: no department for entity {row['entity_id']} (set routing)")
        head = json.dumps(
            {"as_of": as_of.isoformat(), "rule": rule.id, "kind": rule.kind, "figures": figures},
            ensure_ascii=False,
            sort_keys=True,
        )
        body = f'{head[:-1]}, "records": {group.records_json()}}}'
        raised.append(
            Raised(
                rule_id=rule.id,
                entity_id=row["entity_id"],
                level=rule.level,
                department=department,
                title=rule.format_title(figures),
                evidence_key=key,
                evidence=body,
            )
        )
    return len(keyed), raised
