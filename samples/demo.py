"""`make demo` (``python -m samples.demo``): the whole flow on the embedded defaults, then a summary a
person can read.

The demo is an application of the gateway, not part of it: it lives beside the sample data in this
checkout, and the installed package never imports it. Airflow and the hub run as child processes (the
DAGs with Airflow's ``dag.test()``, all in one process: samples/run_dags.py; the hub with
`python -m hub serve`). Everything the demo writes lives under GATEWAY_HOME (var/ of the checkout unless
set); running it again changes nothing at the hub and says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from gateway.settings import Settings
from gateway.status import batches_since
from gateway.store.db import describe, migrate
from hub import launch
from samples.demo_dagtest import DagTestFailed, run_dags

# The checkout the demo runs from: its dags/, plugins/ and sample files.
REPO_ROOT = Path(__file__).resolve().parents[1]

HUB_ID = "SX-HUB"
# The registry source first, so records naming only legacy codes attach on their first pass; delivery last.
DAG_ORDER = (
    "enterprise_disclosure",
    "credit_platform",
    "judicial_feed",
    "staging_tables",
    "department_files",
    "deliver_to_province",
    # What was published and must stop (公示期满), what a repair decision took out (信用修复): withdrawn, then
    # delivered to the hub by a second delivery run.
    "credit_publicity",
    "deliver_to_province",
)
SAMPLES = REPO_ROOT / "samples" / "inbox"
HISTORY = REPO_ROOT / "samples" / "inbox_history"
STATUS_TEXT = {"accepted": "全部接收", "partial": "部分接收", "rejected": "拒收", "duplicate": "重复"}


class DemoError(RuntimeError):
    """A step of the demo failed; the message names the step and its log file."""


def checkout_env() -> dict[str, str]:
    """This process's environment with the checkout first on PYTHONPATH: the demo's children run modules of
    samples/ (the stand-ins, the DAG driver), which the installed package does not carry."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO_ROOT), env.get("PYTHONPATH"))))
    return env


def airflow_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Airflow on SQLite under var/airflow, with this repository's dags/ and plugins/."""
    home = settings.home / "airflow"
    env = checkout_env()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "GATEWAY_HOME": str(settings.home),
            "GATEWAY_DATABASE_URL": settings.database_url,
            "GATEWAY_KEYS_DIR": str(settings.keys_dir),
            "GATEWAY_SETTLE_SECONDS": "0",
        }
    )
    env.update(extra or {})
    return env


def _run(cmd: list[str], env: dict[str, str], log_path: Path) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        result = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        raise DemoError(
            f"{' '.join(cmd[:4])} … failed (exit {result.returncode}); log {log_path}:\n" + "\n".join(tail)
        )


@contextmanager
def child_service(name: str, cmd: list[str], log_dir: Path, *, keep: bool = False) -> Iterator[str]:
    """Start a service that announces `… listening on URL` (the hub, the stand-in API) and yield the URL."""
    try:
        child = launch.start(cmd, log_dir / f"{name}.log", env=checkout_env(), timeout=30)
    except launch.HubStartError as exc:
        raise DemoError(f"{name} did not start: {exc}") from exc
    try:
        yield child.url.rstrip("/")
    finally:
        if not keep:
            child.stop()


def local_hub(settings: Settings, log_dir: Path, *, keep: bool) -> contextlib.AbstractContextManager[str]:
    """The reference hub on a free loopback port (plain HTTP: loopback only), accepting the configured
    suite."""
    command = launch.serve_command(
        settings.home / "hub",
        settings.keys_dir / "hub",
        settings.schemas_dir,
        suites=settings.suite,
        log_level="info",
    )
    return child_service("hub", command, log_dir, keep=keep)


def credit_standin(log_dir: Path) -> contextlib.AbstractContextManager[str]:
    """The stand-in for 信用中国(忻州) and the disclosure system; real systems replace it by Connection."""
    return child_service(
        "credit-api", [sys.executable, "-m", "samples.standins.credit_api", "--port", "0"], log_dir
    )


