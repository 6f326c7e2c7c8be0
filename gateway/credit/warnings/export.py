"""A department's warnings as a spreadsheet, for people who work in Excel: CSV in UTF-8 with a byte-order
mark (without it Excel reads Chinese as GBK and shows mojibake) and XLSX.

The risk class is internal (gateway.credit): an export never carries it. The columns are chosen, not the
evidence dumped: the figures are left out (a class move's figures are classes), evidence records are named
by type, key and version, and risk-class evidence is not named at all.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Connection, func, select

from gateway.credit.warnings.queries import Filters
from gateway.credit.warnings.rules import RuleSet
from gateway.credit.warnings.states import STATE_LABELS
from gateway.credit.warnings.tables import credit_warning, credit_warning_event
from gateway.store.tables import entity

FORMATS = ("csv", "xlsx")
HEADERS = (
    "预警编号",
    "预警等级",
    "预警规则",
    "预警标题",
    "主体名称",
    "统一社会信用代码",
    "预警日期",
    "状态",
    "承办部门",
    "证据记录",
    "最近处理人",
    "最近处理时间",
    "处理说明",
)
INTERNAL_TYPES = frozenset({"credit_class"})  # evidence that never leaves the gateway
CELL_MAX = 32_000  # Excel holds at most 32,767 characters in a cell


def _evidence_text(evidence: str, type_labels: Mapping[str, str]) -> str:
    records = json.loads(evidence).get("records", [])
    shown = [
        f"{type_labels.get(r['record_type'], r['record_type'])} {r['natural_key']}（第{r['version']}版）"
        for r in records
        if r.get("record_type") not in INTERNAL_TYPES and "version" in r
    ]
    text = "；".join(shown)
    if len(text) > CELL_MAX:
        text = text[:CELL_MAX].rsplit("；", 1)[0] + f"；……共{len(shown)}条"
    return text


def export_rows(
    conn: Connection,
    filters: Filters,
    rules: RuleSet,
    type_labels: Mapping[str, str],
    timezone: str,
) -> list[tuple[Any, ...]]:
    """The rows of the export (in HEADERS order), most severe level first, then newest first."""
    w, e = credit_warning.c, credit_warning_event.c
    last = (
        select(e.warning_id, func.max(e.id).label("event_id")).group_by(e.warning_id).subquery("last_event")
    )
    event = credit_warning_event.alias("event")
    stmt = (
        select(
            w.id,
            w.level,
            w.rule_id,
            w.title,
            entity.c.name,
            entity.c.uscc,
            w.raised_on,
            w.state,
            w.department,
            w.evidence,
            event.c.actor,
            event.c.at,
            event.c.reason,
        )
        .join(entity, entity.c.id == w.entity_id)
        .join(last, last.c.warning_id == w.id, isouter=True)
        .join(event, event.c.id == last.c.event_id, isouter=True)
        .order_by(w.raised_on.desc(), w.id.desc())
    )
    for column, value in (
        (w.department, filters.department),
        (w.state, filters.state),
        (w.level, filters.level),
        (w.rule_id, filters.rule_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    zone = ZoneInfo(timezone)
    rows = []
    for r in conn.execute(stmt):
        rule = rules.rule(r.rule_id)
        at: datetime | None = r.at
        if at is not None and at.tzinfo is None:  # SQLite gives back UTC without its zone
            at = at.replace(tzinfo=ZoneInfo("UTC"))
        rows.append(
            (
                rules.rank(r.level),
                r.id,
                rules.level_label(r.level),
                rule.label if rule else r.rule_id,
                r.title,
                r.name,
                r.uscc or "",
                r.raised_on.isoformat(),
                STATE_LABELS.get(r.state, r.state),
                r.department,
                _evidence_text(r.evidence, type_labels),
                r.actor or "",
                at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else "",
                r.reason or "",
            )
        )
    rows.sort(key=lambda row: row[0])  # stable: newest first within a level
    return [row[1:] for row in rows]


def write_csv(path: Path, rows: Sequence[Sequence[Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        writer.writerows(rows)


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], sheet: str = "风险预警") -> None:
    book = Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row))
    ws.freeze_panes = "A2"
    for letter, width in zip(
        "ABCDEFGHIJKLM", (10, 10, 24, 40, 30, 22, 12, 10, 14, 60, 14, 18, 30), strict=True
    ):
        ws.column_dimensions[letter].width = width
    book.save(path)


def export(
    conn: Connection,
    filters: Filters,
    rules: RuleSet,
    type_labels: Mapping[str, str],
    timezone: str,
    fmt: str,
    path: Path,
) -> int:
    """Write the export; returns how many warnings it holds."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    rows = export_rows(conn, filters, rules, type_labels, timezone)
    (write_csv if fmt == "csv" else write_xlsx)(path, rows)
    return len(rows)
