"""Computing the periods in the store: only records without a period for their current version, upserted;
records without a readable decision date reported every run; withdrawn records left alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from gateway.credit.publicity.compute import Conflict, Undated, compute_for
from gateway.credit.publicity.tables import credit_publicity
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.publicity.penalties import AMR, AMR_CODE, payload, put
from tests.gateway.credit.seed import NOW, Seed

D = date.fromisoformat


def stored(settings: Settings) -> dict[int, dict[str, Any]]:
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(select(credit_publicity)).mappings().all()
    return {row["record_id"]: dict(row) for row in rows}


def test_compute_only_what_changed(settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州市甲有限公司")
        fine = put(seed, firm, payload("1号", "2026-05-10", "罚款", fine="1"))
        warning = put(
            seed, firm, payload("2号", "2026-05-10", "警告", authority=AMR, authority_code=AMR_CODE)
        )
        waiting = put(seed, None, payload("3号", "2025-05-10", "吊销许可证"), status="unattached")
        gone = put(seed, firm, payload("4号", "2025-05-10", "罚款", fine="1"), status="withdrawn")
        undated = put(seed, firm, payload("5号", None, "罚款", fine="1"))

    first = compute_for(settings, NOW)
    assert first.computed == 3
    assert dict(first.by_tier) == {
        ("national_2026", "general"): 1,
        ("samr_2021", "not_published"): 1,
        ("national_2019", "serious"): 1,
    }
    assert [(u.record_id, u.value) for u in first.undated] == [(undated, None)]
    assert "决定日期未填" in first.undated[0].line()
    rows = stored(settings)
    assert set(rows) == {fine, warning, waiting}  # not the withdrawn one, not the undated one
    assert (rows[fine]["version"], rows[fine]["regime"], rows[fine]["tier"]) == (
        1,
        "national_2026",
        "general",
    )
    assert (rows[fine]["starts_on"], rows[fine]["repairable_on"], rows[fine]["ends_on"]) == (
        D("2026-05-10"),
        D("2026-08-10"),
        D("2027-05-10"),
    )
    assert "罚款 1 万元" in rows[fine]["basis"] and rows[fine]["conflict"] is None
    assert gone not in rows

    again = compute_for(settings, NOW + timedelta(hours=1))
    assert again.computed == 0 and [u.record_id for u in again.undated] == [undated]  # reported every run
    assert stored(settings)[fine]["computed_at"] == rows[fine]["computed_at"]

    later = NOW + timedelta(days=1)
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        seed.new_version(fine, 2, payload("1号", "2026-06-01", "罚款", fine="1", own_end="2026-06-02"))
        seed.new_version(undated, 2, payload("5号", "2026-06-01", "罚款", fine="1"))
    third = compute_for(settings, later)
    assert third.computed == 2 and third.undated == []
    assert [(c.record_id, c.natural_key) for c in third.conflicts] == [(fine, "11140900MB1963712Y|1号")]
    rows = stored(settings)
    assert (rows[fine]["version"], rows[fine]["ends_on"], rows[fine]["own_end"]) == (
        2,
        D("2027-06-01"),
        D("2026-06-02"),
    )
    assert "早于规则最短公示期" in rows[fine]["conflict"]
    assert _utc(rows[fine]["computed_at"]) == later and rows[undated]["version"] == 2


def test_a_new_version_without_a_date_loses_its_period(settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        fine = put(seed, seed.entity("忻州市乙有限公司"), payload("1号", "2026-05-10", "罚款", fine="1"))
    compute_for(settings, NOW)
    with engine_for(settings.database_url).begin() as conn:
        Seed(conn).new_version(fine, 2, payload("1号", "2026-5-10", "罚款", fine="1"))
    report = compute_for(settings, NOW)
    assert [(u.record_id, u.value) for u in report.undated] == [(fine, "2026-5-10")]
    assert stored(settings) == {}  # the old version's period no longer says anything


def test_everything_recomputes_after_the_rules_changed(settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州市丙有限公司")
        ids = [put(seed, firm, payload(f"{n}号", "2026-05-10", "罚款", fine="1")) for n in range(3)]
    assert compute_for(settings, NOW).computed == 3
    assert compute_for(settings, NOW).computed == 0
    assert compute_for(settings, NOW, everything=True).computed == 3
    assert sorted(stored(settings)) == ids


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive timestamps (stored in UTC), PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_report_lines_never_show_a_resident_id_in_full() -> None:
    undated = Undated(7, "admin_penalty", "11140900MB1963712Y|110101199003077777", "2026/5/1")
    conflict = Conflict(8, "admin_penalty", "110101199003077777", "公示截止期 …")
    assert "110101199003077777" not in undated.line() + conflict.line()
    assert "决定日期“2026/5/1”" in undated.line() and "记录 8" in conflict.line()
