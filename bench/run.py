"""City-scale benchmarks: every workload against its limit and its peer, the scale runs, delivery, DAG parse.

    .venv/bin/python bench/run.py --scale 1000000,5000000 --delivery-mb 256   # what `make bench` runs
    .venv/bin/python bench/run.py                         # the four workloads, delivery and DAG parse only
    .venv/bin/python bench/run.py --rows 20000 --json     # one quick run, JSON on stdout

Each measurement runs in a child process of its own (this file again, with --child), which reports its own
peak RSS (VmHWM, the high-water mark of its own address space); generating an input runs in a child too, so
this parent stays small. (ru_maxrss from os.wait4 would not do: Linux carries the parent's high-water mark
across fork and exec into the child's figure.) A measurement whose unit is read in a forked reading process
(gateway.read_process) adds that process's peak beyond what it shared with its parent at the fork, so the
figure bounds both together; the parts are kept (gateway_process_peak_rss_mb, reading_process_*). Inputs are
cached under bench/out/data/ by workload, size and generator version. The figures go to
bench/out/bench-<time>.json (and bench/out/latest.json); a table is printed unless --json is given.
docs/performance.md explains the figures and records a run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEFAULT_WORKLOADS = ("penalty_csv", "licence_xlsx", "judicial_xml", "staging_table")
MIB = 2**20

# ------------------------------------------------------------------------------------------ child side


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    import workloads

    kind = spec["kind"]
    home = Path(spec["home"]) if "home" in spec else None
    if kind == "generate":
        workload = workloads.WORKLOADS[spec["workload"]]
        return {"bytes": workload.write(Path(spec["path"]), spec["rows"])}
    if kind == "delivery":
        import delivery

        return delivery.measure(Path(spec["path"]), spec["mb"], home)  # type: ignore[arg-type]
    if kind == "dags":
        import dag_import

        return dag_import.measure(ROOT / "dags")
    if kind == "narrow":
        import stages

        return {"rows_per_s": stages.narrow_rows_per_s(spec["rows"], home)}  # type: ignore[arg-type]
    workload = workloads.WORKLOADS[spec["workload"]]
    path = Path(spec["path"])
    if kind == "limit":
        return workloads.measure_limit(workload, path)
    if kind == "peer":
        return workloads.measure_peer(workload, path, spec["rows"], home)  # type: ignore[arg-type]
    if kind == "stages":
        return workloads.measure_stages(workload, path, home, spec.get("database_url"))  # type: ignore[arg-type]
    if kind == "e2e":
        return workloads.measure_end_to_end(workload, path, home, spec.get("database_url"))  # type: ignore[arg-type]
    raise ValueError(f"unknown measurement {kind}")


# ----------------------------------------------------------------------------------------- parent side


class ChildFailed(RuntimeError):
    """A measurement's child process exited non-zero; the message carries the tail of its log."""


