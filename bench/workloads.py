"""The four workloads and what is measured on each, one measurement per child process.

A workload is a kind of source a department or system feeds the gateway, with its generator, its "limit" (the
fastest raw reader of that format: what no pipeline over it can beat), its peer (frictionless on the same
rows, where frictionless reads the format) and the gateway's path from source to outbox:

* penalty_csv   a national-template 行政处罚 export, GB18030 CSV      limit: pyarrow.csv.read_csv
* licence_xlsx  a national-template 行政许可 export, XLSX             limit: python-calamine (Rust)
* judicial_xml  the courts' judicial export (裁判文书 + 失信被执行人)  limit: lxml.etree.iterparse (libxml2)
* staging_table a 前置库 table of 行政检查行为 rows, SQLite            limit: sqlite3 fetchmany

Every ``measure_*`` function runs in a fresh child process (bench/run.py), so its peak RSS is its own.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gen_judicial
import gen_licence
import gen_penalty
import gen_staging
import peer
import pyarrow as pa
import pyarrow.csv as pacsv
import stages

from gateway.intake import ReadLimits, open_source
from gateway.intake.encoding import detect_encoding
from gateway.mapping.engine import Plan, plan_for
from gateway.mapping.spec import load_mappings
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate

JUDICIAL_SOURCES = ("court_judgments", "court_debtors")
STAGING_SOURCE = "xz_amr_staging_inspections"
FEED_FILE = "judicial_20261120T0800_0001.xml"
# The scale runs feed files of several GB through ingest_file; the default intake cap (256 MiB) is a policy
# for a department's drop folder, not a limit of the pipeline, so the benchmark lifts it.
BENCH_LIMITS = ReadLimits(max_file_bytes=64 * 2**30)


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    suffix: str
    kind: str  # csv | xlsx | xml | sql: how the source is read
    write: Callable[[Path, int], int]
    limit_tool: str
    max_rows: int | None = None


WORKLOADS = {
    w.name: w
    for w in (
        Workload("penalty_csv", "行政处罚 CSV（GB18030）", ".csv", "csv", gen_penalty.write, "pyarrow.csv"),
        Workload(
            "licence_xlsx",
            "行政许可 XLSX",
            ".xlsx",
            "xlsx",
            gen_licence.write,
            "python-calamine",
            gen_licence.MAX_ROWS,
        ),
        Workload(
            "judicial_xml",
            "法院裁判文书与失信被执行人 XML",
            ".xml",
            "xml",
            gen_judicial.write,
            "lxml.iterparse",
        ),
        Workload(
            "staging_table", "前置库 行政检查行为（SQLite）", ".db", "sql", gen_staging.write, "sqlite3"
        ),
    )
}


def _settings(home: Path, database_url: str | None) -> Settings:
    settings = Settings.from_env({"GATEWAY_HOME": str(home), "GATEWAY_SETTLE_SECONDS": "0"})
    if database_url:
        settings = settings.with_overrides(database_url=database_url)
    settings.ensure_dirs()
    migrate(settings.database_url)
    return settings


# ------------------------------------------------------------------------------------------------ limit


def measure_limit(workload: Workload, path: Path) -> dict[str, Any]:
    """The raw parse of the whole source by the fastest reader of its format, all cells as text."""
    start = time.perf_counter()
    if workload.kind == "csv":
        # Not timed: pyarrow has to be told the codec, and the column names to read every cell as text.
        encoding = detect_encoding(path, path.name)
        names = pacsv.open_csv(path, read_options=pacsv.ReadOptions(encoding=encoding)).schema.names
        start = time.perf_counter()
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
            ),
        )
        rows = table.num_rows
    elif workload.kind == "xlsx":
        from python_calamine import CalamineWorkbook

        rows = len(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()) - 1
    elif workload.kind == "xml":
        rows = sum(1 for _ in _xml_records(path))
    else:
        with sqlite3.connect(path) as db:
            cursor = db.execute(f"SELECT * FROM {gen_staging.staging.TABLE} ORDER BY cd_time, cd_id")
            rows = 0
            while chunk := cursor.fetchmany(5000):
                rows += len(chunk)
    return {"seconds": time.perf_counter() - start, "rows": rows}


def _xml_records(path: Path) -> Iterator[None]:
    """Each record element of the export, parsed by libxml2 and dropped at once (constant memory)."""
    from lxml import etree

    tags = {f"{{{gen_judicial.courts.NAMESPACE}}}{t}" for t in ("Judgment", "Debtor")}
    for _, element in etree.iterparse(str(path), events=("end",), tag=tags, resolve_entities=False):
        element.clear(keep_tail=True)
        while element.getprevious() is not None:
            del element.getparent()[0]
        yield None


# ------------------------------------------------------------------------------------------------- plans


def _plan(workload: Workload, path: Path, settings: Settings) -> Plan:
    specs = load_mappings(settings.mappings_dir)
    record_types = load_record_types(settings.schemas_dir)
    if workload.kind == "sql":
        with sqlite3.connect(path) as db:
            headers = [row[1] for row in db.execute(f"PRAGMA table_info({gen_staging.staging.TABLE})")]
        return plan_for(headers, specs, record_types, source=STAGING_SOURCE)
    with open_source(path, limits=BENCH_LIMITS) as source:
        return plan_for(list(source.headers), specs, record_types)


def measure_peer(workload: Workload, path: Path, rows: int, home: Path) -> dict[str, Any]:
    if workload.kind == "xml":
        return {"unsupported": "frictionless has no XML reader"}
    settings = _settings(home, None)
    encoding = detect_encoding(path, path.name) if workload.kind == "csv" else None
    plan = _plan(workload, path, settings)
    return peer.validate(
        workload.kind, path, plan, rows=rows, encoding=encoding, table=gen_staging.staging.TABLE
    )


# ---------------------------------------------------------------------------------------- pulled sources


def _feed_root(path: Path, home: Path) -> Path:
    """The share the courts write to: the export under judicial/, as the feed's pull block expects it."""
    root = home / "share"
    (root / "judicial").mkdir(parents=True, exist_ok=True)
    target = root / "judicial" / FEED_FILE
    if not target.exists():
        target.hardlink_to(path) if path.stat().st_dev == root.stat().st_dev else shutil.copyfile(
            path, target
        )
    return root


