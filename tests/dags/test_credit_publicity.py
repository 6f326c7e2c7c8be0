"""The credit_publicity DAG: it parses under the house rules, and its tasks withdraw an expired penalty and a
repaired one and lapse an overdue objection — once: a repeated run does nothing and wakes no delivery."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select

from gateway.credit.objections.service import raise_objection
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.tables import outbox, record, record_hold, record_version
from tests.gateway.credit.seed import NOW, Seed

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "credit_publicity.py"
TASKS = ("withdraw_expired", "apply_repairs", "lapse_objections")


@pytest.fixture(scope="module")
def dag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["credit_publicity"]


def test_the_dag_follows_the_house_style(dag) -> None:  # type: ignore[no-untyped-def]
    from connectors.airflow_setup import POOL

    assert "gateway" in dag.tags and dag.default_args["retries"] >= 2
    assert dag.max_active_runs == 1 and not dag.catchup and len(dag.doc_md) > 200
    for task_id in TASKS:
        task = dag.get_task(task_id)
        assert task.pool == POOL and task.doc_md and task.execution_timeout is not None
    assert dag.get_task("apply_repairs").upstream_task_ids == {"withdraw_expired"}
    assert dag.get_task("lapse_objections").upstream_task_ids == {"apply_repairs"}
    assert dag.get_task("announce_outbox").upstream_task_ids == {"totals"}
    assert dag.params["as_of"] is None


def _penalty(seed: Seed, firm: int, number: str, decided: str) -> int:
    payload = {
        "CF_WSH": number,
        "CF_JDRQ": decided,
        "CF_CFLB": "罚款",
        "CF_NR_FK": "10",  # 10 万元: not a 较低数额罚款, published 3 years
        "CF_XDR_LB": "法人及非法人组织",
        "CF_CFJG": "忻州市市场监督管理局",
        "CF_CFJGDM": "11140900MB1950016E",
    }
    return seed.record(firm, "admin_penalty", f"11140900MB1950016E|{number}", payload)


def _sent(conn: Connection, record_id: int) -> None:
    version = conn.execute(
        select(record_version.c.id).where(record_version.c.record_id == record_id)
    ).scalar()
    conn.execute(
        insert(outbox).values(record_version_id=version, record_type="admin_penalty", created_at=NOW)
    )


def test_the_tasks_withdraw_and_release_once(dag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")})
    settings.ensure_dirs()
    migrate(settings.database_url)
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州甲公司")
        expired = _penalty(seed, firm, "忻市监罚〔2023〕17号", "2023-03-15")  # 3 years: ended 2026-03-15
        repaired = _penalty(seed, firm, "忻市监罚〔2025〕6号", "2025-01-20")
        held = _penalty(seed, firm, "忻市监罚〔2026〕3号", "2026-05-20")
        for record_id in (expired, repaired, held):
            _sent(conn, record_id)
        repair = {"repair_no": "XF-1", "repaired_type": "行政处罚", "repaired_key": "忻市监罚〔2025〕6号"}
        seed.record(
            firm, "credit_repair", "XF-1", {**repair, "repair_date": "2026-06-01", "repair_result": "准予"}
        )
    monkeypatch.setenv("GATEWAY_HOME", str(settings.home))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATEWAY_CREDIT_DIR", raising=False)
    raise_objection(
        settings,
        channel="department",
        raised_by="xz_amr",
        reason="金额有误",
        record_id=held,
        raised_on=date(2026, 6, 1),
    )

    def run_all() -> list[dict[str, Any]]:
        params = {"as_of": "2026-06-30"}
        results = [dag.get_task(task_id).python_callable(params=params) for task_id in TASKS]
        return [*results, dag.get_task("totals").python_callable(*results)]

    first = run_all()
    again = run_all()

    with engine_for(settings.database_url).connect() as conn:
        status = dict(conn.execute(select(record.c.id, record.c.status)).all())
        holds = conn.execute(select(record_hold.c.record_id)).all()
    engine_for(settings.database_url).dispose()
    assert first[0]["withdrawn"] == 1 and first[0]["sent"] == 1
    assert first[1] == {"withdrawn": 1, "sent": 1, "entities": 1}
    assert first[2] == {"lapsed": 1, "released": 1}
    assert first[3] == {"withdrawn": 2, "updated": 1}
    assert (status[expired], status[repaired], status[held]) == ("expired", "repaired", "active")
    assert holds == []
    assert again[3] == {"withdrawn": 0, "updated": 0}  # announce_outbox is skipped: delivery is not woken