def source_connections(settings: Settings, credit_api: str) -> dict[str, str]:
    """The Airflow Connections of the pulled sources, as AIRFLOW_CONN_* variables pointing at the stand-ins.
    Against the real systems the same connection ids hold their addresses and secrets instead."""
    from samples.standins.credit_api import DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_TOKEN

    url = urlsplit(credit_api)
    http = {"conn_type": "http", "host": url.hostname, "port": url.port, "schema": url.scheme}
    connections = {
        "xz_creditchina": {
            **http,
            "login": DEMO_APP_KEY,
            "password": DEMO_APP_SECRET,
            "extra": {"auth": "signature"},
        },
        "xz_gsxt": {**http, "password": DEMO_TOKEN, "extra": {"auth": "token"}},
        "xz_amr_qzk": {"conn_type": "sqlite", "host": str(settings.home / "staging" / "xz_amr_staging.db")},
        "court_share": {
            "conn_type": "fs",
            "extra": {"path": str(settings.home / "feeds"), "settle_seconds": 0},
        },
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value) for conn_id, value in connections.items()}


def prepare_sources(settings: Settings) -> None:
    """The department 前置库 (a SQLite stand-in, made once) and the court share with its export files."""
    from samples.staging.make_staging import create

    staging = settings.home / "staging" / "xz_amr_staging.db"
    if not staging.exists():
        staging.parent.mkdir(parents=True, exist_ok=True)
        create(staging)
    feed = settings.home / "feeds" / "judicial"
    feed.mkdir(parents=True, exist_ok=True)
    for export in sorted((REPO_ROOT / "samples" / "feeds" / "judicial").glob("*.xml")):
        target = feed / export.name
        if not target.exists():
            shutil.copyfile(export, target)


def demo_passphrases(settings: Settings) -> None:
    """Private keys are encrypted; the demo keeps random passphrases in var/secrets/ (mode 0600) and points
    GATEWAY_KEY_PASSPHRASE_FILE / HUB_KEY_PASSPHRASE_FILE at them for itself and its child processes. In
    production the passphrase comes from a secrets backend or an Airflow Connection, never from var/."""
    folder = settings.home / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for variable, name in (
        ("GATEWAY_KEY_PASSPHRASE", "gateway-key-passphrase"),
        ("HUB_KEY_PASSPHRASE", "hub-key-passphrase"),
    ):
        if os.environ.get(variable) or os.environ.get(f"{variable}_FILE"):
            continue  # the operator chose one
        path = folder / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32) + "\n", encoding="ascii")
        os.environ[f"{variable}_FILE"] = str(path)


def drop_samples(settings: Settings) -> list[Path]:
    """Copy the sample exports into the departments' inboxes, as a department would drop them: the month's
    exports (samples/inbox, which the tests of intake and delivery count on) and the late submissions the
    publicity and repair part of the demo needs (samples/inbox_history: penalties of 2023–2025, a department's
    repair decision)."""
    dropped = []
    folders = [p for root in (SAMPLES, HISTORY) for p in root.iterdir() if p.is_dir()]
    for folder in sorted(folders, key=lambda p: (p.name, p.parent.name)):
        inbox = settings.dropzone / folder.name / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        for sample in sorted(p for p in folder.iterdir() if p.is_file()):
            target = inbox / sample.name
            shutil.copyfile(sample, target)
            dropped.append(target)
    return dropped


