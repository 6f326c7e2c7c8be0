"""`gateway credit draws …`: the double-random draws (双随机、一公开) by hand; the double_random DAGs make
the same calls. docs/double-random.md.

The output of ``run`` and ``show`` includes each object's risk class (stratum): it is for the supervising
departments, not for publication.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.settings import Settings

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
app = typer.Typer(
    help=(
        "双随机抽查 double-random draws.\n\n"
        "双随机、一公开：导入抽查事项清单和执法检查人员名录库，建立抽查计划和任务，按信用风险分类随机抽取检查对象"
        "和执法检查人员（可复核、已签名），跟踪抽查结果的公示期限。"
    ),
    no_args_is_help=True,
)
plan_app = typer.Typer(help="抽查计划。", no_args_is_help=True)
task_app = typer.Typer(help="抽查任务。", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(task_app, name="task")


def _fail(message: str) -> None:
    console.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(1)


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, ensure_ascii=False, default=str))


def _load(kind: str, path: Path, as_json: bool) -> None:
    from gateway.credit.draws.lists import ListError, load_file

    try:
        report = load_file(Settings.from_env(), kind, path)
    except ListError as exc:
        _fail(str(exc))
        return
    if as_json:
        _print_json(report.as_dict())
        return
    what = "抽查事项" if kind == "items" else "执法检查人员"
    console.print(
        f"已导入 {escape(path.name)}：{what} {report.rows} 条；"
        f"新增 {len(report.added)}，变更 {len(report.changed)}，删除 {len(report.removed)}"
    )
    for label, codes in (("新增", report.added), ("变更", report.changed), ("删除", report.removed)):
        if codes:
            console.print(f"  {label}：{escape('、'.join(codes))}")


@app.command("load-items")
def load_items(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="抽查事项清单（csv/xlsx）。")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Replace the inspection-item list (抽查事项清单) with FILE's: columns 事项编码, 事项名称, 事项类别
    (重点/一般), 实施部门, optional 所需资质; other columns are kept as detail. Reports what was added,
    changed and removed; a file with any bad row loads nothing (exit 1, every problem listed)."""
    _load("items", file, as_json)


