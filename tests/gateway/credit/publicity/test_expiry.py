"""The daily withdrawal: active records whose publicity ended before the day are withdrawn exactly once, as
a version with operation d and the reason publicity_expired, told to the hub only if it had the record."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from gateway.credit.publicity.expiry import withdraw_expired
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import audit, outbox, record, record_version
from tests.gateway.credit.publicity.penalties import AMR, AMR_CODE, mark_sent, payload, put
from tests.gateway.credit.seed import AS_OF, NOW, Seed


def state(conn: Connection, record_id: int) -> tuple[str, int]:
    row = conn.execute(select(record.c.status, record.c.version).where(record.c.id == record_id)).one()
    return row.status, row.version


def outbox_rows(conn: Connection, record_id: int) -> list[int]:
    """The versions of the record that reached the outbox."""
    return list(
        conn.execute(
            select(record_version.c.version)
            .join(outbox, outbox.c.record_version_id == record_version.c.id)
            .where(record_version.c.record_id == record_id)
            .order_by(record_version.c.version)
        ).scalars()
    )


@pytest.fixture
def store(settings: Settings) -> dict[str, int]:
    """As of 2026-06-30 (AS_OF): three penalties whose publicity ended, one that ends on the day, one still
    running, and expired ones that are not active."""
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州市丁有限公司")
        ids = {
            # 2019 regime, 一般: ends 2026-01-10; the hub has it.
            "sent": put(seed, firm, payload("1号", "2025-01-10", "罚款", fine="1")),
            # market supervision, a warning alone: never published, so never sent either.
            "never_sent": put(
                seed, firm, payload("2号", "2026-04-01", "警告", authority=AMR, authority_code=AMR_CODE)
            ),
            # its own 公示截止期 2026-06-29 lies within 3 months – 1 year: kept, and it has passed.
            "own_end": put(seed, firm, payload("3号", "2026-01-10", "罚款", fine="1", own_end="2026-06-29")),
            # ends 2026-06-30: published on the day of the run, withdrawn the day after.
            "last_day": put(seed, firm, payload("4号", "2025-06-30", "罚款", fine="1")),
            "running": put(seed, firm, payload("5号", "2026-05-10", "罚款", fine="1")),
            "unattached": put(
                seed, None, payload("6号", "2024-01-10", "罚款", fine="1"), status="unattached"
            ),
            "withdrawn": put(seed, firm, payload("7号", "2024-01-10", "罚款", fine="1"), status="withdrawn"),
        }
        for name in ("sent", "own_end", "last_day", "withdrawn"):
            mark_sent(conn, ids[name])
    return ids


def test_withdrawn_exactly_once(settings: Settings, store: dict[str, int], caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="gateway.credit.publicity.expiry")
    summary = withdraw_expired(settings, AS_OF, NOW)
    assert (summary.computed, summary.conflicts, summary.undated) == (6, 0, 0)
    assert (summary.withdrawn, summary.sent) == (3, 2)
    assert (
        summary.describe() in caplog.text and "公示期满撤回 3 条，其中 2 条通知省平台" in summary.describe()
    )

    with engine_for(settings.database_url).connect() as conn:
        for name in ("sent", "never_sent", "own_end"):
            assert state(conn, store[name]) == ("expired", 2), name
            version = conn.execute(
                select(record_version.c.operation, record_version.c.reason, record_version.c.outbound).where(
                    record_version.c.record_id == store[name], record_version.c.version == 2
                )
            ).one()
            assert (version.operation, version.reason) == ("d", "publicity_expired")
            assert version.outbound == (name != "never_sent")
        assert outbox_rows(conn, store["sent"]) == [1, 2]
        assert outbox_rows(conn, store["own_end"]) == [1, 2]
        assert outbox_rows(conn, store["never_sent"]) == []  # the hub never had it: nothing to tell
        for name in ("last_day", "running"):
            assert state(conn, store[name]) == ("active", 1), name
        assert state(conn, store["unattached"]) == ("unattached", 1)
        assert state(conn, store["withdrawn"]) == ("withdrawn", 1)
        assert outbox_rows(conn, store["withdrawn"]) == [1]
        detail = json.loads(
            conn.execute(
                select(audit.c.detail).where(
                    audit.c.action == "record.expired", audit.c.subject_id == str(store["own_end"])
                )
            ).scalar_one()
        )
        assert detail == {
            "reason": "publicity_expired",
            "version": 2,
            "sent": True,
            "ends_on": "2026-06-29",
            "regime": "national_2019",
            "tier": "general",
        }

    again = withdraw_expired(settings, AS_OF, NOW + timedelta(hours=1))
    assert (again.computed, again.withdrawn, again.sent) == (0, 0, 0)
    with engine_for(settings.database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 6
        assert conn.execute(select(func.count()).where(audit.c.action == "record.expired")).scalar_one() == 3

    next_day = withdraw_expired(settings, AS_OF + timedelta(days=1), NOW + timedelta(days=1))
    assert (next_day.withdrawn, next_day.sent) == (1, 1)
    with engine_for(settings.database_url).connect() as conn:
        assert state(conn, store["last_day"]) == ("expired", 2)
        assert state(conn, store["running"]) == ("active", 1)


def test_only_the_current_versions_period_withdraws(settings: Settings) -> None:
    """A period computed from an older version never withdraws a record changed since."""
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州市戊有限公司")
        moved = put(seed, firm, payload("1号", "2025-05-10", "罚款", fine="1"))
        broken = put(seed, firm, payload("2号", "2025-05-10", "罚款", fine="1"))
    early = withdraw_expired(settings, date(2026, 1, 1), NOW)
    assert (early.computed, early.withdrawn) == (2, 0)  # both end 2026-05-10
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        seed.new_version(moved, 2, payload("1号", "2026-05-10", "罚款", fine="1"))  # now ends 2027-05-10
        seed.new_version(broken, 2, payload("2号", "", "罚款", fine="1"))  # no date: no period at all
    summary = withdraw_expired(settings, AS_OF, NOW)
    assert (summary.computed, summary.undated, summary.withdrawn) == (1, 1, 0)
    assert [u.record_id for u in summary.report.undated] == [broken]
    with engine_for(settings.database_url).connect() as conn:
        assert state(conn, moved) == ("active", 2) and state(conn, broken) == ("active", 2)


def test_conflicts_are_counted_and_logged(settings: Settings, caplog: Any) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        late = put(
            seed,
            seed.entity("忻州市己有限公司"),
            payload("1号", "2025-01-10", "罚款", fine="1", own_end="2027-01-01"),
        )
    caplog.set_level(logging.INFO, logger="gateway.credit.publicity.expiry")
    summary = withdraw_expired(settings, AS_OF, NOW)
    assert (summary.conflicts, summary.withdrawn) == (1, 1)  # the rules' end 2026-01-10 was used
    assert f"记录 {late}" in caplog.text and "晚于规则最长公示期" in caplog.text
    assert summary.as_dict()["details"]["conflicts"][0]["record_id"] == late
