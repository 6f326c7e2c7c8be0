"""Running a DAG of this repository in-process, for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(dag_id: str) -> None:
    """dag.test() one DAG of this repository and insist that it succeeded."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags[dag_id]
    result = dag.test()
    assert result.state == DagRunState.SUCCESS, f"{dag_id} ended {result.state}"