@app.command("load-inspectors")
def load_inspectors(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="执法检查人员名录（csv/xlsx）。")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Replace the inspector list (执法检查人员名录库) with FILE's: columns 人员编码, 姓名, 所属部门, 是否在岗
    (是/否), optional 执法资质 and 回避企业 (USCCs the person must not inspect, separated by ；or 、)."""
    _load("inspectors", file, as_json)


@plan_app.command("add")
def plan_add(
    plan_id: Annotated[str, typer.Option("--id", help="计划编号。")],
    name: Annotated[str, typer.Option("--name", help="计划名称。")],
    year: Annotated[int, typer.Option("--year", help="计划年度：同一年度内同一对象不重复抽取。")],
    department: Annotated[str, typer.Option("--department", help="制定计划的部门。")],
) -> None:
    """Add a plan (抽查计划)."""
    from gateway.credit.draws.algorithm import DrawError
    from gateway.credit.draws.plans import add_plan
    from gateway.store.db import engine_for

    try:
        with engine_for(Settings.from_env().database_url).begin() as conn:
            add_plan(conn, plan_id, name, year, department)
    except DrawError as exc:
        _fail(str(exc))
    console.print(f"已建立抽查计划 {escape(plan_id)}（{year} 年度）")


def _filters(values: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not rest.strip():
            raise typer.BadParameter(f"{value!r}: 应为 条件=取值，例如 area=140902 或 type=有限责任公司")
        out.setdefault(name.strip(), []).extend(v for v in rest.split(",") if v.strip())
    return out


@task_app.command("add")
def task_add(
    task_id: Annotated[str, typer.Option("--id", help="任务编号。")],
    plan_id: Annotated[str, typer.Option("--plan", help="所属计划编号。")],
    items: Annotated[str, typer.Option("--items", help="抽查事项编码，逗号分隔；多个部门的事项即联合抽查。")],
    end_date: Annotated[str, typer.Option("--end-date", metavar="YYYY-MM-DD", help="检查结束日期。")],
    name: Annotated[str, typer.Option("--name", help="任务名称。")] = "",
    mode: Annotated[str, typer.Option("--mode", help="定向 或 不定向。")] = "不定向",
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="定向条件，可重复：type=主体类型关键词，area=行政区划代码（前缀）。"),
    ] = None,
    allow_repeat: Annotated[
        bool, typer.Option("--allow-repeat", help="允许抽取本年度已被其他任务抽中的对象。")
    ] = False,
) -> None:
    """Add a task (抽查任务) to a plan: its items, 定向 (with filters) or 不定向, and the day inspections end
    (results are due 20 working days later). Industry and scale filters are refused: the store has neither."""
    from gateway.credit.draws.algorithm import DrawError
    from gateway.credit.draws.plans import add_task
    from gateway.store.db import engine_for

    try:
        day = date.fromisoformat(end_date)
    except ValueError:
        raise typer.BadParameter(f"{end_date!r} 不是 YYYY-MM-DD 日期", param_hint="--end-date") from None
    try:
        with engine_for(Settings.from_env().database_url).begin() as conn:
            departments = add_task(
                conn,
                task_id,
                plan_id,
                name,
                items.split(","),
                mode,
                day,
                _filters(filters or []),
                allow_repeat=allow_repeat,
            )
    except DrawError as exc:
        _fail(str(exc))
        return
    joint = "（联合抽查）" if len(departments) > 1 else ""
    console.print(f"已建立抽查任务 {escape(task_id)}{joint}：实施部门 {escape('、'.join(departments))}")


def _print_draw(record: dict[str, Any]) -> None:
    counts = Table(title=f"任务 {record['task']['id']} 各类别抽取数")
    for column in ("类别", "范围内", "候选", "按比例", "补足下限", "抽中"):
        counts.add_column(column, justify="right")
    for name, c in sorted(record["counts"].items()):
        counts.add_row(
            name,
            str(c["scope"]),
            str(c["eligible"]),
            str(c["quota"]),
            str(c["topup"]),
            str(c["quota"] + c["topup"]),
        )
    console.print(counts)
    pop = record["population"]
    console.print(
        f"范围 {pop['scope_size']} 户，本年度已抽 {pop['drawn_earlier_this_year']} 户不再抽，"
        f"候选 {pop['size']} 户；"
        f"总体下限 {record['floor_total']} 户；种子 {record['seed']}；随机数 {escape(record['nonce'])}"
    )
    names = record["inspector_names"]
    objects = Table(title="抽中的检查对象与执法检查人员")
    for column in ("统一社会信用代码", "名称", "类别", "执法检查人员"):
        objects.add_column(column)
    for obj in record["drawn"]:
        people = "、".join(f"{names.get(code, '')}({code})" for code in obj["inspectors"])
        objects.add_row(obj["uscc"], escape(obj["name"]), obj["stratum"], escape(people))
    console.print(objects)


@app.command("run")
def run(
    task_id: Annotated[str, typer.Argument(help="任务编号。")],
    nonce: Annotated[
        str,
        typer.Option("--nonce", help="见证随机数：抽取时由见证人给出（如公开摇号的号码），写入签名记录。"),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole signed record.")] = False,
) -> None:
    """Draw TASK once: objects by risk class with the configured ratios (and the 3 % floor), never one
    drawn earlier this year unless the task allows it; then inspectors per object with conflicts removed
    first. The record is signed with the gateway's key and stored; prints the counts and the drawn list."""
    from gateway.credit.calendar import CalendarError
    from gateway.credit.draws.algorithm import DrawError
    from gateway.credit.draws.service import run_draw
    from gateway.transfer.errors import TransferError

    try:
        result = run_draw(Settings.from_env(), task_id, nonce)
    except (DrawError, CalendarError, TransferError) as exc:
        _fail(str(exc))
        return
    if as_json:
        _print_json(result.record)
        return
    _print_draw(result.record)


