"""`gateway lookup`: serve the 逢办必查 API, manage its callers' credentials, read its query log.

For platform engineers on the gateway's host. A new API key is printed once, by `keys add`, and never again:
the store keeps only its SHA-256. `keys list` shows each caller's public key id or certificate fingerprint,
never a secret.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="逢办必查 信用状况查询 API：服务、调用方凭据、查询日志 (credit lookup for departments).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
keys_app = typer.Typer(
    help="调用方凭据：API 密钥或客户端证书，及其角色 (department | internal | auditor).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(keys_app, name="keys")
console = Console(soft_wrap=True)

Role = Annotated[
    str,
    typer.Option(
        help="department（查询，无风险分类）、internal（含风险分类，内部参考）或 auditor（只读查询日志）"
    ),
]
Department = Annotated[str, typer.Option(help="调用方所属部门，如 忻州市税务局")]


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8780,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core).")] = 2,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Server certificate (PEM): HTTPS.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="The certificate's private key (PEM).")
    ] = None,
    client_ca: Annotated[
        Path | None,
        typer.Option(
            "--client-ca", help="CA of the callers' client certificates (PEM): enables mTLS callers."
        ),
    ] = None,
) -> None:
    """Serve the API (GET /v1/standing/{code}, /v1/report/{code}.html|.pdf, /v1/queries, /v1/health)."""
    from gateway.credit.lookup.server import serve

    if workers < 1:
        raise typer.BadParameter("at least one worker", param_hint="--workers")
    try:
        serve(host=host, port=port, workers=workers, tls_cert=tls_cert, tls_key=tls_key, client_ca=client_ca)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _engine() -> Engine:
    from gateway.store.db import engine_for

    return engine_for(Settings.from_env().database_url)


@keys_app.command("add")
def keys_add(name: str, department: Department, role: Role = "department") -> None:
    """Make a caller with a new API key and print the key once."""
    from gateway.credit.lookup.keys import CallerError, add_key_caller

    try:
        with _engine().begin() as conn:
            caller, key = add_key_caller(conn, name, department, role)
    except CallerError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"caller {caller.name} ({caller.department}, {caller.role}) — the key, shown only now:")
    sys.stdout.write(key + "\n")


@keys_app.command("cert")
def keys_cert(
    name: str,
    department: Department,
    cert: Annotated[Path, typer.Option(help="The caller's client certificate (PEM).")],
    role: Role = "department",
) -> None:
    """Make a caller identified by its client certificate (registered by SHA-256 fingerprint)."""
    from gateway.credit.lookup.keys import CallerError, add_cert_caller

    try:
        with _engine().begin() as conn:
            caller, fingerprint = add_cert_caller(conn, name, department, role, cert)
    except CallerError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(
        f"caller {caller.name} ({caller.department}, {caller.role}): certificate sha256:{fingerprint}"
    )


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every caller with its role and credential's public part (key id or certificate fingerprint)."""
    from gateway.credit.lookup.keys import callers
    from gateway.local_times import as_utc, shown

    settings = Settings.from_env()
    with _engine().connect() as conn:
        rows = callers(conn)
    if as_json:
        body = [
            {
                "name": r.name,
                "department": r.department,
                "role": r.role,
                "credential": r.credential,
                "key_id": r.key_id,
                "cert_sha256": r.cert_sha256,
                "created_at": as_utc(r.created_at).isoformat(),
                "revoked_at": as_utc(r.revoked_at).isoformat() if r.revoked_at else None,
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("name", "department", "role", "credential", "created", "revoked")
    for r in rows:
        credential = f"key {r.key_id}" if r.key_id else f"cert sha256:{(r.cert_sha256 or '')[:16]}…"
        table.add_row(
            r.name,
            r.department,
            r.role,
            credential,
            shown(settings, r.created_at),
            shown(settings, r.revoked_at),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(name: str) -> None:
    """Revoke a caller's credential at once; its past queries stay in the log under its name."""
    from gateway.credit.lookup.keys import CallerError, revoke

    try:
        with _engine().begin() as conn:
            changed = revoke(conn, name)
    except CallerError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"caller {name}: {'revoked' if changed else 'was already revoked'}")


def _day(value: str | None, hint: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"a day is written YYYY-MM-DD, not {value!r}", param_hint=hint) from exc


@app.command("queries")
def queries_command(
    caller: Annotated[str | None, typer.Option(help="Only this caller (its name).")] = None,
    entity: Annotated[
        str | None, typer.Option(help="Only this entity (USCC, reg. no. or org. code).")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option(help="found, unknown, malformed, bad_check, forbidden, …")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this local day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="To this local day (inclusive), YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The query log: who looked up which entity, for which matter, with what outcome and report number."""
    from gateway.credit.lookup.querylog import Filters, read

    settings = Settings.from_env()
    filters = Filters(caller, entity, outcome, _day(since, "--since"), _day(until, "--until"), limit=limit)
    with _engine().connect() as conn:
        items, _ = read(conn, filters, settings.timezone)
    if as_json:
        sys.stdout.write(json.dumps(items, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("at", "caller", "code", "entity", "matter", "outcome", "report", "format")
    for i in items:
        table.add_row(
            i["at"],
            f"{i['caller']} ({i['department']})",
            i["code"],
            i["entity_name"] or "",
            i["matter"],
            i["outcome"],
            i["report_no"] or "",
            i["format"],
        )
    console.print(table)
