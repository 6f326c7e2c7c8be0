"""The credit_classify DAG with dag.test(): it classifies the month asked for, keeps the run, and its XCom
carries the report (entities per class, the moves since the run before)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.credit.risk.tables import credit_run
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from tests.dags.dagrun import ROOT
from tests.gateway.credit.seed import Seed

pytestmark = pytest.mark.e2e


@pytest.fixture
def home(tmp_path: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")})
    settings.ensure_dirs()
    migrate(settings.database_url)
    with engine_for(settings.database_url).begin() as conn:
        store = Seed(conn)
        store.entity("91140900MA0K00001A", "91140900MA0K00001A")
        listed = store.entity("91140900MA0K00002B", "91140900MA0K00002B")
        store.record(listed, "serious_dishonesty", "SXMD-2", {"LIST_ID": "SXMD-2", "ABNTIME": "2026-03-01"})
        store.entity("92140900MA0K00003C", "92140900MA0K00003C")  # a sole trader: out of scope
    monkeypatch.setenv("GATEWAY_HOME", str(settings.home))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    yield settings
    engine_for(settings.database_url).dispose()


def _report(run_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=run_id, dag_ids="credit_classify", key="return_value")
        ).one()
        return XComModel.deserialize_value(row)


def test_a_month_is_classified_and_reported(home: Settings) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    dag = DagBag(dag_folder=str(ROOT / "dags" / "credit_classify.py")).dags["credit_classify"]
    first = dag.test(run_conf={"period": "2026-10"})
    assert first.state == DagRunState.SUCCESS
    report = _report(first.run_id)
    assert (report["period"], report["as_of"]) == ("2026-10", "2026-10-31")
    assert (
        report["counts"] == {"A": 1, "B": 0, "C": 0, "D": 1} and report["vetoed"]["serious_dishonesty"] == 1
    )
    assert report["moves"] == {"new->A": 1, "new->D": 1}

    again = dag.test(run_conf={"period": "2026-10"})
    assert _report(again.run_id)["moves"] == {}  # nothing changed: nobody moved
    with engine_for(home.database_url).connect() as conn:
        runs = conn.execute(select(credit_run.c.period, credit_run.c.status)).all()
    assert runs == [("2026-10", "finished"), ("2026-10", "finished")]
