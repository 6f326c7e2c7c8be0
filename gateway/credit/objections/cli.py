"""`gateway credit objections` (异议): raise an objection against a record, which holds the record back
from the hub; resolve it (corrected, upheld, unconfirmed); list and show objections; lapse the overdue.

``app`` is mounted by gateway/credit/cli.py. Every command reads the deployment's settings from the
``GATEWAY_*`` environment (docs/objections.md).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.ids.resident_id import mask_in_text
from gateway.settings import Settings

app = typer.Typer(
    name="objections",
    help="异议 objections: a record disputed by a department or the credit platform is held back from the "
    "hub until the objection is resolved (corrected / upheld / unconfirmed) or its working-day deadline "
    "passes (lapse). Deadlines: objections.yaml and holidays.yaml in GATEWAY_CREDIT_DIR.",
    no_args_is_help=True,
)
# Pipes and CI logs get a wide console: Chinese cells truncated at 80 columns help nobody.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

ObjectionId = Annotated[int, typer.Argument(help="The objection's number (as `list` shows it).", min=1)]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _settings() -> Settings:
    return Settings.from_env()


def _fail(message: str) -> NoReturn:
    console.print(f"[red]{escape(mask_in_text(message))}[/red]")
    raise typer.Exit(1)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not a day (YYYY-MM-DD): {value!r}", param_hint=option) from None


def _text(value: str | None) -> str:
    """Free text as people typed it, with anything shaped like a resident ID number masked."""
    return escape(mask_in_text(value or ""))


_HOLDS = {
    "placed": "已暂停报送",
    "joined": "已因其他异议暂停报送",
    "held_otherwise": "已因其他原因暂停报送",
    "lifted": "恢复报送",
}


def _describe(detail: dict[str, object]) -> str:
    """An event's details as a line for people; --json gives them as stored."""
    parts = []
    if "record_version" in detail:
        parts.append(f"针对第 {detail['record_version']} 版")
    if "deadline" in detail:
        parts.append(f"期限 {detail['deadline']}")
    if "corrected_version" in detail:
        parts.append(f"更正为第 {detail['corrected_version']} 版")
    hold = str(detail.get("hold", ""))
    parts.append(f"仍因异议 {detail.get('held_by')} 暂停报送" if hold == "kept" else _HOLDS.get(hold, hold))
    if "note" in detail:
        parts.append(f"说明：{detail['note']}")
    return "；".join(part for part in parts if part)


