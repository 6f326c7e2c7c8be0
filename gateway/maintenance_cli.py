"""`gateway maintenance`: the retention jobs and the daily summary, by hand (the gateway_maintenance DAG runs
the same calls every night).

Mounted by gateway/cli.py; every command reads the same GATEWAY_* settings as the rest of the CLI, so the
retentions are the ones the DAG uses (docs/operations.md, "Retention and maintenance").
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.maintenance import JOBS, daily_summary, run_all, summary_text
from gateway.settings import Settings

app = typer.Typer(
    help="Retention (landing data, outbox plaintext, receipt archives, audit rows), vacuum, daily summary.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True)


@app.command("run")
def run_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; change nothing.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", metavar="JOB", help=f"Run only this job (repeatable): {', '.join(JOBS)}."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Run the maintenance jobs (all of them, in order, unless --only) and report what each removed."""
    wanted = list(only or [])
    unknown = sorted(set(wanted) - set(JOBS))
    if unknown:
        raise typer.BadParameter(f"unknown job {unknown}; one of {', '.join(JOBS)}", param_hint="--only")
    reports = run_all(Settings.from_env(), wanted, dry_run=dry_run)
    if as_json:
        sys.stdout.write(json.dumps([r.as_dict() for r in reports], ensure_ascii=False, indent=2) + "\n")
        return
    title = "维护（演练，未删除任何内容） maintenance, dry run" if dry_run else "维护 maintenance"
    table = Table("job", "files", "bytes", "rows", "detail", title=title)
    for report in reports:
        detail = ", ".join(f"{k} {v}" for k, v in sorted({**report.detail, **report.cutoffs}.items()))
        table.add_row(report.job, str(report.files), str(report.bytes), str(report.rows), detail)
    console.print(table)


@app.command("summary")
def summary_command(
    hours: Annotated[float, typer.Option(help="The period summarised: this many hours up to now.")] = 24.0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What the gateway received, stored and delivered in the last day, and what waits now."""
    from datetime import timedelta

    summary = daily_summary(Settings.from_env(), period=timedelta(hours=hours))
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    sys.stdout.write(summary_text(summary))