def run_child(spec: dict[str, Any], log_dir: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its result plus its own peak RSS (``peak_rss_mb``)."""
    log = log_dir / f"{spec['kind']}-{spec.get('workload', '')}-{uuid.uuid4().hex[:8]}.log"
    with log.open("wb") as errors:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--child", json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=errors,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        output = proc.stdout.read()
        proc.wait()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise ChildFailed(f"{spec['kind']} {spec.get('workload', '')} failed (log {log}):\n{tail}")
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    log.unlink()
    return result


def _own_peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (the benchmarks measure memory on Linux)")


def _generator_version(workload: str) -> str:
    """Inputs are regenerated when a generator changes: the hash of the generator sources."""
    digest = hashlib.sha256()
    for name in ("pools.py", f"gen_{workload.split('_')[0]}.py"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:10]


def ensure_input(workload: str, rows: int, data_dir: Path, log_dir: Path) -> Path:
    import workloads

    spec = workloads.WORKLOADS[workload]
    path = data_dir / f"{workload}-{rows}-{_generator_version(workload)}{spec.suffix}"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        start = time.perf_counter()
        run_child({"kind": "generate", "workload": workload, "path": str(tmp), "rows": rows}, log_dir)
        os.replace(tmp, path)
        print(
            f"  generated {path.name}: {path.stat().st_size / MIB:,.0f} MiB "
            f"in {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
        )
    return path


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A throw-away PostgreSQL database (as tests/conftest.py makes them), or None without a server."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            name = f"gw_bench_{uuid.uuid4().hex[:12]}"
            admin.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server: the PostgreSQL figures are left out and the report says why
        print(f"  PostgreSQL unavailable ({exc}); skipping its figures", file=sys.stderr)
        yield None
        return
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            return str(admin.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except Exception:
        return None


def _spread(values: list[float]) -> dict[str, float]:
    """Median, min, max and (max - min) / median of repeated timings: how noisy the machine was."""
    median = statistics.median(values)
    return {
        "median": round(median, 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "spread": round((max(values) - min(values)) / median, 3) if median else 0.0,
        "runs": len(values),
    }


def _rate(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data_dir = Path(args.data)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = Path(args.out) / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def child(self, spec: dict[str, Any]) -> dict[str, Any]:
        return run_child(spec, self.log_dir)

    def repeated(self, make: Callable[[], dict[str, Any]], times: int) -> list[dict[str, Any]]:
        return [make() for _ in range(times)]

    def in_scratch(self, spec: dict[str, Any], database_url: str | None = None) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="gw-bench-", dir=self.args.scratch) as scratch:
            return self.child({**spec, "home": scratch, "database_url": database_url})

    def workload(self, name: str, rows: int) -> dict[str, Any]:
        import workloads

        spec = workloads.WORKLOADS[name]
        rows = min(rows, spec.max_rows) if spec.max_rows else rows
        path = ensure_input(name, rows, self.data_dir, self.log_dir)
        size = path.stat().st_size
        base = {"workload": name, "path": str(path)}
        print(f"  {name}: limit", file=sys.stderr)
        limits = self.repeated(lambda: self.child({**base, "kind": "limit"}), self.args.repeat)
        limit_s = _spread([r["seconds"] for r in limits])
        source_rows = limits[0]["rows"]

        print(f"  {name}: peer", file=sys.stderr)
        peer_rows = min(rows, self.args.peer_rows)
        peer = self.in_scratch({**base, "kind": "peer", "rows": peer_rows})

        print(f"  {name}: stages", file=sys.stderr)
        stage = self.in_scratch({**base, "kind": "stages"})

        print(f"  {name}: end to end (SQLite)", file=sys.stderr)
        e2e = self.repeated(lambda: self.in_scratch({**base, "kind": "e2e"}), self.args.repeat)
        e2e_s = _spread([r["seconds"] for r in e2e])

        e2e_pg = stage_pg = None
        if not self.args.no_postgres:
            print(f"  {name}: stages and end to end (PostgreSQL)", file=sys.stderr)
            with postgres_database() as url:
                if url is not None:
                    stage_pg = self.in_scratch({**base, "kind": "stages"}, url)
            with postgres_database() as url:
                if url is not None:
                    e2e_pg = self.in_scratch({**base, "kind": "e2e"}, url)

        limit_rate = _rate(source_rows, limit_s["median"])
        peer_rate = None if "unsupported" in peer else _rate(peer["rows"], peer["seconds"])

        def stage_figures(measured: dict[str, Any]) -> dict[str, Any]:
            return {
                stage_name: {
                    "seconds": round(seconds, 3),
                    "rows_per_s": _rate(source_rows, seconds),
                    "mb_per_s": _rate(size / MIB, seconds),
                    "vs_limit": _ratio(_rate(source_rows, seconds), limit_rate),
                }
                for stage_name, seconds in measured["seconds"].items()
                if seconds > 0
            }

        def statement_figures(measured: dict[str, Any]) -> dict[str, Any]:
            return {
                label: {
                    "calls": int(entry["calls"]),
                    "seconds": round(entry["seconds"], 3),
                    "us_per_row": round(entry["seconds"] / source_rows * 1e6, 2),
                }
                for label, entry in sorted(measured["statements"].items(), key=lambda kv: -kv[1]["seconds"])
            }

        stages_out = stage_figures(stage)
        validate_rate = stages_out["validate"]["rows_per_s"]
        e2e_rate = _rate(source_rows, e2e_s["median"])
        figures: dict[str, Any] = {
            "label": spec.label,
            "rows": source_rows,
            "file_mb": round(size / MIB, 1),
            "bytes_per_row": round(size / source_rows),
            "limit_tool": spec.limit_tool,
            "limit_rows_per_s": limit_rate,
            "limit_mb_per_s": _rate(size / MIB, limit_s["median"]),
            "limit_seconds": limit_s,
            "limit_peak_rss_mb": max(r["peak_rss_mb"] for r in limits),
            "peer": "frictionless " + _version("frictionless"),
            "peer_rows": None if peer_rate is None else peer["rows"],
            "peer_rows_per_s": peer_rate,
            "peer_errors": peer.get("errors"),
            "peer_peak_rss_mb": peer["peak_rss_mb"],
            "peer_note": peer.get("unsupported"),
            "validate_rows_per_s": validate_rate,
            "validate_vs_peer": _ratio(validate_rate, peer_rate),
            "stages": stages_out,
            "store_statements": statement_figures(stage),
            "pull_land_seconds": stage["pull_land_seconds"],
            "end_to_end_rows_per_s": e2e_rate,
            "end_to_end_mb_per_s": _rate(size / MIB, e2e_s["median"]),
            "end_to_end_seconds": e2e_s,
            "end_to_end_vs_limit": _ratio(e2e_rate, limit_rate),
            "end_to_end_vs_peer": _ratio(e2e_rate, peer_rate),
            "accepted": e2e[0]["accepted"],
            "outbox": e2e[0]["outbox"],
            "statuses": e2e[0]["statuses"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in e2e),
        }
        if e2e_pg is not None:
            figures["end_to_end_postgres_rows_per_s"] = _rate(source_rows, e2e_pg["seconds"])
            figures["end_to_end_postgres_vs_limit"] = _ratio(
                figures["end_to_end_postgres_rows_per_s"], limit_rate
            )
            figures["postgres_peak_rss_mb"] = e2e_pg["peak_rss_mb"]
        if stage_pg is not None:
            figures["stages_postgres"] = stage_figures(stage_pg)
            figures["store_statements_postgres"] = statement_figures(stage_pg)
        return figures

    def scale(self, sizes: list[int]) -> dict[str, Any]:
        """The penalty CSV end to end on SQLite at each size: memory should stay flat, time grow linearly."""
        runs = {}
        for rows in sizes:
            path = ensure_input("penalty_csv", rows, self.data_dir, self.log_dir)
            print(f"  scale: {rows:,} rows", file=sys.stderr)
            result = self.in_scratch({"kind": "e2e", "workload": "penalty_csv", "path": str(path)})
            runs[str(rows)] = {
                "rows": result["rows"],
                "file_mb": round(path.stat().st_size / MIB, 1),
                "seconds": round(result["seconds"], 2),
                "rows_per_s": _rate(result["rows"], result["seconds"]),
                "peak_rss_mb": result["peak_rss_mb"],
                "outbox": result["outbox"],
            }
            if rows == min(sizes) and not self.args.no_postgres:
                print(f"  scale: {rows:,} rows on PostgreSQL", file=sys.stderr)
                with postgres_database() as url:
                    spec = {"kind": "e2e", "workload": "penalty_csv", "path": str(path)}
                    on_pg = self.in_scratch(spec, url) if url else None
                if on_pg is not None:
                    runs[str(rows)]["postgres_seconds"] = round(on_pg["seconds"], 2)
                    runs[str(rows)]["postgres_rows_per_s"] = _rate(on_pg["rows"], on_pg["seconds"])
                    runs[str(rows)]["postgres_peak_rss_mb"] = on_pg["peak_rss_mb"]
            if not self.args.keep_data and rows > self.args.rows:
                path.unlink()
        small, large = str(min(sizes)), str(max(sizes))
        out: dict[str, Any] = {"runs": runs}
        if small != large:
            out["peak_rss_ratio"] = _ratio(runs[large]["peak_rss_mb"], runs[small]["peak_rss_mb"])
            out["seconds_per_row_ratio"] = _ratio(
                runs[large]["seconds"] / runs[large]["rows"], runs[small]["seconds"] / runs[small]["rows"]
            )
        return out

    def delivery(self, megabytes: int) -> dict[str, Any]:
        # About 1 KB of XML a penalty record; at most the 200,000-row input the workloads use.
        rows = min(200_000, max(self.args.rows, megabytes * 1_100))
        path = ensure_input("penalty_csv", rows, self.data_dir, self.log_dir)
        print(f"  delivery: {megabytes} MiB batch", file=sys.stderr)
        got = self.in_scratch({"kind": "delivery", "path": str(path), "mb": megabytes})
        xml_mb = got["xml_bytes"] / MIB
        return {
            "records": got["records"],
            "receipt_status": got["receipt_status"],
            "xml_mb": round(xml_mb, 1),
            "envelope_mb": round(got["envelope_bytes"] / MIB, 1),
            "render_mb_per_s": _rate(xml_mb, got["render_s"]),
            "seal_mb_per_s": _rate(xml_mb, got["seal_s"]),
            "open_mb_per_s": _rate(xml_mb, got["open_s"]),
            "push_round_trip_mb_per_s": _rate(xml_mb, got["push_s"]),
            "hub_xsd_check_mb_per_s": _rate(xml_mb, got["hub_xsd_check_s"]),
            "push_verify_open_mb_per_s": _rate(xml_mb, got["push_verify_open_s"]),
            "seal_push_open_mb_per_s": _rate(xml_mb, got["seal_s"] + got["push_verify_open_s"]),
            "seconds": {k: round(v, 2) for k, v in got.items() if k.endswith("_s")},
            "peak_rss_mb": got["peak_rss_mb"],
        }

    def store_floor(self, rows: int) -> dict[str, Any]:
        """SQLite inserting narrow rows (file, row, hash) with no index: the ceiling of a store that kept
        content elsewhere, for comparison with what the store's statements cost per row."""
        print("  store floor (narrow rows)", file=sys.stderr)
        got = self.in_scratch({"kind": "narrow", "rows": rows})
        return {"rows": rows, "narrow_rows_per_s": round(got["rows_per_s"], 1)}

    def dags(self) -> dict[str, Any]:
        print("  DAG files", file=sys.stderr)
        got = self.child({"kind": "dags"})
        files = {
            name: {k: round(v, 3) for k, v in f.items()} for name, f in got.items() if name != "peak_rss_mb"
        }
        return {"files": files, "max_file_s": max(f["file_s"] for f in files.values())}


def _version(package: str) -> str:
    from importlib import metadata

    return metadata.version(package)


TARGETS: list[tuple[str, str, Callable[[dict[str, Any]], float | None], float, bool]] = [
    # (name, what, value from the results, threshold, True when the value must be at least the threshold)
    (
        "e2e_vs_limit",
        "end to end (SQLite) ≥ 0.25 × pyarrow's raw parse, penalty CSV",
        lambda r: r["workloads"].get("penalty_csv", {}).get("end_to_end_vs_limit"),
        0.25,
        True,
    ),
    (
        "e2e_sqlite_rows_per_s",
        "end to end on SQLite ≥ 100,000 rows/s, penalty CSV",
        lambda r: r["workloads"].get("penalty_csv", {}).get("end_to_end_rows_per_s"),
        100_000,
        True,
    ),
    (
        "e2e_1m_sqlite",
        "end to end at 1M rows on SQLite ≥ 50,000 rows/s, penalty CSV",
        lambda r: r.get("scale", {}).get("runs", {}).get("1000000", {}).get("rows_per_s"),
        50_000,
        True,
    ),
    (
        "e2e_1m_postgres",
        "end to end at 1M rows on PostgreSQL ≥ 30,000 rows/s, penalty CSV",
        lambda r: r.get("scale", {}).get("runs", {}).get("1000000", {}).get("postgres_rows_per_s"),
        30_000,
        True,
    ),
    (
        "validate_vs_peer",
        "validation ≥ 10 × frictionless, penalty CSV",
        lambda r: r["workloads"].get("penalty_csv", {}).get("validate_vs_peer"),
        10,
        True,
    ),
    (
        "memory_flat",
        "peak RSS at the largest scale ≤ 1.2 × the smallest",
        lambda r: r.get("scale", {}).get("peak_rss_ratio"),
        1.2,
        False,
    ),
    (
        "memory_under_1gb",
        "peak RSS of every end-to-end run < 1024 MiB",
        lambda r: (
            max(
                [w.get("peak_rss_mb", 0) for w in r["workloads"].values()]
                + [s["peak_rss_mb"] for s in r.get("scale", {}).get("runs", {}).values()]
                + [s.get("postgres_peak_rss_mb", 0) for s in r.get("scale", {}).get("runs", {}).values()],
                default=0,
            )
            or None
        ),
        1024,
        False,
    ),
    (
        "seal_push_open",
        "seal + push + hub verify/open ≥ 100 MB/s (default suite)",
        lambda r: r.get("delivery", {}).get("seal_push_open_mb_per_s"),
        100,
        True,
    ),
    (
        "hub_round_trip",
        "hub round trip (verify, open, XSD check, store, receipt) ≥ 50 MB/s",
        lambda r: r.get("delivery", {}).get("push_round_trip_mb_per_s"),
        50,
        True,
    ),
    (
        "dag_import",
        "every DAG file imports in < 0.3 s",
        lambda r: r.get("dags", {}).get("max_file_s"),
        0.3,
        False,
    ),
]


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    for name, what, value_of, threshold, at_least in TARGETS:
        value = value_of(results)
        met = None if value is None else (value >= threshold if at_least else value <= threshold)
        verdicts.append({"target": name, "what": what, "value": value, "threshold": threshold, "met": met})
    return verdicts


# --------------------------------------------------------------------------------------------- output


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)


