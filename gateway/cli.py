"""`gateway`: the command line for platform engineers and departments.

Every command works on the embedded defaults (var/ in the repository) unless GATEWAY_* variables say
otherwise; see `gateway --help` and docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.cli_progress import progress_bars
from gateway.credit.cli import app as credit_app
from gateway.credit.lookup.cli import app as lookup_app
from gateway.deliveries_cli import app as deliveries_app
from gateway.ids.cli import app as ids_app
from gateway.keys_cli import app as keys_app
from gateway.maintenance_cli import app as maintenance_app
from gateway.replay_cli import replay as replay_command
from gateway.settings import Settings

app = typer.Typer(
    help="忻州 互联网+监管 数据交换网关 — supervision data-exchange gateway.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(
    help="The gateway database (SQLite by default, PostgreSQL via GATEWAY_DATABASE_URL).",
    no_args_is_help=True,
)
queue_app = typer.Typer(help="Records waiting for an entity (the resolution queue).", no_args_is_help=True)
entity_app = typer.Typer(help="The entity registry.", no_args_is_help=True)
app.add_typer(ids_app, name="ids")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(queue_app, name="queue")
app.add_typer(entity_app, name="entity")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(credit_app, name="credit")
app.add_typer(lookup_app, name="lookup")
app.command("replay")(replay_command)
# Pipes and CI logs get a wide console: Chinese cells truncated at 80 columns help nobody.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
CHECK_LIMIT = 30
"""Rejected rows `gateway check --text` lists unless --limit says otherwise."""


def _settings() -> Settings:
    return Settings.from_env()


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the gateway database to the newest schema."""
    from gateway.store.db import describe, migrate

    settings = _settings()
    with progress_bars() as bars, bars.phase("迁移数据库"):
        revision = migrate(settings.database_url)
    console.print(f"database {describe(settings.database_url)} is at revision {revision}")


@db_app.command("status")
def db_status() -> None:
    """Show the schema revision and what the database holds."""
    from gateway.status import collect
    from gateway.store.db import current_revision, describe, head_revision

    settings = _settings()
    console.print(f"database: {describe(settings.database_url)}")
    console.print(f"revision: {current_revision(settings.database_url)} (newest {head_revision()})")
    with progress_bars() as bars, bars.phase("统计数据库内容"):
        data = collect(settings)
    console.print_json(json.dumps(data, ensure_ascii=False))


CheckOutput = Literal["text", "json", "receipt"]


def _check_output(text: bool, as_json: bool, receipt: bool) -> CheckOutput:
    """Which form `gateway check` prints: the one flag given, else the readable view on a terminal and the
    JSON receipt anywhere else — so scripts and pipes get exactly what they always got."""
    given: list[CheckOutput] = [
        form for form, flag in (("text", text), ("json", as_json), ("receipt", receipt)) if flag
    ]
    if len(given) > 1:
        raise typer.BadParameter("give at most one of --text, --json and --receipt")
    if given:
        return given[0]
    return "text" if sys.stdout.isatty() else "json"


@app.command("check")
def check(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="Export file: CSV, XLSX, XLS, ODS, XML or JSON."
        ),
    ],
    source: Annotated[
        str | None, typer.Option("--source", help="Use this mapping id (see `gateway mappings`).")
    ] = None,
    department: Annotated[
        str, typer.Option(help="Inbox (department id) the file would be dropped in.")
    ] = "check",
    text: Annotated[
        bool,
        typer.Option(
            "--text", help="Readable, coloured view: a summary line, then the rejected rows as a table."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="The JSON receipt (the default when stdout is not a terminal).")
    ] = False,
    receipt_text: Annotated[
        bool,
        typer.Option("--receipt", help="The Chinese text receipt, exactly as the drop folder writes it."),
    ] = False,
    limit: Annotated[
        int, typer.Option(min=0, help="With --text: show at most this many rejected rows.")
    ] = CHECK_LIMIT,
) -> None:
    """Check a file exactly as the drop folder would, store nothing, and print the receipt.

    The national templates are recognised by their headers; --source selects a department's own mapping.
    On a terminal the readable view is printed, elsewhere the JSON receipt (as --json); a progress bar
    shows on stderr while a large file is read, only when stderr is a terminal.
    Exit status: 0 accepted, 1 partly accepted, 2 rejected."""
    from gateway.check_view import render as render_check
    from gateway.ids.resident_id import mask_in_text
    from gateway.ingest import ingest_file

    output = _check_output(text, as_json, receipt_text)
    with progress_bars() as bars, bars.phase(f"检查 {mask_in_text(file.name)}"):
        result = ingest_file(_settings(), file, department, mapping_id=source, dry_run=True)
    receipt = result.receipt
    if output == "text":
        render_check(receipt, console, limit=limit)
    elif output == "receipt":
        sys.stdout.write(receipt.to_text())
    else:
        sys.stdout.write(receipt.to_json().decode() + "\n")
    raise typer.Exit({"accepted": 0, "partial": 1}.get(receipt.status, 2))


