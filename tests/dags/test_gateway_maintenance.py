"""The gateway_maintenance DAG with dag.test(): a dry run changes nothing and says what would go; a real run
removes what is past its retention, vacuums, and returns the daily summary as its XCom."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from gateway.ingest import ingest_file
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.tables import delivery_batch, source_file
from tests.dags.dagrun import ROOT
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.e2e
SAMPLE = REPO_ROOT / "samples" / "inbox" / "xz_amr" / "2026年10月行政处罚信息.csv"
JOBS = ("landing", "outbox", "receipts", "vacuum")


@pytest.fixture
def old_home(tmp_path: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A gateway home holding one of each thing past its retention: a processed file's landed rows (200
    days old), an acknowledged batch's XML and envelope (two days), a dated archive folder (two years)."""
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")})
    settings.ensure_dirs()
    migrate(settings.database_url)
    now = datetime.now(UTC)
    unit = ingest_file(settings, SAMPLE, "xz_amr").source_file_id
    batch_id = "20260101-000001-admin_penalty"
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(update(source_file).values(received_at=now - timedelta(days=200)))
        conn.execute(
            insert(delivery_batch),
            [
                {
                    "batch_id": batch_id,
                    "seq": 1,
                    "record_type": "admin_penalty",
                    "records": 1,
                    "status": "acknowledged",
                    "attempts": 1,
                    "created_at": now - timedelta(days=2),
                    "updated_at": now - timedelta(days=2),
                    "sent_at": now - timedelta(days=2),
                }
            ],
        )
    xml, envelope = settings.outbox_dir / f"{batch_id}.xml", settings.outbox_dir / f"{batch_id}.s1.gwenv"
    xml.write_text("<Batch/>", encoding="utf-8")
    envelope.write_bytes(b"sealed")
    archive = settings.dropzone / "xz_amr" / "processed" / f"{now - timedelta(days=730):%Y-%m-%d}"
    archive.mkdir(parents=True)
    shutil.copyfile(SAMPLE, archive / "ab12cd34-export.csv")
    (archive / "ab12cd34-export.csv.receipt.txt").write_text("回执", encoding="utf-8")
    monkeypatch.setenv("GATEWAY_HOME", str(settings.home))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    yield {"settings": settings, "unit": unit, "xml": xml, "envelope": envelope, "archive": archive}
    engine_for(settings.database_url).dispose()


def landing_path(settings: Settings, unit: int) -> str | None:
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(select(source_file.c.landing_path).where(source_file.c.id == unit)).scalar_one()


def xcoms(run_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run_id, dag_ids="gateway_maintenance", key="return_value")
        ).all()
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


def task_states(run_id: str) -> dict[str, list[str]]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        instances = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == "gateway_maintenance", TaskInstance.run_id == run_id
            )
        ).all()
        return {ti.task_id: [str(ti.state)] for ti in instances}


def test_a_dry_run_then_a_real_run(old_home: dict[str, Any]) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    settings: Settings = old_home["settings"]
    landed = landing_path(settings, old_home["unit"])
    assert landed is not None and os.path.isfile(landed)

    # Only this file is parsed (it sits in the configured dags folder, as dag.test() needs).
    dag = DagBag(dag_folder=str(ROOT / "dags" / "gateway_maintenance.py")).dags["gateway_maintenance"]
    dry = dag.test(run_conf={"dry_run": True})
    assert dry.state == DagRunState.SUCCESS
    reports = xcoms(dry.run_id)
    assert all(reports[job]["dry_run"] for job in JOBS)
    assert (reports["landing"]["files"], reports["outbox"]["files"], reports["receipts"]["folders"]) == (
        1,
        1,
        1,
    )
    assert landing_path(settings, old_home["unit"]) == landed and os.path.isfile(landed)
    assert old_home["xml"].exists() and old_home["archive"].is_dir()

    real = dag.test(run_conf={"dry_run": False})
    assert real.state == DagRunState.SUCCESS
    assert task_states(real.run_id) == {task: ["success"] for task in (*JOBS, "summary")}
    assert not os.path.exists(landed) and landing_path(settings, old_home["unit"]) is None
    assert not old_home["xml"].exists() and old_home["envelope"].exists()  # envelopes are kept by default
    assert not old_home["archive"].exists()

    reports = xcoms(real.run_id)
    assert [reports[job]["files"] for job in ("landing", "outbox", "receipts")] == [1, 1, 2]
    assert reports["vacuum"]["detail"]["size_after"] > 0
    summary = reports["summary"]
    assert summary["batches"]["open_now"] == 0 and summary["oldest_unacknowledged"] is None
    assert summary["records"]["held"] > 0