def hub_report(settings: Settings) -> dict[str, Any]:
    out = subprocess.run(
        launch.hub_command("report", "--json", "--home", str(settings.home / "hub")),
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def _rel(path: str | None) -> str:
    if not path:
        return "-"
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def run_demo(settings: Settings, console: Console, *, keep_hub: bool = False) -> int:
    began = time.monotonic()
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    settings.ensure_dirs()
    log_dir = settings.home / "demo" / since.strftime("%Y%m%dT%H%M%S")

    def step(text: str) -> None:
        console.print(f"[bold cyan]▸[/] {text}  [dim]({time.monotonic() - began:.1f}s)[/]")

    try:
        step(f"gateway database: {describe(settings.database_url)}")
        migrate(settings.database_url)
        step(f"Airflow metadata database (SQLite, {_rel(str(settings.home / 'airflow'))})")
        _run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            airflow_env(settings),
            log_dir / "airflow-db.log",
        )
        from gateway.transfer import DEFAULT_SUITE_ID, SM_SUITE_ID, generate_keys

        demo_passphrases(settings)
        made = generate_keys(
            settings.keys_dir, settings.sender_id, HUB_ID, suites=(DEFAULT_SUITE_ID, SM_SUITE_ID)
        )
        step(f"transfer keys: {'generated' if made else 'existing'} in {_rel(str(settings.keys_dir))}")
        prepare_sources(settings)
        with credit_standin(log_dir) as credit_api, local_hub(settings, log_dir, keep=keep_hub) as hub_url:
            step(
                f"stand-in credit platform and disclosure system on {credit_api}; reference hub on {hub_url}"
            )
            dropped = drop_samples(settings)
            staging, feeds = _rel(str(settings.home / "staging")), _rel(str(settings.home / "feeds"))
            step(
                f"dropped {len(dropped)} sample files into {_rel(str(settings.dropzone))}/<department>/inbox"
            )
            step(f"department 前置库 in {staging}; court export files in {feeds}")
            env = airflow_env(
                settings, {"GATEWAY_HUB_URL": hub_url, **source_connections(settings, credit_api)}
            )
            step(f"Airflow: running {len(DAG_ORDER)} DAGs with dag.test() in one process")
            try:
                outputs = run_dags(
                    DAG_ORDER,
                    env,
                    log_dir,
                    REPO_ROOT / "dags",
                    on_start=lambda dag_id: step(f"running DAG {dag_id}"),
                )
            except DagTestFailed as exc:
                raise DemoError(str(exc)) from exc
            for dag_id, output in outputs.items():
                console.print(f"    [dim]{dag_id}: tasks {output.summary()}[/]")
            from samples.records_demo import run_records

            run_records(settings, console, hub_url)
        step("hub stopped" if not keep_hub else "hub left running")
    except DemoError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        return 1
    summarize(settings, since, console)
    from samples.credit_demo import run_credit

    run_credit(settings, console)
    from samples.records_demo import show_lookups

    show_lookups(settings, console, log_dir)
    console.print(f"[dim]logs: {_rel(str(log_dir))}; done in {time.monotonic() - began:.1f}s[/]")
    return 0


def receipts_since(settings: Settings, since: datetime) -> list[tuple[Path, dict[str, Any]]]:
    """The receipts written to departments in this run, as they see them: duplicates included."""
    found = []
    for path in settings.dropzone.glob("*/*/*/*.receipt.json"):
        if path.stat().st_mtime >= since.timestamp():
            found.append((path, json.loads(path.read_text(encoding="utf-8"))))
    return sorted(found, key=lambda item: (item[1]["department"], item[1]["file"]))


def summarize(settings: Settings, since: datetime, console: Console) -> None:
    receipts = receipts_since(settings, since)
    console.print(f"\n[bold]files received (文件接收情况)[/]: {len(receipts)}")
    for path, r in receipts:
        colour = {"accepted": "green", "partial": "yellow", "duplicate": "cyan"}.get(r["status"], "red")
        head = f"  [{colour}]{STATUS_TEXT.get(r['status'], r['status'])}[/] {r['department']}/{r['file']}"
        if r["file_error"]:
            console.print(f"{head}: {r['file_error']['message']}")
        elif r["status"] == "duplicate":
            console.print(
                f"{head}: same content as a file processed at {r['first_processed_at']}, nothing stored"
            )
        else:
            console.print(
                f"{head}: {r['rows']} rows, {r['accepted']} accepted ({r['new']} new, {r['updated']} "
                f"updated, {r['unchanged']} unchanged), {r['rejected']} rejected"
                + (f", {r['queued']} waiting for an entity" if r["queued"] else "")
            )
        console.print(f"      receipt: {_rel(str(path.with_suffix('.txt')))} (also .csv, .json)")

    pulled = pulled_since(settings, since)
    console.print(f"\n[bold]pulled sources (接口、前置库、法院文件)[/]: {len(pulled)}")
    for source, totals in pulled.items():
        changed = totals["new"] + totals["updated"] + totals["withdrawn"]
        if not changed and not totals["rejected"]:
            # updatedSince is inclusive: the record(s) at the cursor come again and are found unchanged.
            console.print(
                f"  {source} ({totals['kind']}): nothing new ({totals['unchanged']} re-read at the "
                "cursor, unchanged)"
            )
            continue
        console.print(
            f"  {source} ({totals['kind']}): {totals['units']} units, {totals['rows']} rows, "
            f"{totals['accepted']} accepted ({totals['new']} new, {totals['updated']} updated, "
            f"{totals['withdrawn']} withdrawn, {totals['unchanged']} unchanged), {totals['rejected']} "
            "rejected" + (f", {totals['queued']} waiting for an entity" if totals["queued"] else "")
        )
    from gateway.mapping.spec import load_mappings

    silent = sorted(
        s.sources[0]
        for s in load_mappings(settings.mappings_dir).values()
        if s.pull and s.sources and s.sources[0] not in pulled
    )
    if silent:
        console.print(f"  nothing new from {', '.join(silent)}")

    entities = entity_summary(settings, since)
    console.print(
        f"\n[bold]entities (市场主体)[/]: {entities['created']} created this run, "
        f"{entities['total']} in the registry; "
        f"records attached by {entities['methods'] or 'nothing new'}; "
        f"{entities['waiting']} waiting for an entity (gateway queue list)"
    )

    batches = batches_since(settings, since)
    if batches:
        console.print(f"\n[bold]batches sealed and delivered (报送批次)[/]: {len(batches)}")
        for b in batches:
            receipt = json.loads(b["receipt"]) if b["receipt"] else None
            verdict = (
                f"hub receipt signature verified, {receipt['accepted']} accepted" if receipt else "no receipt"
            )
            console.print(f"  {b['batch_id']}: {b['records']} records, {b['status']}; {verdict}")
    else:
        console.print("\n[green]nothing new to send:[/] every record is already at the hub (no batch built)")

    report = hub_report(settings)
    console.print()
    table = Table(title="the hub holds (省级平台已接收)", title_justify="left")
    for column in ("sender", "record type", "insert (i)", "update (u)", "delete (d)", "records"):
        table.add_column(column)
    for sender, entry in sorted(report.get("senders", {}).items()):
        for record_type, ops in sorted(entry["record_types"].items()):
            table.add_row(sender, record_type, *(str(ops.get(op, 0)) for op in ("i", "u", "d", "total")))
    console.print(table)
    batches_at_hub = report.get("batches", {})
    console.print(
        f"hub batches: {batches_at_hub.get('accepted', 0)} accepted, "
        f"{batches_at_hub.get('rejected', 0)} rejected; records: {report['records']['total']}"
    )


