"""Hostile inputs at full size through ingest: wall time, peak memory and the outcome of each (issue #10).

    .venv/bin/python bench/hostile.py                  # every input at full size (a few minutes)
    .venv/bin/python bench/hostile.py --only csv-one-cell-rows,xlsx-shared-string-bomb
    .venv/bin/python bench/hostile.py --scale 0.1      # everything at a tenth of the size, for a quick look

Each input is generated into a temporary folder (streamed to disk by tests/hostile/builders.py, so this
process stays small) and ingested by `gateway.ingest.ingest_file` in a child process of its own, on a fresh
SQLite database, as a drop folder would hand it over. The child reports its own peak resident memory (VmHWM),
the parent times it. The target is the same for every input: a clear receipt within 60 s and 1 GB.
tests/hostile/test_resource_bounds.py asserts the outcomes at smaller sizes, under a memory cap, untimed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.hostile import builders as b  # noqa: E402

MB = 1_000_000
Build = Callable[[Path, float], Path]

INPUTS: dict[str, tuple[str, Build]] = {
    "csv-one-cell-rows": (
        "header + 20M one-cell lines",
        lambda folder, scale: b.one_cell_rows_csv(folder / "处罚.csv", int(20_000_000 * scale), good=8),
    ),
    "csv-one-cell-rows-200mb": (
        "header + 66M one-cell lines (200 MB)",
        lambda folder, scale: b.one_cell_rows_csv(folder / "处罚.csv", int(66_000_000 * scale), good=8),
    ),
    "csv-200mb-line": (
        "one 200 MB line, no newline or delimiter",
        lambda folder, scale: b.long_line_csv(folder / "处罚.csv", int(200 * MB * scale)),
    ),
    "csv-200mb-open-quote": (
        "8 rows, then a quoted cell that never closes (200 MB)",
        lambda folder, scale: b.long_line_csv(
            folder / "处罚.csv", int(200 * MB * scale), quoted=True, good=8
        ),
    ),
    "xml-100mb-attribute": (
        "a record with a 100 MB attribute",
        lambda folder, scale: b.xml_long_value(folder / "处罚.xml", int(100 * MB * scale), attribute=True),
    ),
    "xml-100mb-text": (
        "a record with a 100 MB field text",
        lambda folder, scale: b.xml_long_value(folder / "处罚.xml", int(100 * MB * scale), attribute=False),
    ),
    "xlsx-shared-string-bomb": (
        "500k cells naming one 32,000-char shared string",
        lambda folder, scale: b.shared_string_bomb_xlsx(folder / "处罚.xlsx", max(int(26_316 * scale), 1)),
    ),
    "xlsx-far-corner": (
        "two cells at A1 and XFD1048576",
        lambda folder, scale: b.far_corner_xlsx(folder / "处罚.xlsx"),
    ),
    "json-100mb-string": (
        "a record with a 100 MB string",
        lambda folder, scale: b.json_long_string(folder / "处罚.json", int(100 * MB * scale)),
    ),
    "json-100k-deep": (
        "a value nested 100,000 levels",
        lambda folder, scale: b.json_nested(folder / "处罚.json", 100_000),
    ),
}


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """Ingest one file in this (fresh) process and describe the receipt."""
    from gateway.ingest import ingest_file
    from gateway.settings import Settings
    from gateway.store.db import migrate

    home = Path(spec["home"])
    settings = Settings.from_env({"GATEWAY_HOME": str(home), "GATEWAY_SETTLE_SECONDS": "0"})
    settings = settings.with_overrides(database_url=f"sqlite:///{home / 'gateway.db'}")
    settings.ensure_dirs()
    migrate(settings.database_url)
    receipt = ingest_file(settings, Path(spec["path"]), "xz_bench").receipt
    error = receipt.file_error or {}
    status = Path("/proc/self/status").read_text()
    return {
        "status": receipt.status,
        "code": error.get("code", ""),
        "message": error.get("message", ""),
        "rows": receipt.rows,
        "rejected": receipt.rejected,
        "first_error": receipt.errors[0] if receipt.errors else None,
        "peak_mib": int(status.split("VmHWM:")[1].split("kB")[0]) // 1024,
    }


def measure(name: str, scale: float, folder: Path) -> dict[str, Any]:
    label, build = INPUTS[name]
    started = time.perf_counter()
    path = build(folder, scale)
    built = time.perf_counter() - started
    spec = {"path": str(path), "home": str(folder / "home")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {"input": name, "what": label, "file_mb": round(path.stat().st_size / MB, 1)}
    result.update(seconds=round(seconds, 1), build_seconds=round(built, 1))
    if done.returncode != 0:
        result.update(status="crashed", code=f"exit {done.returncode}", message=done.stderr[-300:])
    else:
        result.update(json.loads(done.stdout.strip().splitlines()[-1]))
    path.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help=f"comma-separated inputs out of: {', '.join(INPUTS)}")
    parser.add_argument("--scale", type=float, default=1.0, help="size factor for every input (default 1)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child)), ensure_ascii=False))
        return
    names = args.only.split(",") if args.only else list(INPUTS)
    results = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="gateway-hostile-") as scratch:
            results.append(measure(name, args.scale, Path(scratch)))
        if not args.json:
            _print_row(results[-1], header=len(results) == 1)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))


def _print_row(result: dict[str, Any], *, header: bool) -> None:
    if header:
        print(f"{'input':<26} {'file MB':>8} {'seconds':>8} {'peak MiB':>9}  outcome")
    outcome = f"{result['status']} {result.get('code') or ''}".strip()
    if result.get("first_error"):
        error = result["first_error"]
        outcome += f" (row {error['row']} {error['code']})"
    peak = result.get("peak_mib", "-")
    figures = f"{result['file_mb']:>8} {result['seconds']:>8} {peak:>9}"
    print(f"{result['input']:<26} {figures}  {outcome}", flush=True)
    if result.get("message"):
        print(f"{'':<26} {result['message']}", flush=True)


if __name__ == "__main__":
    main()
