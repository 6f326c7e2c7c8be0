"""`gateway credit warnings` (风险预警): raise the warnings, list and show them, follow one from new to
handled (or dismissed, with a reason), and export a department's warnings for Excel.

gateway/cli.py mounts ``app``; the credit_warnings DAG makes the same call as ``raise`` every morning.
Every command reads the deployment's settings from the ``GATEWAY_*`` environment (docs/credit-warnings.md).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.settings import Settings

app = typer.Typer(
    name="warnings",
    help="风险预警 — early warnings: raise them from the rules (warning_rules.yaml), follow them from new "
    "to handled or dismissed, export a department's warnings (CSV / XLSX).",
    no_args_is_help=True,
)
# Pipes and CI logs get a wide console: Chinese cells truncated at 80 columns help nobody.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

By = Annotated[str, typer.Option("--by", help="Who acts (a name or account), kept with the change.")]
WarningId = Annotated[int, typer.Argument(help="The warning's number (as `list` shows it).", min=1)]


def _settings() -> Settings:
    return Settings.from_env()


def _fail(message: str) -> NoReturn:
    console.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(1)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not a day (YYYY-MM-DD): {value!r}", param_hint="--as-of") from None


@app.command("raise")
def raise_(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="Evaluate the rules as of this day (default: today in GATEWAY_TIMEZONE).",
        ),
    ] = None,
    actor: Annotated[str, typer.Option("--by", help="Who raises (kept in the warnings' first event).")] = (
        "credit_warnings"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Run every enabled rule and raise the warnings whose evidence is new; print counts per rule and level.

    Safe to repeat: evidence already raised raises nothing."""
    from gateway.credit.warnings.raising import raise_warnings
    from gateway.credit.warnings.rules import WarningRulesError

    settings = _settings()
    try:
        report = raise_warnings(settings, _day(as_of), actor=actor)
    except (WarningRulesError, FileNotFoundError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"风险预警 {report.as_of.isoformat()}：新增 {report.total_raised} 条")
    for column in ("规则 rule", "名称", "等级 level", "命中 found", "新增 raised"):
        table.add_column(column)
    for rule_id, figures in report.as_dict()["rules"].items():
        table.add_row(
            rule_id, figures["label"], figures["level"], str(figures["found"]), str(figures["raised"])
        )
    console.print(table)
    by_level = report.by_level()
    console.print("按等级新增 by level: " + ("，".join(f"{k} {v}" for k, v in by_level.items()) or "无"))


