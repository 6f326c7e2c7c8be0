"""Raising is idempotent by evidence: the same evidence raises nothing new however often the run repeats;
new evidence (another penalty, a new version of one) raises a new warning; repaired records are no
evidence. Each raise is the warning's first event."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.credit.warnings.evidence import evidence_key
from gateway.credit.warnings.raising import raise_warnings, today
from gateway.credit.warnings.tables import credit_warning, credit_warning_event
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.seed import AS_OF, Seed, penalty
from tests.gateway.credit.warnings.test_detect import warnings_of


def counts(settings: Settings) -> tuple[int, int]:
    with engine_for(settings.database_url).connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(credit_warning)).scalar_one(),
            conn.execute(select(func.count()).select_from(credit_warning_event)).scalar_one(),
        )


def test_a_second_run_raises_nothing_new_evidence_does(
    credit_settings: Settings, city: dict[str, Any]
) -> None:
    first = raise_warnings(credit_settings, AS_OF)
    assert first.raised["penalties"] == 1 and first.by_level()["red"] == 2
    warnings, events = counts(credit_settings)
    assert warnings == events == first.total_raised

    again = raise_warnings(credit_settings, AS_OF)
    assert again.total_raised == 0 and again.found == first.found
    assert counts(credit_settings) == (warnings, events)

    with engine_for(credit_settings.database_url).begin() as conn:  # one more penalty: new evidence
        seed = Seed(conn)
        penalty(seed, city["penalised"], "忻市监罚〔2026〕4号", "2026-06-28", department="xz_amr_enforcement")
    third = raise_warnings(credit_settings, AS_OF)
    assert third.raised == {**{rule: 0 for rule in third.raised}, "penalties": 1}
    old, new = warnings_of(credit_settings, "penalties")
    assert old["evidence"]["figures"]["count"] == 3 and new["evidence"]["figures"]["count"] == 4
    assert new["entity_id"] == old["entity_id"] and new["evidence_key"] != old["evidence_key"]


def test_a_new_version_is_new_evidence(credit_settings: Settings, city: dict[str, Any]) -> None:
    raise_warnings(credit_settings, AS_OF)
    with engine_for(credit_settings.database_url).begin() as conn:
        Seed(conn).new_version(
            city["penalties"][0],
            2,
            {"CF_WSH": "忻市监罚〔2026〕1号", "CF_JDRQ": "2026-01-10", "CF_NR_FK": "3"},
        )
    report = raise_warnings(credit_settings, AS_OF)
    assert report.raised["penalties"] == 1
    newest = warnings_of(credit_settings, "penalties")[-1]
    assert {(r["record_id"], r["version"]) for r in newest["evidence"]["records"]} == {
        (city["penalties"][0], 2),
        (city["penalties"][1], 1),
        (city["penalties"][2], 1),
    }
    assert newest["evidence"]["figures"]["fine_total"] == 6.0


def test_the_evidence_key_is_the_rule_entity_and_sorted_evidence(
    credit_settings: Settings, city: dict[str, Any]
) -> None:
    raise_warnings(credit_settings, AS_OF)
    (warning,) = warnings_of(credit_settings, "penalties")
    items = "\n".join(sorted(f"record:{r}:1" for r in city["penalties"]))
    assert warning["evidence_key"] == evidence_key("penalties", city["penalised"], items)


def test_repaired_records_are_no_evidence(credit_settings: Settings, city: dict[str, Any]) -> None:
    with engine_for(credit_settings.database_url).begin() as conn:
        seed = Seed(conn)
        for n, (kind, key) in enumerate(
            (("行政处罚", "忻市监罚〔2026〕2号"), ("严重失信主体名单", "YZ-2026-001"))
        ):
            seed.record(
                city["penalised"] if n == 0 else city["dishonest"],
                "credit_repair",
                f"XF-{n}",
                {"repaired_type": kind, "repaired_key": key, "repair_date": "2026-06-01"},
                department="xz_credit",
            )
    report = raise_warnings(credit_settings, AS_OF)
    assert report.found["penalties"] == 0  # two left in the year
    assert report.found["dishonesty_listed"] == 0
    assert report.found["related"] == 0  # the related entity's listing is repaired: nothing to relate to
    assert report.found["debtor"] == 1


def test_events_of_the_raise(credit_settings: Settings, city: dict[str, Any]) -> None:
    moment = datetime(2026, 6, 30, 1, 2, 3, tzinfo=UTC)
    raise_warnings(credit_settings, AS_OF, actor="tester", now=moment)
    with engine_for(credit_settings.database_url).connect() as conn:
        events = conn.execute(select(credit_warning_event)).all()
    assert {(e.actor, e.from_state, e.to_state) for e in events} == {("tester", None, "new")}
    assert {e.at.replace(tzinfo=UTC) if e.at.tzinfo is None else e.at for e in events} == {moment}


def test_today_is_the_citys(tmp_path: Path) -> None:
    """UTC+14 and UTC-11 are always a day apart: the day depends on the configured time zone."""
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path)})
    east = today(settings.with_overrides(timezone="Pacific/Kiritimati"))
    west = today(settings.with_overrides(timezone="Pacific/Pago_Pago"))
    assert (east - west).days == 1
