"""`gateway replay`: process units again from the landing area with today's mappings and schemas (after a
mapping fix, or when a department asks), by hand; the gateway_replay DAG makes the same calls.

Registered as a command by gateway/cli.py. A filter is required — a source, a unit, a date range — so that
a slip of the keyboard never replays everything; ``--all`` says it on purpose. ``--dry-run`` lists what
would be replayed and changes nothing (docs/operations.md, "Replaying from the landing area").
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.cli_progress import progress_bars
from gateway.settings import Settings

# Pipes and CI logs get a wide console: Chinese cells truncated at 80 columns help nobody.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def _day(value: str | None, option: str) -> date | None:
    from gateway.replay import ReplayError, parse_day

    if value is None:
        return None
    try:
        return parse_day(value, option)
    except ReplayError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def replay(
    source: Annotated[
        str | None, typer.Option("--source", help="Only units of this department or pulled source.")
    ] = None,
    unit: Annotated[
        int | None, typer.Option("--unit", min=1, help="Only this unit (an id of `source_file`).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="YYYY-MM-DD", help="Units received on this local day or later."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="YYYY-MM-DD", help="Units received on this local day or earlier."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Replay every unit still in the landing area (no filter).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the units that would be replayed; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Replay processed units from the landing area, oldest first, each in one transaction: one line per
    unit with the original unit, its file, its rows and what the replay stored (new, updated, unchanged,
    rejected). Unchanged data stores nothing. Exit status 1 when a unit could not be replayed."""
    from gateway.replay import ReplayError, replay_summary, replay_unit, replayable, select_units

    first, last = _day(since, "--since"), _day(until, "--until")
    if not every and source is None and unit is None and first is None and last is None:
        raise typer.BadParameter(
            "give --source, --unit, --since or --until (or --all to replay every unit still landed)"
        )
    settings = Settings.from_env()
    try:
        units = select_units(settings, source_id=source, unit_id=unit, since=first, until=last)
    except ReplayError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not units:
        why = "no processed unit with its landed rows matches the filter"
        if unit is not None:
            try:
                replayable(settings, unit)
            except ReplayError as exc:  # say why the unit asked for is not replayable
                why = str(exc)
        console.print(escape(why))
        raise typer.Exit(1)
    if dry_run:
        _print_selection([u.as_dict(settings) for u in units], as_json)
        return
    done: list[dict[str, Any]] = []
    failed: list[str] = []
    with progress_bars() as bars:
        for ref in units:
            try:
                with bars.phase(f"重放 {ref.label}"):
                    done.append(replay_summary(ref.id, replay_unit(settings, ref.id)))
            except ReplayError as exc:
                failed.append(str(exc))
    _print_replays(done, failed, as_json)
    if failed:
        raise typer.Exit(1)


def _print_selection(units: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"dry_run": True, "units": units}, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(
        "unit", "received", "source", "kind", "file", "status", "rows", title="would replay (dry run)"
    )
    for item in units:
        table.add_row(
            str(item["unit"]),
            item["received_at"],
            escape(item["source"]),
            item["kind"],
            escape(_file(item)),
            item["status"],
            str(item["rows"]),
        )
    console.print(table)
    console.print(f"{len(units)} units would be replayed; nothing was changed")


def _print_replays(done: list[dict[str, Any]], failed: list[str], as_json: bool) -> None:
    if as_json:
        out = {"replays": done, "errors": failed}
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
        return
    columns = ("unit", "replay", "file", "rows", "new", "updated", "unchanged", "rejected", "status")
    table = Table(*columns, title="replayed")
    for item in done:
        table.add_row(
            str(item["unit"]),
            str(item["replay"]),
            escape(f"{item['source']}/{_file(item)}"),
            str(item["rows"]),
            str(item["new"]),
            str(item["updated"]),
            str(item["unchanged"]),
            str(item["rejected"]),
            item["status"] + (f": {escape(item['error'])}" if item["error"] else ""),
        )
    console.print(table)
    stored = sum(item["new"] + item["updated"] + item["withdrawn"] for item in done)
    console.print(f"{len(done)} units replayed; {stored} new versions for the province")
    for message in failed:
        console.print(f"[red]{escape(message)}[/red]")


def _file(item: dict[str, Any]) -> str:
    return item["file"] + (f"「{item['part']}」" if item["part"] else "")
