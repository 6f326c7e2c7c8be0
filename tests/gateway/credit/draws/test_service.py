"""Draws on the store (SQLite and PostgreSQL): counts per risk class, no repeat within a year, inspectors
without conflicts, the signed record verified from itself, and every kind of tampering refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from gateway.credit.draws.algorithm import DrawError
from gateway.credit.draws.service import canonical, run_draw, verify_draw
from gateway.credit.draws.signing import record_signer
from gateway.credit.draws.tables import draw_object, draw_record, draw_task
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.draws.store_world import add_entities, finished_run, load_samples, plan_and_task

POPULATION = {"A": 200, "B": 200, "C": 100, "D": 20}


def world(
    settings: Settings, classes: dict[str | None, int] | None = None
) -> list[tuple[int, str, str | None]]:
    with engine_for(settings.database_url).begin() as conn:
        made = add_entities(conn, classes or POPULATION)
    load_samples(settings)
    return made


def objects(settings: Settings, task_id: str) -> dict[int, tuple[str, list[str]]]:
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(select(draw_object).where(draw_object.c.task_id == task_id)).all()
    return {r.entity_id: (r.stratum, json.loads(r.inspectors)) for r in rows}


def test_a_draw_is_stratified_signed_and_verifies(gateway: Settings) -> None:
    made = world(gateway)
    plan_and_task(gateway, "T1", items=["SC-AMR-002", "SC-EE-001"])  # a joint task of two departments
    result = run_draw(gateway, "T1", "20250601-摇号-0731")
    counts = {name: c["quota"] + c["topup"] for name, c in result.counts.items()}
    assert counts == {"A": 10, "B": 30, "C": 30, "D": 10}
    stored = objects(gateway, "T1")
    classes = {e: c for e, _, c in made}
    assert len(stored) == 80 and all(classes[e] == s for e, (s, _) in stored.items())
    for _stratum, people in stored.values():
        amr = [p for p in people if p.startswith("AMR-")]
        ee = [p for p in people if p.startswith("EE-")]
        assert len(amr) == 2 and len(ee) == 2
        assert set(amr) <= {"AMR-0001", "AMR-0002"}  # 食品安全 qualified and active (AMR-0005 is not)
    record = result.record
    assert record["task"]["departments"] == ["市市场监督管理局", "市生态环境局"]
    assert record["population"]["size"] == 520 and record["floor_total"] == 16
    check = verify_draw(gateway, "T1")
    assert check.ok, check.reason
    with pytest.raises(DrawError, match="已抽取"):
        run_draw(gateway, "T1", "again")


def test_unclassified_entities_go_to_the_configured_stratum(gateway: Settings) -> None:
    world(gateway, {"A": 100, None: 100})
    plan_and_task(gateway, "T1")
    counts = run_draw(gateway, "T1", "n").counts
    assert counts["B"]["scope"] == 100 and counts["B"]["quota"] == 15


def test_the_latest_finished_run_gives_the_class(gateway: Settings) -> None:
    with engine_for(gateway.database_url).begin() as conn:
        made = add_entities(conn, {"A": 40})
        newer = finished_run(conn, "2025-06")
        from gateway.credit.risk.tables import credit_class

        conn.execute(
            credit_class.insert(),
            [
                {
                    "run_id": newer,
                    "entity_id": e,
                    "class": "D",
                    "score_class": "D",
                    "score": 1.0,
                    "dimensions": "{}",
                    "evidence": "[]",
                }
                for e, _, _ in made
            ],
        )
        finished_run(conn, "2025-07", status="running")  # not finished: ignored
    load_samples(gateway)
    plan_and_task(gateway, "T1")
    assert run_draw(gateway, "T1", "n").counts == {
        "D": {"scope": 40, "eligible": 40, "quota": 20, "topup": 0}
    }


def test_no_object_is_drawn_twice_in_a_year(gateway: Settings) -> None:
    world(gateway, {"D": 40})
    plan_and_task(gateway, "T1")
    plan_and_task(gateway, "T2")
    plan_and_task(gateway, "T3", allow_repeat=True)
    plan_and_task(gateway, "T2026", plan_id="P2026", year=2026)
    run_draw(gateway, "T1", "n1")
    first = set(objects(gateway, "T1"))
    second = run_draw(gateway, "T2", "n2")
    assert second.record["population"]["drawn_earlier_this_year"] == 20
    assert set(objects(gateway, "T2")).isdisjoint(first) and len(objects(gateway, "T2")) == 20
    third = run_draw(gateway, "T3", "n3")
    assert third.record["population"]["size"] == 40 and len(objects(gateway, "T3")) == 20  # all 40 again
    assert run_draw(gateway, "T2026", "n4").record["population"]["size"] == 40  # a new year
    plan_and_task(gateway, "T4")
    with pytest.raises(DrawError, match="没有可抽取的对象"):
        run_draw(gateway, "T4", "n5")
    for task_id in ("T1", "T2", "T3", "T2026"):
        assert verify_draw(gateway, task_id).ok


def test_conflicted_inspectors_are_never_drawn(gateway: Settings) -> None:
    made = world(gateway, {"D": 6})
    codes = [c for _, c, _ in made]
    with engine_for(gateway.database_url).begin() as conn:
        from gateway.credit.draws.tables import draw_inspector

        conn.execute(
            update(draw_inspector)
            .where(draw_inspector.c.code.in_(["AMR-0001", "AMR-0003"]))
            .values(conflicts=json.dumps(codes[:3]))
        )
    conflicted = {e for e, c, _ in made if c in codes[:3]}
    for n in range(12):
        plan_and_task(gateway, f"T{n}", allow_repeat=True)
        run_draw(gateway, f"T{n}", f"nonce-{n}")
        for entity_id, (_, people) in objects(gateway, f"T{n}").items():
            if entity_id in conflicted:
                assert not {"AMR-0001", "AMR-0003"} & set(people), (n, entity_id, people)


def test_too_few_inspectors_is_a_clear_error(gateway: Settings) -> None:
    world(gateway, {"D": 4})
    plan_and_task(gateway, "T1", items=["SC-AMR-003"])  # 特种设备: AMR-0002 and AMR-0003 qualify
    with engine_for(gateway.database_url).begin() as conn:
        from gateway.credit.draws.tables import draw_inspector

        conn.execute(update(draw_inspector).where(draw_inspector.c.code == "AMR-0003").values(active=False))
    with pytest.raises(DrawError, match="市市场监督管理局 符合条件的执法检查人员只有 1 名"):
        run_draw(gateway, "T1", "n")
    with engine_for(gateway.database_url).connect() as conn:
        assert (
            conn.execute(select(draw_task.c.status).where(draw_task.c.task_id == "T1")).scalar() == "planned"
        )


def test_directed_tasks_filter_by_area_and_type(gateway: Settings) -> None:
    with engine_for(gateway.database_url).begin() as conn:
        add_entities(conn, {"D": 10}, area="140902")
        add_entities(conn, {"D": 10}, start=100, area="140921", enttype="股份有限公司")
        add_entities(conn, {"D": 10}, start=200, area="140902", state="注销")
        add_entities(conn, {"D": 10}, start=300, prefix="92")  # 个体工商户: out of the default scope
    load_samples(gateway)
    plan_and_task(gateway, "T1", mode="定向", filters={"area": ["140921"]})
    plan_and_task(gateway, "T2", mode="定向", filters={"type": "有限责任"}, allow_repeat=True)
    plan_and_task(gateway, "T3", allow_repeat=True)
    assert run_draw(gateway, "T1", "n").record["population"]["scope_size"] == 10
    t2 = run_draw(gateway, "T2", "n").record
    assert t2["population"]["scope_size"] == 10 and all(o["uscc"][2:8] == "140902" for o in t2["drawn"])
    assert run_draw(gateway, "T3", "n").record["population"]["scope_size"] == 20
    with pytest.raises(DrawError, match="industry 暂不支持"):
        plan_and_task(gateway, "T4", mode="定向", filters={"industry": ["C13"]})
    with pytest.raises(DrawError, match="定向抽查须给出"):
        plan_and_task(gateway, "T5", mode="定向")


# ---------------------------------------------------------------------------------------------- tampering
def drawn(gateway: Settings) -> None:
    world(gateway, {"A": 100, "C": 50})
    plan_and_task(gateway, "T1")
    run_draw(gateway, "T1", "witness")
    assert verify_draw(gateway, "T1").ok


def change_record(gateway: Settings, **values: object) -> None:
    with engine_for(gateway.database_url).begin() as conn:
        conn.execute(update(draw_record).where(draw_record.c.task_id == "T1").values(**values))


def stored_row(gateway: Settings):  # type: ignore[no-untyped-def]
    with engine_for(gateway.database_url).connect() as conn:
        return conn.execute(select(draw_record).where(draw_record.c.task_id == "T1")).one()


def test_an_edited_record_is_refused(gateway: Settings) -> None:
    drawn(gateway)
    text = stored_row(gateway).record
    change_record(gateway, record=text.replace('"nonce":"witness"', '"nonce":"witnesS"'))
    result = verify_draw(gateway, "T1")
    assert not result.ok and "签名验证失败" in result.reason


def test_an_edited_signature_is_refused(gateway: Settings) -> None:
    drawn(gateway)
    signature = bytearray(base64.b64decode(stored_row(gateway).signature))
    signature[5] ^= 0x01
    change_record(gateway, signature=base64.b64encode(bytes(signature)).decode())
    result = verify_draw(gateway, "T1")
    assert not result.ok and "签名验证失败" in result.reason
    change_record(gateway, signature="不是base64")
    assert "签名无法核验" in verify_draw(gateway, "T1").reason


def test_a_swapped_drawn_object_is_refused(gateway: Settings) -> None:
    drawn(gateway)
    with engine_for(gateway.database_url).begin() as conn:
        taken = set(conn.execute(select(draw_object.c.entity_id)).scalars())
        other = min(set(range(1, 151)) - taken)
        conn.execute(update(draw_object).where(draw_object.c.entity_id == min(taken)).values(entity_id=other))
    result = verify_draw(gateway, "T1")
    assert not result.ok and "抽中对象表与签名的记录不一致" in result.reason


def test_a_validly_signed_but_cherry_picked_record_is_refused(gateway: Settings) -> None:
    """Even the key holder cannot choose the objects: the draw is re-run from the record."""
    drawn(gateway)
    row = stored_row(gateway)
    record = json.loads(row.record)
    record["drawn"][0]["uscc"], record["drawn"][0]["name"] = "91140902000000000X", "自选企业"
    text = canonical(record)
    signer = record_signer(gateway, int(datetime.now(UTC).timestamp()))
    change_record(gateway, record=text, signature=base64.b64encode(signer.sign(text.encode())).decode())
    result = verify_draw(gateway, "T1")
    assert not result.ok and "按记录重新抽取，抽中的对象与记录不同" in result.reason


def test_an_edited_population_is_refused(gateway: Settings) -> None:
    drawn(gateway)
    population = stored_row(gateway).population
    change_record(gateway, population=population.replace("\tC\n", "\tA\n", 1))
    result = verify_draw(gateway, "T1")
    assert not result.ok and "冻结的抽取范围与记录中的哈希不符" in result.reason


def test_verification_does_not_depend_on_the_store_afterwards(gateway: Settings) -> None:
    drawn(gateway)
    with engine_for(gateway.database_url).begin() as conn:
        from gateway.credit.risk.tables import credit_class

        conn.execute(update(credit_class).values({"class": "D"}))  # every entity changes class later
    assert verify_draw(gateway, "T1").ok


def test_the_sm_suite_signs_with_sm2(gateway: Settings) -> None:
    sm = gateway.with_overrides(suite="sm")
    world(sm, {"B": 30})
    plan_and_task(sm, "T1")
    result = run_draw(sm, "T1", "n")
    assert result.record["key_id"].startswith("sm2sig:")
    assert verify_draw(sm, "T1").ok
