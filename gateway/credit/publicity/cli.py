"""`… publicity` (公示期): compute the publicity periods, withdraw what has expired, show one record's period
and list the records whose own 公示截止期 contradicts the rules.

``app`` is not mounted by this package: gateway/credit/cli.py decides where it goes. The daily DAG makes the
same call as ``expire``. Every command reads the deployment's settings from the ``GATEWAY_*`` environment
(docs/publicity.md).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from typing import Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.settings import Settings

app = typer.Typer(
    name="publicity",
    help="公示期 — publicity periods: when each published record (行政处罚 …) stops being published, by "
    "the rules in publicity.yaml (国办发〔2025〕22号、发改委令第36号、发改办财金〔2019〕527号、"
    "市场监管总局令第45号), and the daily withdrawal of what has expired.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _settings() -> Settings:
    return Settings.from_env()


def _fail(message: str) -> NoReturn:
    console.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(1)


def _today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def _day(value: str | None, settings: Settings) -> date:
    if value is None:
        return _today(settings)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not a day (YYYY-MM-DD): {value!r}", param_hint="--as-of") from None


def _print_problems(conflicts: list[str], undated: list[str]) -> None:
    for line in conflicts:
        console.print(f"[yellow]冲突[/yellow] {escape(line)}")
    for line in undated:
        console.print(f"[red]无法计算[/red] {escape(line)}")


@app.command("compute")
def compute(
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Recompute every published record, not only new versions (after publicity.yaml changed).",
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """计算公示期 — compute the periods of records that have none for their current version.

    Withdraws nothing. Lists the records whose own 公示截止期 contradicts the rules and those whose decision
    date cannot be read."""
    from gateway.credit.publicity.compute import compute_for
    from gateway.credit.publicity.rules import PublicityRulesError

    try:
        report = compute_for(_settings(), datetime.now(UTC), everything=everything)
    except PublicityRulesError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"公示期：计算 {report.computed} 条")
    for column in ("规则 regime", "档次 tier", "条数"):
        table.add_column(column)
    for (regime, tier), n in sorted(report.by_tier.items()):
        table.add_row(regime, tier, str(n))
    console.print(table)
    _print_problems([c.line() for c in report.conflicts], [u.line() for u in report.undated])


@app.command("expire")
def expire(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="Withdraw records whose publicity ended before this day "
            "(default: today in GATEWAY_TIMEZONE).",
        ),
    ] = None,
    actor: Annotated[
        str, typer.Option("--by", help="Who withdraws (kept in the audit rows).")
    ] = "credit_publicity",
    as_json: Json = False,
) -> None:
    """公示期满撤回 — compute what is missing, then withdraw every active record whose period ended.

    Each withdrawal is a version with operation d (reason publicity_expired), sent to the provincial hub
    when it had the record. Safe to repeat: a second run withdraws nothing more."""
    from gateway.credit.publicity.expiry import withdraw_expired
    from gateway.credit.publicity.rules import PublicityRulesError

    settings = _settings()
    day = _day(as_of, settings)
    try:
        summary = withdraw_expired(settings, day, datetime.now(UTC), actor=actor)
    except PublicityRulesError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
        return
    console.print(escape(summary.describe()))
    report = summary.report
    _print_problems([c.line() for c in report.conflicts], [u.line() for u in report.undated])


@app.command("show")
def show(
    record_id: Annotated[int, typer.Argument(help="The record's id (record.id in the store).", min=1)],
    as_json: Json = False,
) -> None:
    """查看公示期 — one record's period: regime, tier, why, start, repairable from, end, conflict."""
    from gateway.credit.publicity.queries import publicity_of
    from gateway.store.db import engine_for

    with engine_for(_settings().database_url).connect() as conn:
        found = publicity_of(conn, record_id)
    if found is None:
        _fail(f"没有编号为 {record_id} 的记录 (no record {record_id})")
    if as_json:
        print(json.dumps(found.as_dict(), ensure_ascii=False, indent=2))
        return
    table = Table(show_header=False, title=f"记录 {record_id} 的公示期")
    state = "待计算 (pending: the next run computes it)" if found.pending else "已计算"
    if found.computed_version is None and not found.pending:
        state = "无 (never computed)"
    for name, value in (
        ("记录", f"{found.record_type} {found.natural_key}"),
        ("状态 / 版本", f"{found.status} / v{found.version}"),
        ("公示期", state),
        ("规则 / 档次", f"{found.regime or '—'} / {found.tier or '—'}"),
        ("依据", found.basis or "—"),
        ("起算日（决定日期）", _iso(found.starts_on)),
        ("可申请修复", _iso(found.repairable_on)),
        ("公示截止日", _iso(found.ends_on)),
        ("记录自带公示截止期", _iso(found.own_end)),
        ("冲突", found.conflict or "—"),
    ):
        table.add_row(name, escape(value))
    console.print(table)


@app.command("conflicts")
def conflicts(as_json: Json = False) -> None:
    """公示截止期冲突 — records whose own 公示截止期 contradicts the rules (the rules' end was used)."""
    from gateway.credit.publicity.queries import conflicts as listed
    from gateway.store.db import engine_for

    with engine_for(_settings().database_url).connect() as conn:
        found = listed(conn)
    if as_json:
        print(json.dumps([item.as_dict() for item in found], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"公示截止期与规则冲突 {len(found)} 条")
    for column in ("记录", "类型", "主键", "状态", "自带截止期", "采用截止日", "说明"):
        table.add_column(column)
    for item in found:
        table.add_row(
            str(item.record_id),
            item.record_type,
            escape(item.natural_key),
            item.status,
            _iso(item.own_end),
            _iso(item.ends_on),
            escape(item.conflict or ""),
        )
    console.print(table)


def _iso(day: date | None) -> str:
    return day.isoformat() if day is not None else "—"