@app.command("verify")
def verify(
    task_id: Annotated[str, typer.Argument(help="任务编号。")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Verify TASK's draw from its stored record alone: signature, frozen population hash, seed, the draw
    re-run, the inspectors, and the drawn-object table. Exit 0 when it holds, 1 with the reason when not."""
    from gateway.credit.draws.service import verify_draw

    result = verify_draw(Settings.from_env(), task_id)
    if as_json:
        _print_json(result.as_dict())
    elif result.ok:
        console.print(f"[green]{escape(result.reason)}[/green]")
    else:
        console.print(f"[red]拒绝：{escape(result.reason)}[/red]")
    if not result.ok:
        raise typer.Exit(1)


@app.command("show")
def show(
    task_id: Annotated[str, typer.Argument(help="任务编号。")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole signed record.")] = False,
) -> None:
    """Show TASK: its plan, items and state, and, once drawn, the counts and the drawn objects."""
    from gateway.credit.draws.algorithm import DrawError
    from gateway.credit.draws.plans import get_task
    from gateway.credit.draws.service import stored_record
    from gateway.store.db import engine_for

    try:
        with engine_for(Settings.from_env().database_url).connect() as conn:
            task = get_task(conn, task_id)
            record = stored_record(conn, task_id)
    except DrawError as exc:
        _fail(str(exc))
        return
    if as_json:
        _print_json({"plan": task.plan_dict(), "task": task.as_dict(), "items": task.items, "record": record})
        return
    console.print(
        f"任务 {escape(task.task_id)} {escape(task.name)}（计划 {escape(task.plan_id)}，{task.year} 年度）："
        f"{task.mode}，事项 {escape('、'.join(task.items))}，部门 {escape('、'.join(task.departments))}，"
        f"检查结束 {task.end_date}，{'已抽取' if record else '未抽取'}"
    )
    if task.filters:
        console.print(f"定向条件：{escape(json.dumps(task.filters, ensure_ascii=False))}")
    if record:
        _print_draw(record)


@app.command("results")
def results(
    task_id: Annotated[str | None, typer.Argument(help="任务编号；省略则列出所有已抽取的任务。")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Results per drawn task: drawn, results in (spot_check records of the task), pending and overdue
    (no result 20 working days after the end date). With TASK, the overdue objects too. Exit 1 if any
    object is overdue."""
    from gateway.credit.draws.algorithm import DrawError
    from gateway.credit.draws.results import results_report

    try:
        report = results_report(Settings.from_env(), [task_id] if task_id else None)
    except DrawError as exc:
        _fail(str(exc))
        return
    if as_json:
        _print_json([r.as_dict(objects=task_id is not None) for r in report])
    else:
        table = Table(title="抽查结果公示")
        for column in ("任务", "检查结束", "公示期限", "抽中", "已有结果", "待公示", "逾期"):
            table.add_column(column)
        for r in report:
            overdue = f"[red]{r.overdue}[/red]" if r.overdue else "0"
            deadline = str(r.deadline) if r.deadline else "[yellow]未知[/yellow]"
            table.add_row(
                r.task_id, str(r.end_date), deadline, str(r.drawn), str(r.results_in), str(r.pending), overdue
            )
        console.print(table)
        for r in report:
            if r.problem:
                console.print(f"[yellow]{escape(r.task_id)}：{escape(r.problem)}[/yellow]")
            if task_id:
                for obj in r.objects:
                    if obj["overdue"]:
                        console.print(f"[red]逾期[/red] {obj['uscc']} {escape(obj['name'])}")
    if any(r.overdue for r in report):
        raise typer.Exit(1)


__all__ = ["app"]