@app.command("raise")
def raise_(
    channel: Annotated[
        str,
        typer.Option(
            "--channel", help="Where the objection comes from: department, or credit_platform (信用平台)."
        ),
    ],
    raised_by: Annotated[
        str,
        typer.Option(
            "--raised-by", help="The department's id (e.g. xz_amr) or the credit platform's source id."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="What is disputed and why (异议理由).")],
    record_id: Annotated[
        int | None, typer.Option("--record", min=1, help="The record's id (or give --type and --key).")
    ] = None,
    record_type: Annotated[
        str | None, typer.Option("--type", help="The record type, e.g. admin_penalty (with --key).")
    ] = None,
    natural_key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The record's natural key as stored: its key fields joined by |, e.g. "
            "11140900MB1950016E|忻市监罚〔2026〕101号 (with --type).",
        ),
    ] = None,
    raised_on: Annotated[
        str | None,
        typer.Option(
            "--on",
            metavar="YYYY-MM-DD",
            help="The day the objection was received; the deadline counts from it (default: today).",
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who enters it, kept with the event (default: --raised-by).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Raise an objection against a record (by --record, or --type and --key) and hold the record back
    from the hub. Only active records and records waiting for their entity can be objected to."""
    from gateway.credit.objections.service import ObjectionError, raise_objection

    try:
        raised = raise_objection(
            _settings(),
            channel=channel,
            raised_by=raised_by,
            reason=reason,
            record_id=record_id,
            record_type=record_type,
            natural_key=natural_key,
            raised_on=_day(raised_on, "--on"),
            actor=by,
        )
    except ObjectionError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(asdict(raised), ensure_ascii=False, default=str, indent=2))
        return
    console.print(
        f"异议 {raised.objection_id}：记录 {raised.record_id}（{raised.record_type} "
        f"{_text(raised.natural_key)}，第 {raised.record_version} 版）{_HOLDS[raised.hold]}；"
        f"答复期限 {raised.deadline.isoformat()}"
    )


@app.command("resolve")
def resolve(
    objection_id: ObjectionId,
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome",
            help="corrected (已更正: the source has re-sent the corrected record), upheld (维持: the "
            "record stands) or unconfirmed (不能确认: needs --note).",
        ),
    ],
    by: Annotated[str, typer.Option("--by", help="Who decides (a name or account), kept with the event.")],
    note: Annotated[
        str | None, typer.Option("--note", help="What was checked and found (required for unconfirmed).")
    ] = None,
) -> None:
    """Resolve an open objection; the record's held versions go to the hub with the next batch unless
    another open objection still holds it."""
    from gateway.credit.objections.service import ObjectionError
    from gateway.credit.objections.service import resolve as resolving
    from gateway.credit.objections.states import STATE_LABELS

    try:
        done = resolving(_settings(), objection_id, outcome, by, note=note)
    except ObjectionError as exc:
        _fail(str(exc))
    corrected = f"（更正为第 {done.corrected_version} 版）" if done.corrected_version else ""
    hold = "记录恢复报送" if done.held_by is None else f"记录仍因异议 {done.held_by} 暂停报送"
    console.print(f"异议 {objection_id}：{STATE_LABELS[done.state]}{corrected}；{hold}（{escape(by)}）")


@app.command("list")
def list_(
    state: Annotated[
        str | None,
        typer.Option("--state", help="Only in this state: open, corrected, upheld, unconfirmed, lapsed."),
    ] = None,
    uscc: Annotated[
        str | None, typer.Option("--entity", metavar="USCC", help="Only against this entity's records.")
    ] = None,
    record_type: Annotated[str | None, typer.Option("--type", help="Only against this record type.")] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only from department or credit_platform.")
    ] = None,
    raised_by: Annotated[
        str | None, typer.Option("--raised-by", help="Only raised by this department or source id.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 200,
    as_json: Json = False,
) -> None:
    """List objections, newest first."""
    from gateway.credit.json_values import jsonable
    from gateway.credit.objections.queries import Filters, list_objections
    from gateway.credit.objections.states import STATE_LABELS
    from gateway.store.db import engine_for

    try:
        filters = Filters(
            state=state, uscc=uscc, record_type=record_type, channel=channel, raised_by=raised_by
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with engine_for(_settings().database_url).connect() as conn:
        rows = list_objections(conn, filters, limit=limit)
    if as_json:
        print(json.dumps(jsonable(rows), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"异议 {len(rows)} 件")
    for column in ("编号", "状态", "记录", "类型", "主键", "主体", "提出方", "提出日", "期限"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            STATE_LABELS.get(row["state"], row["state"]),
            str(row["record_id"]),
            row["record_type"],
            _text(row["natural_key"]),
            escape(row["entity_name"] or ""),
            escape(row["raised_by"]),
            row["raised_on"].isoformat(),
            row["deadline"].isoformat(),
        )
    console.print(table)


@app.command("show")
def show(objection_id: ObjectionId, as_json: Json = False) -> None:
    """One objection: its record, reason, deadline, outcome, whether the record is held, and every step."""
    from gateway.credit.json_values import jsonable
    from gateway.credit.objections.queries import get_objection
    from gateway.credit.objections.states import ACTION_LABELS, CHANNEL_LABELS, STATE_LABELS
    from gateway.local_times import shown
    from gateway.store.db import engine_for

    settings = _settings()
    with engine_for(settings.database_url).connect() as conn:
        found = get_objection(conn, objection_id)
    if found is None:
        _fail(f"没有编号为 {objection_id} 的异议 (no objection {objection_id})")
    if as_json:
        print(json.dumps(jsonable(found), ensure_ascii=False, indent=2))
        return
    entity = (
        f"{found['entity_name']}（{found['uscc'] or '无统一社会信用代码'}）" if found["entity_name"] else "—"
    )
    outcome = STATE_LABELS.get(found["state"], found["state"])
    if found["corrected_version"]:
        outcome += f"（更正为第 {found['corrected_version']} 版）"
    hold = f"暂停报送中（异议 {found['hold_reference']}）" if found["hold_reference"] else "正常报送"
    head = Table(show_header=False, title=f"异议 {objection_id}")
    for name, value in (
        ("记录", f"{found['record_id']} {found['record_type']} {found['natural_key']}"),
        ("异议针对的版本 / 当前版本", f"第 {found['record_version']} 版 / 第 {found['current_version']} 版"),
        ("主体", entity),
        ("提出方", f"{found['raised_by']}（{CHANNEL_LABELS.get(found['channel'], found['channel'])}）"),
        ("理由", found["reason"]),
        ("提出日 / 答复期限", f"{found['raised_on'].isoformat()} / {found['deadline'].isoformat()}"),
        ("状态", outcome),
        ("说明", found["note"] or ""),
        ("记录报送", hold),
    ):
        head.add_row(name, _text(str(value)))
    console.print(head)
    events = Table(title="处理记录 history")
    for column in ("时间", "操作人", "操作", "详情"):
        events.add_column(column)
    for e in found["events"]:
        events.add_row(
            shown(settings, e["at"]),
            escape(e["actor"]),
            ACTION_LABELS.get(e["action"], e["action"]),
            _text(_describe(e["detail"])),
        )
    console.print(events)


@app.command("lapse")
def lapse(
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            metavar="YYYY-MM-DD",
            help="Lapse the open objections whose deadline is before this day (default: today).",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """The daily run: open objections past their deadline lapse (逾期) and their records' holds are
    lifted. Safe to repeat: an objection lapses once."""
    from gateway.credit.objections.service import lapse_overdue

    report = lapse_overdue(_settings(), _day(today, "--today"))
    if as_json:
        lapsed = [
            {"objection_id": r.objection_id, "record_id": r.record_id, "held_by": r.held_by}
            for r in report.lapsed
        ]
        print(json.dumps({"today": report.today.isoformat(), "lapsed": lapsed}, ensure_ascii=False, indent=2))
        return
    console.print(f"{report.today.isoformat()}：逾期 {len(report.lapsed)} 件")
    for r in report.lapsed:
        kept = f"，记录仍因异议 {r.held_by} 暂停报送" if r.held_by is not None else "，记录恢复报送"
        console.print(f"  异议 {r.objection_id}（记录 {r.record_id}）{kept}")