@app.command("list")
def list_(
    department: Annotated[str | None, typer.Option("--department", help="Only this department's.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="Only in this state: new, acknowledged, handled, dismissed.")
    ] = None,
    level: Annotated[str | None, typer.Option("--level", help="Only of this level (e.g. red).")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only of this rule id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List warnings, newest first."""
    from gateway.credit.json_values import jsonable
    from gateway.credit.warnings.queries import Filters, list_warnings
    from gateway.credit.warnings.states import STATE_LABELS
    from gateway.store.db import engine_for

    try:
        filters = Filters(department=department, state=state, level=level, rule_id=rule)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--state") from None
    with engine_for(_settings().database_url).connect() as conn:
        rows = list_warnings(conn, filters, limit=limit)
    if as_json:
        print(json.dumps(jsonable(rows), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"风险预警 {len(rows)} 条")
    for column in ("编号", "等级", "规则", "标题", "主体", "日期", "状态", "部门"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["level"],
            row["rule_id"],
            escape(row["title"]),
            escape(row["entity_name"]),
            row["raised_on"].isoformat(),
            STATE_LABELS.get(row["state"], row["state"]),
            row["department"],
        )
    console.print(table)


@app.command("show")
def show(
    warning_id: WarningId,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """One warning: its evidence (records and figures) and every change of its state.

    For the gateway's operators: the figures of a risk-class move show the (internal) classes."""
    from gateway.credit.json_values import jsonable
    from gateway.credit.warnings.queries import get_warning
    from gateway.credit.warnings.states import STATE_LABELS
    from gateway.store.db import engine_for

    with engine_for(_settings().database_url).connect() as conn:
        found = get_warning(conn, warning_id)
    if found is None:
        _fail(f"没有编号为 {warning_id} 的预警 (no warning {warning_id})")
    if as_json:
        print(json.dumps(jsonable(found), ensure_ascii=False, indent=2))
        return
    head = Table(show_header=False, title=f"预警 {warning_id}")
    for name, value in (
        ("标题", found["title"]),
        ("主体", f"{found['entity_name']}（{found['uscc'] or '无统一社会信用代码'}）"),
        ("规则 / 等级", f"{found['rule_id']} / {found['level']}"),
        ("部门", found["department"]),
        ("状态", STATE_LABELS.get(found["state"], found["state"])),
        ("预警日期", found["raised_on"].isoformat()),
        ("依据数值", json.dumps(found["evidence"].get("figures", {}), ensure_ascii=False)),
    ):
        head.add_row(name, escape(str(value)))
    console.print(head)
    records = Table(title="证据记录 evidence")
    for column in ("记录", "类型", "主键", "版本", "来源", "内容"):
        records.add_column(column)
    for r in found["evidence"].get("records", []):
        records.add_row(
            str(r.get("record_id", "")),
            r["record_type"],
            escape(r["natural_key"]),
            str(r.get("version", "")),
            r.get("department", ""),
            escape(json.dumps(r.get("fields", {}), ensure_ascii=False)),
        )
    console.print(records)
    events = Table(title="处理记录 events")
    for column in ("时间", "操作人", "从", "到", "说明"):
        events.add_column(column)
    for e in found["events"]:
        events.add_row(
            e["at"].isoformat(timespec="seconds"),
            escape(e["actor"]),
            e["from_state"] or "",
            e["to_state"],
            escape(e["reason"] or ""),
        )
    console.print(events)


def _change(warning_id: int, to_state: str, actor: str, reason: str | None) -> None:
    from gateway.credit.warnings.states import STATE_LABELS, TransitionError, change_state
    from gateway.store.db import engine_for

    try:
        with engine_for(_settings().database_url).begin() as conn:
            change = change_state(conn, warning_id, to_state, actor, reason=reason)
    except TransitionError as exc:
        _fail(str(exc))
    console.print(
        f"预警 {warning_id}：{STATE_LABELS[change.from_state]} → "
        f"{STATE_LABELS[change.to_state]}（{escape(actor)}）"
    )


@app.command("ack")
def ack(warning_id: WarningId, by: By) -> None:
    """Acknowledge a new warning (确认): someone has taken it up."""
    _change(warning_id, "acknowledged", by, None)


@app.command("handle")
def handle(
    warning_id: WarningId,
    by: By,
    note: Annotated[str | None, typer.Option("--note", help="What was done (kept with the change).")] = None,
) -> None:
    """Mark an acknowledged warning handled (已处置)."""
    _change(warning_id, "handled", by, note)


@app.command("dismiss")
def dismiss(
    warning_id: WarningId,
    by: By,
    reason: Annotated[str, typer.Option("--reason", help="Why it needs no action (required).")],
) -> None:
    """Dismiss a new or acknowledged warning (排除), with the reason why it needs no action."""
    _change(warning_id, "dismissed", by, reason)


@app.command("export")
def export(
    department: Annotated[str, typer.Option("--department", help="The department whose warnings to export.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.", dir_okay=False)],
    fmt: Annotated[str, typer.Option("--format", help="csv (UTF-8 with BOM, for Excel) or xlsx.")] = "xlsx",
    state: Annotated[str | None, typer.Option("--state", help="Only in this state.")] = None,
    level: Annotated[str | None, typer.Option("--level", help="Only of this level.")] = None,
) -> None:
    """Export a department's warnings with Chinese headers, most severe first.

    The risk class is internal: it is never in an export."""
    from gateway.credit.warnings import export as exporting
    from gateway.credit.warnings.queries import Filters
    from gateway.credit.warnings.raising import rules_of
    from gateway.credit.warnings.rules import WarningRulesError
    from gateway.schema.loader import load_record_types
    from gateway.store.db import engine_for

    if fmt not in exporting.FORMATS:
        raise typer.BadParameter(f"must be csv or xlsx, not {fmt!r}", param_hint="--format")
    try:
        filters = Filters(department=department, state=state, level=level)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--state") from None
    settings = _settings()
    try:
        rules = rules_of(settings)
    except WarningRulesError as exc:
        _fail(str(exc))
    labels = {name: rtype.label for name, rtype in load_record_types(settings.schemas_dir).items()}
    with engine_for(settings.database_url).connect() as conn:
        n = exporting.export(conn, filters, rules, labels, settings.timezone, fmt, out)
    console.print(f"已导出 {n} 条预警到 {escape(str(out))}")
