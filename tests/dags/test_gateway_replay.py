"""The gateway_replay DAG with dag.test(): no filter fails in select, a dry run changes nothing, a replay of
unchanged data stores nothing and does not wake delivery, a replay after a mapping fix stores the updates
and announces the outbox."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.ingest import ingest_file
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.tables import outbox, record_version, source_file
from tests.dags.dagrun import ROOT, outbox_events
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.e2e
ECOLOGY = REPO_ROOT / "samples" / "inbox" / "xz_ecology" / "环境行政处罚台账.csv"
LICENCES = REPO_ROOT / "samples" / "inbox" / "xz_transport" / "行政许可信息-2026年10月.xlsx"


@pytest.fixture
def home(tmp_path: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A gateway home with two processed department files and a copy of the mappings to fix."""
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO_ROOT / "mappings", mappings)
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")}).with_overrides(
        mappings_dir=mappings
    )
    settings.ensure_dirs()
    migrate(settings.database_url)
    units = {
        name: ingest_file(settings, path, path.parent.name).source_file_id
        for name, path in (
            ("ecology", ECOLOGY),
            ("licences", LICENCES),
        )
    }
    monkeypatch.setenv("GATEWAY_HOME", str(settings.home))
    monkeypatch.setenv("GATEWAY_MAPPINGS_DIR", str(mappings))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    yield {"settings": settings, "units": units}
    engine_for(settings.database_url).dispose()


def stored(settings: Settings) -> tuple[int, int, int]:
    """Source rows, versions and outbox rows."""
    with engine_for(settings.database_url).connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (source_file, record_version, outbox)
        )


def trigger(conf: dict[str, Any]) -> tuple[str, str, dict[str, list[tuple[str, str | None]]]]:
    """dag.test() of this DAG file only; the run's state and each task's (state, map label) per instance."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dag = DagBag(dag_folder=str(ROOT / "dags" / "gateway_replay.py")).dags["gateway_replay"]
    run = dag.test(run_conf=conf)
    states: dict[str, list[tuple[str, str | None]]] = {}
    with create_session() as session:
        instances = session.query(TaskInstance).filter_by(dag_id="gateway_replay", run_id=run.run_id).all()
        for ti in sorted(instances, key=lambda ti: (ti.task_id, ti.map_index)):
            states.setdefault(ti.task_id, []).append((str(ti.state), ti.rendered_map_index))
    return run.run_id, str(run.state), states


def xcom(run_id: str, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run_id, dag_ids="gateway_replay", task_ids=task_id, key="return_value")
        ).all()
        return [XComModel.deserialize_value(row) for row in rows]


def test_select_fails_without_a_filter_and_when_nothing_matches(
    home: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    before = stored(home["settings"])
    _run, state, tasks = trigger({})
    assert state == "failed" and tasks["select"] == [("failed", None)]
    assert "give at least one of source_id, unit_id, since, until" in "".join(capfd.readouterr())
    _run, state, tasks = trigger({"source_id": "xz_nobody"})
    assert state == "failed" and tasks["select"] == [("failed", None)]
    assert "no processed unit with its landed rows matches source_id='xz_nobody'" in "".join(
        capfd.readouterr()
    )
    _run, state, tasks = trigger({"unit_id": 999})
    assert state == "failed" and tasks["select"] == [("failed", None)]
    assert "unit 999: there is no such unit" in "".join(capfd.readouterr())
    assert stored(home["settings"]) == before


def test_dry_run_then_unchanged_then_a_fixed_mapping(home: dict[str, Any]) -> None:
    settings: Settings = home["settings"]
    ecology = home["units"]["ecology"]
    before = stored(settings)
    events = outbox_events()

    run_id, state, tasks = trigger({"source_id": "xz_ecology", "dry_run": True})
    assert state == "success"
    assert tasks["replay"] == [("success", str(ecology))]  # labelled with the unit
    assert tasks["announce_outbox"] == [("skipped", None)]
    assert xcom(run_id, "select") == [[ecology]]
    assert stored(settings) == before

    run_id, state, tasks = trigger({"unit_id": ecology})  # unchanged: stores nothing, wakes nothing
    assert state == "success" and tasks["announce_outbox"] == [("skipped", None)]
    (summary,) = xcom(run_id, "replay")
    assert (summary["unit"], summary["new"], summary["updated"], summary["unchanged"]) == (ecology, 0, 0, 4)
    assert stored(settings) == (before[0] + 1, before[1], before[2])
    assert outbox_events() == events

    mapping = settings.mappings_dir / "xz_ecology_penalty.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(
        text.replace("CF_SJLY: {value: 忻州市生态环境局}", "CF_SJLY: {value: 忻州市生态环境局执法支队}")
    )
    run_id, state, tasks = trigger({"source_id": "xz_ecology", "since": "2000-01-01"})
    assert state == "success" and tasks["announce_outbox"] == [("success", None)]
    (summary,) = xcom(run_id, "replay")
    assert (summary["updated"], summary["unchanged"]) == (4, 0)
    assert xcom(run_id, "report")[0]["updated"] == 4
    after = stored(settings)
    assert after[0] == before[0] + 2 and after[1] == before[1] + 4 and after[2] > before[2]
    assert outbox_events() == events + 1
