"""The double_random DAGs: the file parses into both DAGs in house style, and with dag.test() the draw
draws, signs and verifies a task on a test database and the daily check reports its overdue results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from tests.dags.dagrun import ROOT
from tests.gateway.credit.draws.store_world import add_entities, load_samples, make_keys, plan_and_task

pytestmark = pytest.mark.e2e
FILE = ROOT / "dags" / "double_random.py"


def dags() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(FILE))
    assert bag.import_errors == {}
    return bag.dags


def test_the_file_parses_into_two_documented_dags() -> None:
    from connectors.airflow_setup import POOL
    from connectors.notifiers import GatewayAlertNotifier

    found = dags()
    assert set(found) == {"double_random_draw", "double_random_results"}
    assert type(found["double_random_draw"].timetable).__name__ == "NullTimetable"  # on demand only
    assert set(found["double_random_draw"].params) == {"task_id", "nonce"}
    for dag in found.values():
        assert "gateway" in dag.tags and dag.dagrun_timeout is not None and len(dag.doc_md) > 200
        assert dag.default_args["retries"] >= 2
        for task in dag.tasks:
            assert task.owner == "gateway-platform" and task.doc_md
            assert task.execution_timeout is not None and task.execution_timeout <= dag.dagrun_timeout
            assert any(isinstance(c, GatewayAlertNotifier) for c in task.on_failure_callback or [])
    assert {t.task_id for t in found["double_random_draw"].tasks if t.pool == POOL} == {"draw"}
    assert not [t for t in found["double_random_results"].tasks if t.pool == POOL]


@pytest.fixture
def home(tmp_path: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A gateway home with keys, entities, the sample lists and task T1 (ended 2025-09-26)."""
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")})
    settings.ensure_dirs()
    migrate(settings.database_url)
    make_keys(settings.keys_dir)
    with engine_for(settings.database_url).begin() as conn:
        add_entities(conn, {"A": 40, "D": 10})
    load_samples(settings)
    plan_and_task(settings, "T1", end_date=date(2025, 9, 26))
    monkeypatch.setenv("GATEWAY_HOME", str(settings.home))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    yield settings
    engine_for(settings.database_url).dispose()


def xcom(dag_id: str, run_id: str, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=task_id, key="return_value")
        ).all()
        return XComModel.deserialize_value(rows[0])


def test_the_draw_and_the_daily_check_run(home: Settings) -> None:
    found = dags()
    run = found["double_random_draw"].test(run_conf={"task_id": "T1", "nonce": "witness-1"})
    assert str(run.state) == "success"
    drawn = xcom("double_random_draw", run.run_id, "draw")
    assert drawn["drawn"] == 7 and drawn["counts"]["D"]["quota"] == 5  # 2 of 40 A, 5 of 10 D
    assert xcom("double_random_draw", run.run_id, "verify")["ok"] is True
    daily = found["double_random_results"].test()
    assert str(daily.state) == "success"
    (report,) = xcom("double_random_results", daily.run_id, "overdue")
    assert report["task_id"] == "T1" and report["deadline"] == "2025-10-30"
    assert (report["drawn"], report["results_in"], report["overdue"]) == (7, 0, 7)
