"""Every DAG file imports cleanly, fast, and follows the project's conventions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
    }


def test_dags_are_tagged_and_retry(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id in dagbag.dag_ids:
        dag = dagbag.dags[dag_id]
        assert "gateway" in dag.tags, dag_id
        assert dag.default_args.get("retries", 0) >= 2, dag_id


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
    assert out.stdout.strip() == ""
