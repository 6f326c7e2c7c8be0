"""The risk classes computed from records: points, decay, caps, windows, vetoes, repairs, scope, moves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from gateway.credit.facts import load_repair_rules
from gateway.credit.risk.classify import classify, last_day, period_of
from gateway.credit.risk.model import RiskModel, load_model
from gateway.credit.risk.service import current_classes, history
from gateway.credit.risk.tables import credit_class, credit_model, credit_run
from gateway.schema import load_record_types
from gateway.settings import CREDIT_DEFAULTS
from gateway.store.db import engine_for
from gateway.store.tables import metadata as store_metadata
from tests.gateway.credit.seed import Seed

AS_OF = date(2026, 11, 30)
ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def model() -> RiskModel:
    return load_model(CREDIT_DEFAULTS / "risk_model.yaml", load_record_types(ROOT / "schemas"))


@pytest.fixture
def conn(database_url: str) -> Iterator[Connection]:
    with engine_for(database_url).begin() as connection:
        yield connection


def _run(conn: Connection, model: RiskModel, as_of: date = AS_OF) -> dict[int, dict[str, object]]:
    report = classify(
        conn, model, period_of(as_of), as_of, load_repair_rules(CREDIT_DEFAULTS / "repairs.yaml")
    )
    rows = conn.execute(select(credit_class).where(credit_class.c.run_id == report.run_id)).all()
    return {
        r.entity_id: {
            "class": r._mapping["class"],
            "score_class": r.score_class,
            "score": r.score,
            "veto": r.veto,
            "dimensions": json.loads(r.dimensions),
            "evidence": json.loads(r.evidence),
        }
        for r in rows
    }


def _penalty(store: Seed, entity_id: int, number: str, day: str) -> int:
    return store.record(
        entity_id, "admin_penalty", f"11140900MB0000000X|{number}", {"CF_WSH": number, "CF_JDRQ": day}
    )


def test_an_entity_without_records_is_a_with_every_dimension_full(conn: Connection, model: RiskModel) -> None:
    store = Seed(conn)
    clean = store.entity("91140900MA0K00001A", "91140900MA0K00001A")
    got = _run(conn, model)[clean]
    assert got["class"] == "A" and got["score"] == 100.0 and got["veto"] is None
    assert got["dimensions"] == {"basic": 10, "dynamic": 20, "supervision": 45, "related": 10, "social": 15}
    assert got["evidence"] == []


def test_penalties_cost_points_with_decay_cap_and_window(conn: Connection, model: RiskModel) -> None:
    store = Seed(conn)
    two_new = store.entity("91140900MA0K00002B", "91140900MA0K00002B")
    fresh = [_penalty(store, two_new, f"忻市监罚〔2026〕{n}号", "2026-11-30") for n in (1, 2)]
    old = store.entity("91140900MA0K00003C", "91140900MA0K00003C")
    year_old = _penalty(store, old, "忻市监罚〔2025〕9号", "2025-11-30")  # one half-life: 4 of 8 points
    _penalty(store, old, "忻市监罚〔2022〕9号", "2022-11-01")  # outside the three-year window
    _penalty(store, old, "忻市监罚〔2027〕1号", "2026-12-15")  # after as_of: it did not exist yet
    many = store.entity("91140900MA0K00004D", "91140900MA0K00004D")
    four = [_penalty(store, many, f"忻市监罚〔2026〕{n}号", "2026-11-30") for n in (11, 12, 13, 14)]

    got = _run(conn, model)
    assert got[two_new]["evidence"] == [["penalties", fresh[0], 8], ["penalties", fresh[1], 8]]
    assert got[two_new]["score"] == 84.0 and got[two_new]["class"] == "B"
    assert got[old]["evidence"] == [["penalties", year_old, 4]]
    # 4 × 8 = 32 passes the cap of 24: each record is charged 6, and all four stay named
    assert sorted(got[many]["evidence"]) == sorted(["penalties", r, 6] for r in four)
    assert got[many]["dimensions"]["supervision"] == 21


def test_a_veto_forces_d_whatever_the_score(conn: Connection, model: RiskModel) -> None:
    store = Seed(conn)
    listed = store.entity("91140900MA0K00005E", "91140900MA0K00005E")
    listing = store.record(
        listed, "serious_dishonesty", "SXMD-1", {"LIST_ID": "SXMD-1", "ABNTIME": "2026-05-01"}
    )
    debtor = store.entity("91140900MA0K00006F", "91140900MA0K00006F")
    store.record(
        debtor, "dishonest_debtor", "c|1|x", {"caseCode": "(2026)晋09执1号", "regDate": "2026-01-05"}
    )

    got = _run(conn, model)
    assert got[listed]["score_class"] == "A" and got[listed]["score"] == 100.0
    assert got[listed]["class"] == "D" and got[listed]["veto"] == "serious_dishonesty"
    assert ["veto:serious_dishonesty", listing, 0] in got[listed]["evidence"]
    # a dishonest debtor: 10 points (A → B by the score), then at least C by its veto
    assert got[debtor]["score_class"] == "A" and got[debtor]["class"] == "C"
    assert got[debtor]["veto"] == "dishonest_debtor"


def test_a_repaired_or_withdrawn_record_no_longer_counts(conn: Connection, model: RiskModel) -> None:
    store = Seed(conn)
    repaired = store.entity("91140900MA0K00007G", "91140900MA0K00007G")
    _penalty(store, repaired, "忻环罚〔2026〕5号", "2026-10-01")
    refused = store.entity("91140900MA0K00008H", "91140900MA0K00008H")
    kept = _penalty(store, refused, "忻环罚〔2026〕6号", "2026-10-01")
    withdrawn = store.entity("91140900MA0K00009J", "91140900MA0K00009J")
    store.record(withdrawn, "serious_dishonesty", "SXMD-9", {"LIST_ID": "SXMD-9"}, status="withdrawn")
    before = _run(conn, model)
    assert len(before[repaired]["evidence"]) == 1 and before[repaired]["score"] < 100
    assert before[withdrawn]["class"] == "A" and before[withdrawn]["evidence"] == []

    for entity_id, number, result in ((repaired, "5", "准予修复，已停止公示"), (refused, "6", "不予修复")):
        store.record(
            entity_id,
            "credit_repair",
            f"XYXF-{number}",
            {
                "repaired_type": "行政处罚",
                "repaired_key": f"忻环罚〔2026〕{number}号",
                "repair_result": result,
            },
            department="xz_credit",
        )
    after = _run(conn, model)
    assert after[repaired]["score"] == 100.0 and after[repaired]["evidence"] == []
    assert [item[1] for item in after[refused]["evidence"]] == [kept]  # a refused repair repairs nothing


def test_scope_is_enterprises_by_uscc(conn: Connection, model: RiskModel) -> None:
    store = Seed(conn)
    company = store.entity("91140900MA0K00010K", "91140900MA0K00010K")
    sole_trader = store.entity("92140900MA0K00011L", "92140900MA0K00011L")
    cooperative = store.entity("93140900MA0K00012M", "93140900MA0K00012M")
    got = _run(conn, model)
    assert company in got and sole_trader not in got and cooperative not in got


def test_related_changes_and_expired_licences(conn: Connection, model: RiskModel) -> None:
    store = Seed(conn)
    good = store.entity("91140900MA0K00013N", "91140900MA0K00013N")
    bad = store.entity("91140900MA0K00014P", "91140900MA0K00014P")
    store.record(good, "market_entity", "P1", {"NAME": "张三", "ESTDATE": "2010-01-01"})
    store.record(bad, "market_entity", "P2", {"NAME": " 张三 ", "ESTDATE": "2012-01-01"})
    listing = store.record(bad, "serious_dishonesty", "SXMD-14", {"LIST_ID": "SXMD-14"})
    moving = store.entity("91140900MA0K00015Q", "91140900MA0K00015Q")
    registration = store.record(
        moving,
        "market_entity",
        "P3",
        {"NAME": "李四", "ESTDATE": "2015-01-01"},
    )
    for version in (2, 3):  # two updates of its registration, both within the year before as_of
        store.new_version(
            registration, version, {"NAME": "李四", "ESTDATE": "2015-01-01", "DOM": f"地址{version}"}
        )
    licensed = store.entity("91140900MA0K00016R", "91140900MA0K00016R")
    licence = store.record(licensed, "admin_license", "L1", {"XK_YXQZI": "2026-06-30"})
    store.record(licensed, "admin_license", "L2", {"XK_YXQZI": "2027-06-30"})

    got = _run(conn, model)
    assert got[good]["evidence"] == [["related_bad", listing, 5]]
    assert got[good]["dimensions"]["related"] == 5
    assert got[bad]["dimensions"]["related"] == 10  # its own listing is not a related party's
    assert got[moving]["evidence"] == [
        ["frequent_changes", registration, 2],
        ["frequent_changes", registration, 2],
    ]
    assert got[licensed]["evidence"] == [["licence_expired", licence, 4]]


def test_runs_keep_history_and_count_moves(conn: Connection, model: RiskModel) -> None:
    store = Seed(conn)
    steady = store.entity("91140900MA0K00017T", "91140900MA0K00017T")
    falling = store.entity("91140900MA0K00018U", "91140900MA0K00018U")
    first = classify(conn, model, "2026-10", date(2026, 10, 31), [])
    assert first.moves == {"new->A": 2}
    store.record(falling, "serious_dishonesty", "SXMD-18", {"LIST_ID": "SXMD-18"})
    second = classify(conn, model, "2026-11", AS_OF, [])
    assert second.moves == {"A->D": 1} and second.moved() == 1
    assert second.counts == {"A": 1, "B": 0, "C": 0, "D": 1}
    assert [(row.period, row.cls) for row in history(conn, falling)] == [("2026-11", "D"), ("2026-10", "A")]
    assert current_classes(conn) == {steady: "A", falling: "D"}
    stored = conn.execute(select(credit_run.c.status, credit_run.c.moves).order_by(credit_run.c.id)).all()
    assert [status for status, _ in stored] == ["finished", "finished"]
    assert json.loads(stored[1][1]) == {"A->D": 1}
    assert conn.execute(select(func.count()).select_from(credit_model)).scalar_one() == 1


def test_classifying_writes_no_table_of_the_store(conn: Connection, model: RiskModel) -> None:
    store = Seed(conn)
    target = store.entity("91140900MA0K00019V", "91140900MA0K00019V")
    _penalty(store, target, "忻市监罚〔2026〕77号", "2026-11-01")

    def snapshot() -> dict[str, list[tuple[object, ...]]]:
        return {
            name: [tuple(row) for row in conn.execute(select(table)).all()]
            for name, table in store_metadata.tables.items()
        }

    before = snapshot()
    _run(conn, model)
    assert snapshot() == before


def test_the_period_helpers() -> None:
    assert period_of(date(2026, 2, 14)) == "2026-02"
    assert last_day("2026-02") == date(2026, 2, 28) and last_day("2026-12") == date(2026, 12, 31)
