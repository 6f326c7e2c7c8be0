"""Every DAG file imports cleanly, fast, and follows the project's conventions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PULLED = ("credit_platform", "enterprise_disclosure", "judicial_feed", "staging_tables")
# Modules of the gateway's packages a DAG file may load at parse time: the triggers its assets are watched by
# and the failure notifier, which import only Airflow and the standard library at load time.
LIGHT = {"connectors", "connectors.inbox_trigger", "connectors.retry_trigger", "connectors.notifiers"}
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))  # dags/gateway_common/: shared wiring (.airflowignore)


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "department_files",
        "deliver_to_province",
        "credit_platform",
        "enterprise_disclosure",
        "judicial_feed",
        "staging_tables",
        "gateway_watch",
        "gateway_maintenance",
        "gateway_replay",
        "credit_classify",
        "credit_warnings",
        "credit_publicity",
        "double_random_draw",
        "double_random_results",
    }


# The watch only reads, and its failure is its alert: a retry would send the same alert again.
NO_RETRIES = {"gateway_watch"}
# Tasks that write the gateway database, by DAG: each takes a slot of the writers' pool.
WRITERS = {
    "department_files": {"ingest"},
    "deliver_to_province": {"build_batches", "deliver"},
    "gateway_maintenance": {"landing", "outbox", "receipts", "vacuum"},
    "gateway_replay": {"replay"},
    "credit_classify": {"classify"},
    "credit_warnings": {"raise_warnings"},
    "credit_publicity": {"withdraw_expired", "apply_repairs", "lapse_objections"},
    "double_random_draw": {"draw"},
    **{dag_id: {"pull", "process"} for dag_id in PULLED},
}


def test_dags_are_tagged_and_retry(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id in dagbag.dag_ids:
        dag = dagbag.dags[dag_id]
        assert "gateway" in dag.tags, dag_id
        if dag_id not in NO_RETRIES:
            assert dag.default_args.get("retries", 0) >= 2, dag_id


def test_dags_are_owned_bounded_alerting_and_documented(dagbag) -> None:  # type: ignore[no-untyped-def]
    """Owner, run and task timeouts, the failure alert and docs on every DAG and task."""
    from connectors.notifiers import GatewayAlertNotifier

    for dag_id in dagbag.dag_ids:
        dag = dagbag.dags[dag_id]
        assert dag.dagrun_timeout is not None, dag_id
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        for task in dag.tasks:
            where = f"{dag_id}.{task.task_id}"
            assert task.owner == "gateway-platform", where
            assert task.execution_timeout is not None, where
            assert task.execution_timeout <= dag.dagrun_timeout, where
            callbacks = task.on_failure_callback or []
            assert any(isinstance(c, GatewayAlertNotifier) for c in callbacks), where
            assert task.doc_md, where


def test_database_writers_share_one_pool(dagbag) -> None:  # type: ignore[no-untyped-def]
    from connectors.airflow_setup import POOL

    for dag_id, writers in WRITERS.items():
        pooled = {t.task_id for t in dagbag.dags[dag_id].tasks if t.pool == POOL}
        assert pooled == writers, dag_id


def test_delivery_goes_first_when_the_writers_slot_frees(dagbag) -> None:  # type: ignore[no-untyped-def]
    """With one slot (SQLite) and pulls every few seconds, delivery must not wait behind them."""
    from connectors.airflow_setup import POOL

    delivery = dagbag.dags["deliver_to_province"].tasks
    assert {t.task_id for t in delivery} == {"build_batches", "deliver"}
    assert all(t.pool == POOL and str(t.weight_rule) == "absolute" for t in delivery)
    # Another writer's effective weight is at most the sum of its DAG's weights (downstream/upstream rules).
    ceiling = max(
        sum(t.priority_weight for t in dagbag.dags[dag_id].tasks)
        for dag_id in dagbag.dag_ids
        if dag_id != "deliver_to_province"
    )
    assert min(t.priority_weight for t in delivery) > ceiling


def test_pulled_dags_keep_their_own_docs(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id in PULLED:
        own = (ROOT / "dags" / f"{dag_id}.py").read_text(encoding="utf-8").split('"""')[1].strip()
        assert dagbag.dags[dag_id].doc_md.startswith(own), dag_id


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_files_do_not_import_heavy_modules_at_parse_time(path: Path) -> None:
    """The dag-processor parses these files constantly: the gateway library loads only inside tasks."""
    probe = (
        "import sys, runpy; sys.path.insert(0, sys.argv[2]); runpy.run_path(sys.argv[1]); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'gateway', 'connectors', 'pyarrow', "
        "'xmlschema', 'hub'}); print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(path), str(ROOT / "dags")],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(filter(None, out.stdout.strip().split(",")))
    assert loaded - LIGHT == set()