def print_table(results: dict[str, Any]) -> None:
    print(
        f"\n{results['command']}\n{results['started_at']}  "
        f"load {results['load_before']} → {results['load_after']}"
    )
    header = (
        f"{'workload':<14}{'rows':>10}{'MiB':>7}{'limit r/s':>11}{'peer r/s':>10}{'validate':>10}"
        f"{'×peer':>7}{'e2e r/s':>9}{'×limit':>7}{'spread':>7}{'PG r/s':>8}{'RSS MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, w in results["workloads"].items():
        print(
            f"{name:<14}{_fmt(w['rows']):>10}{_fmt(w['file_mb']):>7}{_fmt(w['limit_rows_per_s']):>11}"
            f"{_fmt(w['peer_rows_per_s']):>10}{_fmt(w['validate_rows_per_s']):>10}"
            f"{_fmt(w['validate_vs_peer'], 1):>7}"
            f"{_fmt(w['end_to_end_rows_per_s']):>9}{_fmt(w['end_to_end_vs_limit'], 2):>7}"
            f"{_fmt(w['end_to_end_seconds']['spread'], 2):>7}"
            f"{_fmt(w.get('end_to_end_postgres_rows_per_s')):>8}"
            f"{_fmt(w['peak_rss_mb']):>8}"
        )
    for name, w in results["workloads"].items():
        parts = [f"{stage} {_fmt(s['rows_per_s'])}" for stage, s in w["stages"].items()]
        print(f"  {name} stages (rows/s): " + ", ".join(parts))
        for suffix, database in (("", "SQLite"), ("_postgres", "PostgreSQL")):
            if f"store_statements{suffix}" not in w:
                continue
            spent = [
                f"{label} {s['us_per_row']:.1f}"
                for label, s in list(w[f"store_statements{suffix}"].items())[:6]
            ]
            print(f"  {name} attach + store statements on {database} (µs/row): " + ", ".join(spent))
        if "stages_postgres" in w:
            parts = [f"{stage} {_fmt(s['rows_per_s'])}" for stage, s in w["stages_postgres"].items()]
            print(f"  {name} stages on PostgreSQL (rows/s): " + ", ".join(parts))
    if "store_floor" in results:
        print(f"SQLite narrow rows, no index: {_fmt(results['store_floor']['narrow_rows_per_s'])} rows/s")
    if "scale" in results:
        for rows, run in results["scale"]["runs"].items():
            print(
                f"scale {int(rows):>10,} rows: {run['seconds']:>8.1f} s  "
                f"{_fmt(run['rows_per_s']):>8} rows/s  "
                f"peak RSS {run['peak_rss_mb']:,.0f} MiB"
            )
            if "postgres_rows_per_s" in run:
                print(
                    f"scale {int(rows):>10,} rows: {run['postgres_seconds']:>8.1f} s  "
                    f"{_fmt(run['postgres_rows_per_s']):>8} rows/s  "
                    f"peak RSS {run['postgres_peak_rss_mb']:,.0f} MiB  (PostgreSQL)"
                )
        if "peak_rss_ratio" in results["scale"]:
            print(
                f"  memory ×{results['scale']['peak_rss_ratio']}, time per row ×"
                f"{results['scale']['seconds_per_row_ratio']} from smallest to largest"
            )
    if "delivery" in results:
        d = results["delivery"]
        print(
            f"delivery {d['xml_mb']} MiB: seal {_fmt(d['seal_mb_per_s'])} MB/s, "
            f"open {_fmt(d['open_mb_per_s'])} MB/s, "
            f"seal+push+verify/open {_fmt(d['seal_push_open_mb_per_s'])} MB/s; "
            "hub round trip with XSD validation "
            f"{_fmt(d['push_round_trip_mb_per_s'], 1)} MB/s (XSD {_fmt(d['hub_xsd_check_mb_per_s'], 1)} MB/s)"
        )
    if "dags" in results:
        slowest = max(results["dags"]["files"].items(), key=lambda kv: kv[1]["file_s"])
        print(f"DAG files: slowest {slowest[0]} {slowest[1]['file_s']:.3f} s (after airflow.sdk)")
    print("\ntargets:")
    for verdict in results["targets"]:
        mark = {True: "met", False: "NOT met", None: "not measured"}[verdict["met"]]
        print(f"  {mark:<13}{verdict['what']}: {_fmt(verdict['value'], 3)}")


# ----------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per workload (default %(default)s)")
    parser.add_argument(
        "--workloads", default=",".join(DEFAULT_WORKLOADS), help="comma-separated (default: all four)"
    )
    parser.add_argument(
        "--scale",
        default="",
        help="penalty CSV sizes for the scale runs, e.g. 1000000,5000000 (default: none)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of the limit and of end to end, for noise"
    )
    parser.add_argument(
        "--peer-rows", type=int, default=50_000, help="rows frictionless validates (default %(default)s)"
    )
    parser.add_argument("--delivery-mb", type=int, default=64, help="batch size for delivery, 0 to skip")
    parser.add_argument("--no-dags", action="store_true", help="skip the DAG import times")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL end-to-end runs")
    parser.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    parser.add_argument("--out", default=str(OUT), help="where the JSON and logs go (default bench/out)")
    parser.add_argument("--data", default=None, help="where generated inputs are cached (default OUT/data)")
    parser.add_argument("--scratch", default=None, help="where databases and landing files go (default: tmp)")
    parser.add_argument("--keep-data", action="store_true", help="keep the large inputs of the scale runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    sys.path.insert(0, str(HERE))
    args = parse_args(argv)
    if args.child:
        result = _child(json.loads(args.child))
        result["peak_rss_mb"] = _own_peak_rss_mb()
        # A unit read in a process of its own (gateway.read_process): that process's peak beyond the pages
        # it shared with this one at the fork is added, so peak_rss_mb bounds what both held together.
        from gateway import read_process

        reader = read_process.largest_child
        if reader.items:
            result["reading_process_peak_rss_mb"] = round(reader.peak_bytes / MIB, 1)
            result["reading_process_own_mb"] = round(reader.own_bytes / MIB, 1)
            result["gateway_process_peak_rss_mb"] = result["peak_rss_mb"]
            result["peak_rss_mb"] = round(result["peak_rss_mb"] + reader.own_bytes / MIB, 1)
        print(json.dumps(result))
        return
    import machine

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    args.data = args.data or str(out / "data")
    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "command": " ".join(
            [Path(sys.executable).name, "bench/run.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "started_at": started.isoformat(timespec="seconds"),
        "load_before": machine.load_average(),
        "machine": machine.describe(postgres_version()),
        "settings": {k: v for k, v in vars(args).items() if k != "child"},
        "workloads": {},
    }
    bench = Bench(args)
    for name in [w for w in args.workloads.split(",") if w]:
        print(f"{name} ({args.rows:,} rows)", file=sys.stderr)
        results["workloads"][name] = bench.workload(name, args.rows)
    if results["workloads"]:
        results["store_floor"] = bench.store_floor(args.rows)
    if args.scale:
        results["scale"] = bench.scale(sorted(int(n) for n in args.scale.split(",")))
    if args.delivery_mb:
        results["delivery"] = bench.delivery(args.delivery_mb)
    if not args.no_dags:
        results["dags"] = bench.dags()
    results["load_after"] = machine.load_average()
    results["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    results["targets"] = judge(results)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(results, ensure_ascii=False, indent=2)
    (out / f"bench-{stamp}.json").write_text(text)
    (out / "latest.json").write_text(text)
    if args.json:
        print(text)
    else:
        print_table(results)


if __name__ == "__main__":
    main()
