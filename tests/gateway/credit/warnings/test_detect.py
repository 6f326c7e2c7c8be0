"""Each kind of rule, on the small city of conftest.py: what it raises, for whom, with which evidence and
figures, and what it leaves alone."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from gateway.credit.warnings.detect import day, months_before, normalised, within
from gateway.credit.warnings.raising import raise_warnings
from gateway.credit.warnings.tables import credit_warning
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.seed import AS_OF


def warnings_of(settings: Settings, rule_id: str) -> list[dict[str, Any]]:
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            select(credit_warning)
            .where(credit_warning.c.rule_id == rule_id)
            .order_by(credit_warning.c.entity_id)
        )
        found = [dict(row._mapping) for row in rows]
    for row in found:
        row["evidence"] = json.loads(row["evidence"])
    return found


@pytest.fixture
def raised(credit_settings: Settings, city: dict[str, Any]) -> Settings:
    report = raise_warnings(credit_settings, AS_OF)
    assert report.total_raised == sum(report.found.values()) > 0
    return credit_settings


def test_repeated_penalties(raised: Settings, city: dict[str, Any]) -> None:
    (warning,) = warnings_of(
        raised, "penalties"
    )  # not the one with two, not the one whose third is withdrawn
    assert warning["entity_id"] == city["penalised"]
    assert warning["level"] == "orange" and warning["state"] == "new"
    assert warning["title"] == "近365日内受到行政处罚3次（罚款合计4.5万元）"
    assert warning["department"] == "xz_amr_enforcement"  # where the penalties came from
    evidence = warning["evidence"]
    assert [r["record_id"] for r in evidence["records"]] == sorted(city["penalties"])
    assert {r["record_type"] for r in evidence["records"]} == {"admin_penalty"}
    assert evidence["records"][0]["version"] == 1
    assert evidence["records"][0]["fields"]["CF_WSH"] == "忻市监罚〔2026〕1号"
    assert evidence["figures"] == {"count": 3, "days": 365, "fine_total": 4.5}


def test_new_listings(raised: Settings, city: dict[str, Any]) -> None:
    (listed,) = warnings_of(raised, "dishonesty_listed")
    assert listed["entity_id"] == city["dishonest"] and listed["level"] == "red"
    assert listed["title"] == "新列入严重违法失信名单（2026-06-20）"
    assert [r["record_id"] for r in listed["evidence"]["records"]] == [city["listing"]]
    (abnormal,) = warnings_of(raised, "abnormal_listed")  # the listing of April is older than 30 days
    assert abnormal["entity_id"] == city["abnormal"] and abnormal["title"] == "新列入经营异常名录"
    assert abnormal["evidence"]["figures"]["authority"] == "忻府区市场监督管理局"


def test_new_dishonest_debtor(raised: Settings, city: dict[str, Any]) -> None:
    (warning,) = warnings_of(raised, "debtor")  # the removed one is not new
    assert warning["entity_id"] == city["debtor"]
    assert warning["department"] == "xz_court"  # routed: the pulled source is not a department
    assert warning["evidence"]["records"][0]["department"] == "judicial_feed"  # where it came from
    assert warning["evidence"]["figures"]["case_code"] == "(2026)晋09执1号"


def test_complaint_surge(raised: Settings, city: dict[str, Any]) -> None:
    (warning,) = warnings_of(raised, "complaints")  # 5 against 4 is no surge
    assert warning["entity_id"] == city["surge"]
    assert warning["title"] == "近3个月投诉5件，此前1件"
    assert warning["evidence"]["figures"] == {"months": 3, "prior": 1, "ratio": 5.0, "recent": 5}
    assert len(warning["evidence"]["records"]) == 5 and warning["department"] == "xz_12345"


def test_licences(raised: Settings, city: dict[str, Any]) -> None:
    (expiring,) = warnings_of(raised, "expiring")
    assert [r["record_id"] for r in expiring["evidence"]["records"]] == [city["expiring"]]
    assert expiring["title"] == "许可将于2026-07-20到期（剩20日）"
    assert expiring["department"] == "xz_ecology"  # routed by the issuing authority
    (expired,) = warnings_of(raised, "expired")  # not the one whose status says it ended
    assert [r["record_id"] for r in expired["evidence"]["records"]] == [city["expired"]]
    assert expired["evidence"]["figures"]["days_overdue"] == 60


def test_clusters(raised: Settings, city: dict[str, Any]) -> None:
    address = warnings_of(raised, "address")
    assert [w["entity_id"] for w in address] == city["same_address"]  # the deregistered one does not count
    assert {w["title"] for w in address} == {"同一住所3户"}
    evidence = address[0]["evidence"]["records"]
    assert {r["record_type"] for r in evidence} == {"market_entity"} and len(evidence) == 3
    assert len({w["evidence_key"] for w in address}) == 3  # one warning per member
    person = warnings_of(raised, "person")
    assert [w["entity_id"] for w in person] == city["same_person"]
    assert person[0]["title"] == "王五名下3户"


def test_related_dishonest(raised: Settings, city: dict[str, Any]) -> None:
    (warning,) = warnings_of(
        raised, "related"
    )  # 张三 and 张 三 are one name; not the dishonest entity itself
    assert warning["entity_id"] == city["related"]
    records = warning["evidence"]["records"]
    assert {r["record_type"] for r in records} == {"market_entity", "serious_dishonesty"}
    assert city["listing"] in {r["record_id"] for r in records}
    assert warning["evidence"]["figures"]["related"] == 1


def test_class_drop(raised: Settings, city: dict[str, Any]) -> None:
    found = warnings_of(raised, "class_drop")
    # B→C and C→D moved; A stayed; D without a previous class is new. The running run and the run as of
    # July are not looked at.
    assert [w["entity_id"] for w in found] == sorted(city["moved"])
    assert {w["department"] for w in found} == {"xz_credit"}  # no records: the default department
    moved = {w["entity_id"]: w["evidence"]["figures"] for w in found}
    assert (
        moved[city["two_penalties"]]["from_class"] == "B" and moved[city["two_penalties"]]["to_class"] == "C"
    )
    assert moved[city["abnormal"]]["from_class"] is None
    assert all("C" not in w["title"] and "D" not in w["title"] for w in found)


def test_helpers() -> None:
    dates = day(pa.array(["2026-06-30", "2026-06-01 08:00:00", "30/06/2026", None]))
    assert dates.to_pylist() == [date(2026, 6, 30), date(2026, 6, 1), None, None]
    assert within(dates, date(2026, 6, 1), date(2026, 6, 30)).to_pylist() == [True, False, False, False]
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert normalised(pa.array(["和平街１号（东）", "和平街1号(东) "])).to_pylist() == ["和平街1号东"] * 2


def test_the_first_classification_raises_no_class_drop(credit_settings: Settings) -> None:
    """With one run there is nothing to compare with: its C and D are not moves (the demo's first run)."""
    from tests.gateway.credit.seed import Seed

    with engine_for(credit_settings.database_url).begin() as conn:
        seed = Seed(conn)
        low = seed.entity("91140900MA0K00001A")
        seed.run("2026-04", AS_OF.replace(month=4, day=30), {low: "D"})
    raise_warnings(credit_settings, AS_OF)
    assert warnings_of(credit_settings, "class_drop") == []