def pulled_since(settings: Settings, since: datetime) -> dict[str, dict[str, Any]]:
    """Per pulled source, what its units landed and processed in this run (from their stored receipts)."""
    from sqlalchemy import select

    from gateway.store.db import engine_for
    from gateway.store.tables import source_file

    keys = ("rows", "accepted", "rejected", "new", "updated", "unchanged", "withdrawn", "queued")
    totals: dict[str, dict[str, Any]] = {}
    stmt = (
        select(source_file.c.source_id, source_file.c.kind, source_file.c.receipt)
        .where(source_file.c.kind != "file", source_file.c.received_at >= since)
        .order_by(source_file.c.id)
    )
    with engine_for(settings.database_url).connect() as conn:
        for source, kind, raw in conn.execute(stmt):
            receipt = json.loads(raw or "{}")
            entry = totals.setdefault(source, {"kind": kind, "units": 0, **dict.fromkeys(keys, 0)})
            entry["units"] += 1
            for key in keys:
                entry[key] += int(receipt.get(key, 0) or 0)
    return totals


def entity_summary(settings: Settings, since: datetime) -> dict[str, Any]:
    from sqlalchemy import func, select

    from gateway.store.db import engine_for
    from gateway.store.tables import entity, record_version, resolution_queue

    with engine_for(settings.database_url).connect() as conn:
        created = conn.execute(select(func.count()).select_from(entity).where(entity.c.created_at >= since))
        total = conn.execute(select(func.count()).select_from(entity))
        methods = conn.execute(
            select(record_version.c.attach_method, func.count())
            .where(record_version.c.created_at >= since)
            .group_by(record_version.c.attach_method)
        )
        waiting = conn.execute(
            select(func.count()).select_from(resolution_queue).where(resolution_queue.c.resolved_at.is_(None))
        )
        return {
            "created": created.scalar_one(),
            "total": total.scalar_one(),
            "methods": ", ".join(f"{m or 'none (queued)'}: {n}" for m, n in methods),
            "waiting": waiting.scalar_one(),
        }


def main(
    keep_hub: Annotated[bool, typer.Option(help="Leave the local hub running afterwards.")] = False,
) -> None:
    """Run the main job on the embedded defaults: local hub, stand-in sources, sample files, every DAG, and
    a summary. State goes to GATEWAY_HOME (default var/ of this checkout); a second run adds nothing."""
    env = dict(os.environ)
    env.setdefault("GATEWAY_HOME", str(REPO_ROOT / "var"))
    raise typer.Exit(run_demo(Settings.from_env(env), Console(), keep_hub=keep_hub))


if __name__ == "__main__":
    typer.run(main)
