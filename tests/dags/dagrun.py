"""Running a DAG of this repository in-process, for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(dag_id: str) -> dict[str, list[str]]:
    """dag.test() one DAG of this repository, insist that it succeeded, and return each task's states (one
    per mapped instance) so a test can tell a skipped task from one that ran."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags[dag_id]
    result = dag.test()
    assert result.state == DagRunState.SUCCESS, f"{dag_id} ended {result.state}"
    states: dict[str, list[str]] = {}
    with create_session() as session:
        instances = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=result.run_id).all()
        for ti in sorted(instances, key=lambda ti: (ti.task_id, ti.map_index)):
            states.setdefault(ti.task_id, []).append(str(ti.state))
    return states


def outbox_events() -> int:
    """How many gateway_outbox asset events Airflow has recorded: what would wake deliver_to_province."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "gateway_outbox")
            .count()
        )
