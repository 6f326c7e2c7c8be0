"""The credit_warnings DAG: it parses under the house rules, and its task raises the warnings on a test
database (once: a retry raises nothing new), with the counts in its return value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.credit.warnings.tables import credit_warning
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from tests.gateway.credit.seed import Seed
from tests.gateway.credit.warnings.city import build_city, credit_dir

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "credit_warnings.py"


@pytest.fixture(scope="module")
def dag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["credit_warnings"]


def test_the_dag_follows_the_house_style(dag) -> None:  # type: ignore[no-untyped-def]
    from connectors.airflow_setup import POOL
    from connectors.notifiers import GatewayAlertNotifier

    assert "gateway" in dag.tags and dag.default_args["retries"] >= 2
    assert dag.dagrun_timeout is not None and len(dag.doc_md) > 200
    assert dag.max_active_runs == 1 and not dag.catchup
    (task,) = dag.tasks
    assert task.task_id == "raise_warnings" and task.pool == POOL  # it writes the database
    assert task.owner == "gateway-platform" and task.doc_md
    assert task.execution_timeout is not None and task.execution_timeout <= dag.dagrun_timeout
    assert any(isinstance(c, GatewayAlertNotifier) for c in task.on_failure_callback)
    assert dag.params["as_of"] is None


def test_the_task_raises_the_warnings(dag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")})
    settings.ensure_dirs()
    migrate(settings.database_url)
    with engine_for(settings.database_url).begin() as conn:
        build_city(Seed(conn))
    monkeypatch.setenv("GATEWAY_HOME", str(settings.home))
    monkeypatch.setenv("GATEWAY_CREDIT_DIR", str(credit_dir(tmp_path)))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)

    run = dag.get_task("raise_warnings").python_callable
    first: dict[str, Any] = run(params={"as_of": "2026-06-30"})
    assert first["as_of"] == "2026-06-30" and first["raised"] == 17
    assert first["rules"]["penalties"] == {
        "label": "多次行政处罚",
        "level": "orange",
        "found": 1,
        "raised": 1,
    }
    assert first["by_level"] == {"orange": 4, "red": 2, "yellow": 4, "blue": 7}
    retry = run(params={"as_of": "2026-06-30"})
    assert retry["raised"] == 0 and retry["rules"]["penalties"]["found"] == 1
    with engine_for(settings.database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(credit_warning)).scalar_one() == 17
    engine_for(settings.database_url).dispose()


def test_a_broken_rules_file_fails_without_retry(
    dag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_CREDIT_DIR", str(credit_dir(tmp_path, "rules:\n  - {id: a, kind: nope}\n")))
    with pytest.raises(AirflowFailException, match=r"warning_rules.yaml: rule 'a' \(rules\[1\]\): kind"):
        dag.get_task("raise_warnings").python_callable(params={})
