"""`make bench` must not rot: a tiny run of bench/run.py carries every figure issue #5 asks of its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD_FIGURES = (
    "rows",
    "limit_rows_per_s",
    "peer_rows_per_s",
    "validate_rows_per_s",
    "end_to_end_rows_per_s",
    "peak_rss_mb",
)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            *("--rows", "400", "--peer-rows", "100", "--workloads", "penalty_csv"),
            *("--delivery-mb", "1", "--no-postgres", "--json", "--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = json.loads(run.stdout)
    assert json.loads((out / "latest.json").read_text()) == printed
    return printed


def test_every_workload_figure_is_there_and_positive(results: dict[str, object]) -> None:
    workload = results["workloads"]["penalty_csv"]  # type: ignore[index]
    for name in WORKLOAD_FIGURES:
        assert workload[name] > 0, name
    assert workload["rows"] == 400
    assert workload["accepted"] <= workload["rows"]
    assert workload["outbox"] > 0


def test_delivery_and_dag_figures_are_there(results: dict[str, object]) -> None:
    delivery = results["delivery"]  # type: ignore[index]
    assert delivery["receipt_status"] == "accepted" and delivery["records"] > 0
    assert delivery["seal_push_open_mb_per_s"] > 0
    dags = results["dags"]  # type: ignore[index]
    assert {f"{p.stem}.py" for p in (ROOT / "dags").glob("*.py")} <= set(dags["files"])
    assert dags["max_file_s"] > 0


def test_every_target_gets_a_verdict(results: dict[str, object]) -> None:
    verdicts = {t["target"]: t for t in results["targets"]}  # type: ignore[index,union-attr]
    assert set(verdicts) >= {
        "e2e_vs_limit",
        "validate_vs_peer",
        "seal_push_open",
        "hub_round_trip",
        "dag_import",
    }
    # Without scale runs, flat memory and the 1M-row rates cannot be judged; every other target has a value
    # at any size.
    needs_scale = {"memory_flat", "e2e_1m_sqlite", "e2e_1m_postgres"}
    assert all(verdicts[name]["met"] is None for name in needs_scale)
    assert all(v["value"] is not None for name, v in verdicts.items() if name not in needs_scale)


def test_store_statements_name_the_tables_written(results: dict[str, object]) -> None:
    """The breakdown says which statements the database time goes to: a first load inserts records, their
    versions and (from those) their outbox rows."""
    workload = results["workloads"]["penalty_csv"]  # type: ignore[index]
    statements = workload["store_statements"]
    assert {"insert record", "insert record_version", "insert outbox from select"} <= set(statements)
    assert all(s["calls"] > 0 and s["us_per_row"] >= 0 for s in statements.values())
    assert set(workload["stages"]) >= {"parse", "map", "validate", "prepare", "attach", "store", "commit"}
    assert results["store_floor"]["narrow_rows_per_s"] > 0  # type: ignore[index]


def test_statement_labels_are_documented_by_their_doctests() -> None:
    import doctest

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import stages
    finally:
        sys.path.remove(str(ROOT / "bench"))
    result = doctest.testmod(stages)
    assert result.attempted >= 2 and result.failed == 0