def _pull(workload: Workload, path: Path, settings: Settings) -> list[tuple[str, int]]:
    """Pull and land every source of the workload through the DAGs' entry (connectors.pulled.run_pull), with
    a real Airflow Connection object; returns (source, landed unit id) pairs."""
    from airflow.sdk import Connection

    from connectors.pulled import run_pull

    specs = load_mappings(settings.mappings_dir)
    if workload.kind == "xml":
        # The export is complete: no need to wait for the files to settle.
        extra = json.dumps({"path": str(_feed_root(path, settings.home)), "settle_seconds": 0})
        conn = Connection(conn_id="court_share", conn_type="fs", extra=extra)
        sources = JUDICIAL_SOURCES
    else:
        conn = Connection(conn_id="xz_amr_qzk", conn_type="sqlite", host=str(path))
        sources = (STAGING_SOURCE,)
    landed: list[tuple[str, int]] = []
    for source in sources:
        run = run_pull(settings, specs[source], conn)
        if not run.ok:
            raise RuntimeError(f"{source}: {[r.message for r in run.rejected]}")
        landed.extend((source, unit.id) for unit in run.landed)
    return landed


def _landed_batches(settings: Settings, unit_id: int) -> tuple[Iterator[pa.RecordBatch], list[str], str]:
    from sqlalchemy import select

    from gateway.landing import LandedSource
    from gateway.store.tables import source_file

    with engine_for(settings.database_url).connect() as conn:
        unit = conn.execute(select(source_file).where(source_file.c.id == unit_id)).one()
    source = LandedSource(Path(unit.landing_path))
    return source.batches(stages.BATCH_ROWS), source.headers, unit.source_id


# ------------------------------------------------------------------------------------- gateway's stages


def measure_stages(workload: Workload, path: Path, home: Path, database_url: str | None) -> dict[str, Any]:
    """Seconds per stage (bench/stages.py), each over the whole source, in one streaming pass; the
    statements of attach and store."""
    settings = _settings(home, database_url)
    if workload.kind in ("csv", "xlsx"):
        plan = _plan(workload, path, settings)
        with open_source(path, limits=BENCH_LIMITS) as source:
            seconds, statements = stages.time_stages(settings, source.batches(stages.BATCH_ROWS), plan)
        pull_land = None
    else:
        start = time.perf_counter()
        landed = _pull(workload, path, settings)
        pull_land = time.perf_counter() - start
        seconds, statements = dict.fromkeys(stages.STAGES, 0.0), {}
        specs = load_mappings(settings.mappings_dir)
        record_types = load_record_types(settings.schemas_dir)
        for source_id, unit_id in landed:
            batches, headers, _ = _landed_batches(settings, unit_id)
            plan = plan_for(headers, specs, record_types, source=source_id)
            unit_seconds, unit_statements = stages.time_stages(settings, batches, plan)
            for stage, value in unit_seconds.items():
                seconds[stage] += value
            for label, entry in unit_statements.items():
                total = statements.setdefault(label, {"calls": 0, "seconds": 0.0})
                total["calls"] += entry["calls"]
                total["seconds"] += entry["seconds"]
    return {
        "seconds": seconds,
        "statements": statements,
        "pull_land_seconds": pull_land,
    }


# ------------------------------------------------------------------------------------------ end to end


def measure_end_to_end(
    workload: Workload, path: Path, home: Path, database_url: str | None
) -> dict[str, Any]:
    """Source to outbox through the gateway's own entry points, as the DAGs call them; one transaction per
    file (or landed unit), committed."""
    settings = _settings(home, database_url)
    rows = accepted = 0
    start = time.perf_counter()
    if workload.kind in ("csv", "xlsx"):
        from gateway.ingest import ingest_file

        department = "xz_amr" if workload.kind == "csv" else "xz_transport"
        result = ingest_file(settings, path, department, limits=BENCH_LIMITS)
        results = [result]
    else:
        from gateway.landing import process_landed

        results = [process_landed(settings, unit_id) for _, unit_id in _pull(workload, path, settings)]
    seconds = time.perf_counter() - start
    statuses = []
    for result in results:
        rows += result.receipt.rows
        accepted += result.receipt.accepted
        statuses.append(result.receipt.status)
    outbox = _count_outbox(settings)
    engine_for(settings.database_url).dispose()
    return {
        "seconds": seconds,
        "rows": rows,
        "accepted": accepted,
        "outbox": outbox,
        "statuses": statuses,
    }


def _count_outbox(settings: Settings) -> int:
    from sqlalchemy import func, select

    from gateway.store.tables import outbox

    with engine_for(settings.database_url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())
