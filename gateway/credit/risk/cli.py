"""`gateway credit`: classify a month, explain an entity's class, list the runs, check the model.

Internal: the class is a basis for allocating supervision, not a public rating (docs/credit.md). This CLI is
for platform engineers on the gateway's host; nothing it prints belongs in a public output.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from gateway.settings import Settings

app = typer.Typer(
    help="信用风险分类 credit risk classes (A 低 / B 一般 / C 较高 / D 高): internal, never published.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True)


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"a day is written YYYY-MM-DD, not {value!r}", param_hint="--as-of") from exc


@app.command("classify")
def classify_command(
    period: Annotated[
        str | None, typer.Option(help="The month classified, YYYY-MM (default: this month).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Count ages and windows back from this day (default: the month's last day, or today).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Classify every entity in scope with the model in GATEWAY_CREDIT_DIR and keep the run."""
    from gateway.credit.risk.model import ModelError
    from gateway.credit.risk.service import run

    try:
        report = run(Settings.from_env(), period, _as_of(as_of), actor="cli")
    except (ModelError, ValueError) as exc:
        console.print(f"[red]cannot classify:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        body = {**report.__dict__, "as_of": report.as_of.isoformat()}
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(
        "class", "entities", title=f"信用风险分类 {report.period} (run {report.run_id}, as of {report.as_of})"
    )
    for cls, n in report.counts.items():
        table.add_row(cls, str(n))
    console.print(table)
    console.print(f"model {report.model}; {report.entities} entities in {report.seconds} s")
    console.print(f"moved since the previous run: {report.moved()} {report.moves or ''}")
    console.print(f"forced by a veto: {report.vetoed}")
    if report.undated:
        console.print(
            f"[yellow]records with an unreadable date (counted at full weight or, for expiry, not "
            f"counted):[/yellow] {report.undated}"
        )


@app.command("show")
def show_command(
    code: Annotated[str, typer.Argument(help="USCC, legacy registration number or organisation code.")],
    months: Annotated[int, typer.Option(help="How many months of history.")] = 3,
) -> None:
    """An entity's class per month, the score per dimension and the records behind each point."""
    from gateway.credit.risk.service import history, model_for
    from gateway.entity_view import show
    from gateway.store.db import engine_for
    from gateway.store.tables import record

    settings = Settings.from_env()
    view = show(settings, code)
    if view is None:
        console.print(f"[red]no entity with the code {code}[/red]")
        raise typer.Exit(1)
    model = model_for(settings)
    labels = {i.id: i.label for i in model.indicators} | {
        f"veto:{v.id}": f"否决：{v.label}" for v in model.vetoes
    }
    dimensions = {d.id: d.label for d in model.dimensions}  # a dimension the model no longer has shows its id
    with engine_for(settings.database_url).connect() as conn:
        rows = history(conn, view.id)[:months]
        ids = {record_id for row in rows for _, record_id, _ in row.evidence}
        found = conn.execute(
            select(record.c.id, record.c.record_type, record.c.natural_key).where(record.c.id.in_(ids))
        ).all()
    keys = {record_id: f"{record_type} {natural_key}" for record_id, record_type, natural_key in found}
    console.print(
        f"{view.name} ({view.uscc or view.reg_no or view.org_code}) — internal, not for publication"
    )
    if not rows:
        console.print("not classified yet (out of scope, or no run since it was registered)")
        return
    for row in rows:
        veto = f", veto {row.veto} (score alone: {row.score_class})" if row.veto else ""
        console.print(f"\n[bold]{row.period}[/bold]: class {row.cls}, score {row.score}{veto}")
        console.print("  " + ", ".join(f"{dimensions.get(d, d)} {s}" for d, s in row.dimensions.items()))
        table = Table("indicator", "record", "points")
        for indicator, record_id, points in row.evidence:
            table.add_row(
                labels.get(indicator, indicator),
                keys.get(record_id, f"#{record_id}"),
                f"-{points}" if points else "→ class",
            )
        if row.evidence:
            console.print(table)


def _pairs(stored: str | None) -> str:
    """A run's JSON counts ({"A": 15, ...}) or moves ({"B->C": 3, ...}) as one short line."""
    return " · ".join(f"{key} {n}" for key, n in json.loads(stored or "{}").items())


@app.command("runs")
def runs_command(limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 12) -> None:
    """The classification runs: month, model, entities per class, moves against the run before."""
    from gateway.credit.risk.tables import credit_model, credit_run
    from gateway.store.db import engine_for

    settings = Settings.from_env()
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            select(credit_run, credit_model.c.model_id, credit_model.c.version)
            .join(credit_model, credit_model.c.sha256 == credit_run.c.model_sha256)
            .order_by(credit_run.c.id.desc())
            .limit(limit)
        ).all()
    table = Table("run", "period", "as of", "status", "model", "entities", "classes", "moves")
    for r in rows:
        table.add_row(
            str(r.id),
            r.period,
            str(r.as_of),
            r.status,
            f"{r.model_id} {r.version}",
            str(r.entities),
            _pairs(r.counts),
            _pairs(r.moves) or "none",
        )
    console.print(table)


@app.command("model")
def model_command() -> None:
    """Load and check the model (GATEWAY_CREDIT_DIR/risk_model.yaml) and print its dimensions and rules."""
    from gateway.credit.risk.model import ModelError
    from gateway.credit.risk.service import model_for

    settings = Settings.from_env()
    try:
        model = model_for(settings)
    except ModelError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{model.label} — {model.id} {model.version} (sha256 {model.sha256[:16]}…)")
    console.print(f"scope: USCC starting {', '.join(model.uscc_prefixes)}")
    console.print("classes: " + ", ".join(f"{c.cls} ≥ {c.min:g}" for c in model.classes))
    table = Table("dimension", "indicator", "record type", "points", "cap", "window", "half-life")
    for i in model.indicators:
        table.add_row(
            model.dimension(i.dimension).label,
            i.label,
            i.record_type,
            f"{i.points:g}",
            f"{i.cap:g}",
            f"{i.window_days} d" if i.window_days else "",
            f"{i.half_life_days:g} d" if i.half_life_days else "",
        )
    console.print(table)
    console.print("vetoes: " + "; ".join(f"{v.label} → at least {v.cls}" for v in model.vetoes))