@app.command("template")
def template(
    record_type: Annotated[
        str | None,
        typer.Argument(
            metavar="TYPE", help="Record type, e.g. admin_penalty (`gateway template --list` shows them)."
        ),
    ] = None,
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", dir_okay=False, help="Write the Excel template to this file.")
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--mapping",
            "--source",
            help="Take the headers from this mapping (a department's own export). Default: the national "
            "template of the type, or its only department mapping.",
        ),
    ] = None,
    notes_row: Annotated[
        bool,
        typer.Option(
            "--notes-row/--no-notes-row",
            help="Put a 填写说明 row under the header (skipped by the intake). Without it the notes are only "
            "in the header comments and the 填写说明 sheet.",
        ),
    ] = True,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    list_types: Annotated[
        bool,
        typer.Option("--list", help="List the record types a template can be made for, and their mappings."),
    ] = False,
) -> None:
    """Write an Excel template a department fills in: the headers its file must have, a notes row (required
    or not, the format, the standard's note), drop-down lists for code lists, and a 填写说明 sheet.

    A file filled in from the template is read by `gateway check` and the drop folder unchanged: the notes
    row, the 填写说明 sheet and the hidden 代码表 sheet are skipped and named in the receipt.

    Examples:

    \b
      gateway template --list
      gateway template admin_penalty --xlsx 行政处罚模板.xlsx
      gateway template inspection_action --mapping xz_inspection_actions --xlsx 检查记录模板.xlsx"""
    from gateway.template import TemplateError, write_template

    settings = _settings()
    if list_types:
        _list_templates(settings)
        return
    if record_type is None or xlsx is None:
        raise typer.BadParameter("give TYPE and --xlsx FILE (or --list)")
    if xlsx.exists() and not force:
        console.print(f"[red]{xlsx} already exists[/red]; use --force to overwrite it")
        raise typer.Exit(1)
    try:
        made = write_template(settings, record_type, xlsx, mapping_id=mapping, notes_row=notes_row)
    except TemplateError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from exc
    spec = made.mapping
    lists = sum(1 for column in made.columns if column.choices)
    console.print(
        f"wrote {escape(str(xlsx))}: {made.record_type.label} ({made.record_type.name}), mapping {spec.id}, "
        f"{len(made.columns)} columns, {lists} with drop-down lists"
    )
    drop = "any inbox" if spec.template else f"inbox {', '.join(spec.sources)}"
    hint = "" if spec.template else f" --source {spec.id}"
    console.print(f"filled in, it is read in {drop}; check it with `gateway check {escape(xlsx.name)}{hint}`")


def _list_templates(settings: Settings) -> None:
    from gateway.mapping.spec import load_mappings
    from gateway.schema import load_record_types
    from gateway.template import TemplateError, choose_mapping, file_mappings

    specs = load_mappings(settings.mappings_dir)
    table = Table("type", "label", "default mapping", "other mappings (--mapping)")
    pulled_only = []
    for name, rtype in load_record_types(settings.schemas_dir).items():
        usable = file_mappings(specs, name)
        if not usable:
            pulled_only.append(name)
            continue
        try:
            default = choose_mapping(specs, name).id
        except TemplateError:  # several department mappings and no national one: --mapping is required
            default = "— (give --mapping)"
        table.add_row(name, rtype.label, default, ", ".join(s.id for s in usable if s.id != default))
    console.print(table)
    if pulled_only:
        console.print(f"pulled from systems only, no template: {', '.join(pulled_only)}")


