"""GET /v1/standing/{code}: each kind of code finds the entity; malformed, wrong check character and unknown
each get their own answer; every block holds what is in force and nothing else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.gateway.credit.lookup.conftest import (
    CLEAN_USCC,
    LEGACY_ORG,
    ORG,
    REG_NO,
    SHARED_REG,
    UNKNOWN_USCC,
    USCC,
    World,
    bearer,
    valid_uscc,
)


def _standing(client: TestClient, world: World, code: str, caller: str = "xz-tax") -> Any:
    return client.get(
        f"/v1/standing/{code}", params={"matter": "XK-2026-0001"}, headers=bearer(world, caller)
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [(USCC, "uscc"), (REG_NO, "reg_no"), (ORG, "org_code"), (f"{ORG[:8]}-{ORG[8]}", "org_code")],
)
def test_each_kind_of_code_finds_the_entity(client: TestClient, world: World, code: str, kind: str) -> None:
    answer = _standing(client, world, code)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "found" and body["query"]["kind"] == kind
    assert body["entity"]["uscc"] == USCC and body["entity"]["name"] == "忻州市恒通商贸有限公司"
    assert body["report_no"].startswith("LK-") and answer.headers["X-Report-No"] == body["report_no"]


def test_a_legacy_only_entity_is_found_by_its_code_and_by_a_uscc_that_contains_it(
    client: TestClient, world: World
) -> None:
    by_org = _standing(client, world, LEGACY_ORG).json()
    assert by_org["entity"]["name"] == "忻州市老字号酿造厂" and by_org["entity"]["uscc"] is None
    by_uscc = _standing(client, world, valid_uscc("91140900" + LEGACY_ORG)).json()
    assert by_uscc["outcome"] == "found" and by_uscc["entity"]["org_code"] == LEGACY_ORG


def test_the_three_refusals_are_told_apart(client: TestClient, world: World) -> None:
    malformed = _standing(client, world, USCC[:-1] + "00")  # 19 characters
    bad_check = _standing(client, world, USCC[:-1] + ("0" if USCC[-1] != "0" else "1"))  # one digit off
    unknown = _standing(client, world, UNKNOWN_USCC)
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed_code")
    assert (bad_check.status_code, bad_check.json()["error"]["code"]) == (422, "bad_check_character")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_entity")
    assert "长度不对" in malformed.json()["error"]["message"]
    assert "校验位错误" in bad_check.json()["error"]["message"]
    assert "未找到" in unknown.json()["error"]["message"]
    assert unknown.json()["report_no"].startswith("LK-")  # "nothing found" is an answer the department files
    assert "report_no" not in malformed.json() and "report_no" not in bad_check.json()


def test_a_legacy_code_shared_by_two_entities_asks_for_the_uscc(client: TestClient, world: World) -> None:
    answer = _standing(client, world, SHARED_REG)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "ambiguous_code"
    assert sorted(c["name"] for c in answer.json()["candidates"]) == ["忻州市乙公司", "忻州市甲公司"]


def test_the_blocks_hold_what_is_in_force(client: TestClient, world: World) -> None:
    body = _standing(client, world, USCC).json()
    ids = world.ids
    assert body["entity"] | {"registration_record": True} == body["entity"]
    assert body["entity"]["legal_representative"] == "王建国"
    assert body["entity"]["registration_state"] == "存续（在营、开业、在册）"
    assert body["entity"]["reg_no"] == REG_NO and body["entity"]["org_code"] == ORG

    red = body["red_lists"]
    assert [i["record_id"] for i in red["serious_dishonesty"]] == [ids["serious"]]  # the withdrawn one is not
    serious = red["serious_dishonesty"][0]
    assert (serious["listed_by"], serious["listed_on"], serious["until"]) == (
        "忻州市市场监督管理局",
        "2025-06-01",
        "2028-06-01",
    )
    assert serious["reason"] == "提交虚假材料取得登记"
    debtor = red["dishonest_debtor"][0]
    assert (debtor["case_no"], debtor["court"], debtor["performance"]) == (
        "（2026）晋0902执123号",
        "忻州市忻府区人民法院",
        "全部未履行",
    )
    assert red["abnormal_operation"][0]["until"] is None  # no period computed: until unknown

    penalties = {p["record_id"]: p for p in body["penalties"]}
    assert set(penalties) == {ids["penalty_in"], ids["penalty_open"], ids["penalty_stale"]}
    assert penalties[ids["penalty_in"]]["publicity_ends_on"] == (world.today + timedelta(days=90)).isoformat()
    assert penalties[ids["penalty_in"]]["repairable_on"] == "2026-06-01"
    assert penalties[ids["penalty_open"]]["publicity_end_known"] is False
    assert penalties[ids["penalty_stale"]]["publicity_end_known"] is False  # computed for an older version

    assert [c["record_id"] for c in body["commitments"]] == [ids["commit_in_force"], ids["commit_breached"]]
    assert (
        body["commitments"][1]["in_force"] is False and body["commitments"][1]["fulfilment"] == "全部未履行"
    )

    repairs = body["repairs"]
    assert [d["repaired_key"] for d in repairs["decisions"]] == ["忻市监罚〔2025〕5号"]
    assert [(r["record_type"], r["key"]) for r in repairs["repaired_records"]] == [
        ("admin_penalty", "忻市监罚〔2025〕5号")
    ]
    assert [(o["record_id"], o["key"], o["raised_by"]) for o in body["objections"]] == [
        (ids["penalty_open"], "忻市监罚〔2026〕11号", "xz_amr")
    ]
    assert body["summary"] == {
        "red_lists": 3,
        "penalties_in_publicity": 3,
        "commitments": 2,
        "repairs": 2,
        "objections_pending": 1,
    }
    sources = {(s["record_type"], s["source"]): s for s in body["sources"]}
    assert sources[("market_entity", "xz_registry")]["last_received_at"] is not None
    assert sources[("dishonest_debtor", "court_feed")]["last_checked_at"] is not None
    assert sources[("market_entity", "xz_registry")]["last_checked_at"] is None  # a dropped file: no cursor


def test_no_personal_id_number_leaves_in_an_answer(client: TestClient, world: World) -> None:
    text = _standing(client, world, USCC, caller="xz-amr").text
    assert "140902198503121234" not in text  # the debtor's and a penalty's legal representative's ID numbers


def test_an_entity_with_only_its_registration(client: TestClient, world: World) -> None:
    body = _standing(client, world, CLEAN_USCC).json()
    assert body["outcome"] == "found" and body["summary"] == {
        "red_lists": 0,
        "penalties_in_publicity": 0,
        "commitments": 0,
        "repairs": 0,
        "objections_pending": 0,
    }
    assert body["red_lists"] == {"serious_dishonesty": [], "dishonest_debtor": [], "abnormal_operation": []}


def test_the_internal_role_sees_private_commitments_the_department_does_not(
    client: TestClient, world: World
) -> None:
    department = {c["record_id"] for c in _standing(client, world, USCC).json()["commitments"]}
    internal = {c["record_id"] for c in _standing(client, world, USCC, "xz-amr").json()["commitments"]}
    assert world.ids["commit_private"] in internal - department
