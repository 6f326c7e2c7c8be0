"""`gateway deliveries`: the delivery batches, the dead letters and the hub's refusals, for engineers.

Mounted by gateway/cli.py; every command reads the same GATEWAY_* settings as the rest of the CLI.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.delivery import admin, states
from gateway.settings import Settings

app = typer.Typer(
    help="Delivery batches: their states, dead letters, and the records the hub refused.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True)


def _short(text: object, width: int = 80) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= width else value[: width - 1] + "…"


@app.command("list")
def list_command(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", "-s", help=f"Only batches in this state (repeatable): {', '.join(states.ALL)}."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many batches (newest first).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Batches with their state, attempts and last error, then the records the hub refused in them."""
    wanted = list(status or [])
    unknown = sorted(set(wanted) - set(states.ALL))
    if unknown:
        raise typer.BadParameter(
            f"unknown state {unknown}; one of {', '.join(states.ALL)}", param_hint="--status"
        )
    settings = Settings.from_env()
    batches = admin.list_batches(settings, wanted, limit)
    refusals = admin.hub_refusals(settings, [str(b["batch_id"]) for b in batches])
    totals = admin.counts(settings)
    if as_json:
        out = {"counts": totals, "batches": batches, "hub_refusals": refusals}
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    table = Table("batch", "seq", "type", "records", "status", "attempts", "next attempt", "last error")
    for b in batches:
        colour = {"acknowledged": "green", "dead": "red", "rejected": "yellow"}.get(str(b["status"]), "cyan")
        table.add_row(
            str(b["batch_id"]),
            str(b["seq"]),
            str(b["record_type"]),
            str(b["records"]) + (f" ({b['hub_rejected']} refused)" if b["hub_rejected"] else ""),
            f"[{colour}]{b['status']}[/]",
            str(b["attempts"]),
            str(b["next_attempt_at"] or ""),
            _short(b["last_error"]),
        )
    console.print(table)
    console.print(", ".join(f"{k}: {v}" for k, v in totals.items()))
    if refusals:
        shown = Table("batch", "file", "row", "key", "code", "hub's message", title="records the hub refused")
        for r in refusals:
            shown.add_row(
                str(r["batch_id"]),
                f"{r['source_id']}/{r['file_name']}",
                str(r["source_row"]),
                _short(r["natural_key"], 40),
                str(r["hub_code"]),
                _short(r["hub_message"], 60),
            )
        console.print(shown)
    if totals[states.DEAD]:
        console.print(
            f"[red]{totals[states.DEAD]} dead batches[/]: fix the cause (see last error), then "
            "`gateway deliveries retry BATCH_ID` or `--all-dead`"
        )


@app.command("retry")
def retry_command(
    batch_id: Annotated[str | None, typer.Argument(help="The batch to retry.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Retry every dead batch.")] = False,
) -> None:
    """Bring a dead batch back (delivered on the next run), or resend a refused batch's other records."""
    if (batch_id is None) == (not all_dead):
        raise typer.BadParameter("give either a BATCH_ID or --all-dead")
    settings = Settings.from_env()
    try:
        done = admin.retry_all_dead(settings) if all_dead else [admin.retry(settings, str(batch_id))]
    except admin.RetryError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    for item in done:
        if item.previous == states.DEAD:
            console.print(
                f"{item.batch_id}: dead → {item.status}; delivered on the next run (or `gateway deliver`)"
            )
        else:
            console.print(
                f"{item.batch_id}: refused by the hub; {item.requeued} of its records (not those the hub "
                "named) are back in the outbox for a new batch"
            )
    if not done:
        console.print("no dead batches")