@app.command("mappings")
def mappings() -> None:
    """List the mappings (national templates and departments' own)."""
    from gateway.mapping.spec import load_mappings

    table = Table("id", "record type", "kind", "sources", "label")
    for spec in load_mappings(_settings().mappings_dir).values():
        table.add_row(
            spec.id,
            spec.record_type,
            "national template" if spec.template else "source",
            ", ".join(spec.sources),
            spec.label,
        )
    console.print(table)


@app.command("deliver")
def deliver() -> None:
    """Attach what the registry can now place, batch the outbox and deliver it to the hub (what the
    deliver_to_province DAG runs)."""
    from gateway.delivery.service import DeliveryFailed, deliver_all
    from gateway.outbound import settle_and_batch

    settings = _settings()
    try:
        with progress_bars() as bars:
            with bars.phase("关联主体并分批"):
                built = settle_and_batch(settings)
            totals = deliver_all(settings, built)
    except DeliveryFailed as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"built {len(built)} batches; {totals}")


@queue_app.command("list")
def queue_list(limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50) -> None:
    """Records that could not be attached to a market entity, oldest first."""
    from gateway.resolution_queue import waiting

    rows = waiting(_settings(), limit)
    table = Table("id", "record type", "natural key", "subject", "since", "reason")
    for item in rows:
        table.add_row(
            str(item.queue_id),
            item.record_type,
            item.natural_key,
            item.subject_name or "",
            item.since.isoformat(),
            item.reason,
        )
    console.print(table)
    console.print(f"{len(rows)} waiting")


@queue_app.command("resolve")
def queue_resolve(
    queue_id: Annotated[int, typer.Argument(help="The id shown by `gateway queue list`.")],
    uscc: Annotated[str, typer.Option("--uscc", help="USCC of the entity the record is about.")],
    name: Annotated[
        str | None, typer.Option(help="Register the entity under this name if it is new.")
    ] = None,
    by: Annotated[str, typer.Option(help="Who resolved it (kept in the audit trail).")] = "cli",
) -> None:
    """Attach a waiting record to an entity; its current version then flows on to the hub."""
    from gateway.resolution_queue import ResolveError, resolve

    try:
        item = resolve(_settings(), queue_id, uscc, by=by, name=name)
    except ResolveError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(
        f"queue entry {item.queue_id}: {item.record_type} {item.natural_key} attached to {uscc}; "
        "it goes out with the next delivery"
    )


@entity_app.command("show")
def entity_show(
    code: Annotated[str, typer.Argument(help="USCC, legacy registration number or organisation code.")],
) -> None:
    """An entity's registry facts and every record attached to it, by type, with its source."""
    from gateway.entity_view import show

    view = show(_settings(), code)
    if view is None:
        console.print(f"no entity known by {code}")
        raise typer.Exit(1)
    console.print(
        f"[bold]{view.name}[/]  USCC {view.uscc or '-'}  注册号 {view.reg_no or '-'}  "
        f"组织机构代码 {view.org_code or '-'}  (registry origin: {view.origin})"
    )
    table = Table(
        "record type", "natural key", "status", "version", "attached by", "source", "row", "updated"
    )
    for r in view.records:
        table.add_row(
            r.record_type,
            r.natural_key,
            r.status,
            str(r.version),
            r.attach_method or "-",
            r.source,
            str(r.source_row),
            r.updated_at.isoformat(),
        )
    console.print(table)
    console.print(f"{len(view.records)} records")


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """What the gateway holds: files, records, entities, outbox and batches."""
    from gateway.status import collect, render

    with progress_bars() as bars, bars.phase("统计"):
        data = collect(_settings())
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        render(data, console)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
