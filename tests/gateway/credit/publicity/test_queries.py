"""What the lookup and the pages read: an entity's penalties still in publicity, one record's period, and
the conflicts with the records' own 公示截止期."""

from __future__ import annotations

from datetime import date

from gateway.credit.publicity.expiry import withdraw_expired
from gateway.credit.publicity.queries import conflicts, in_publicity, publicity_of
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.publicity.penalties import payload, put
from tests.gateway.credit.seed import AS_OF, NOW, Seed

D = date.fromisoformat


def test_in_publicity_and_conflicts(settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm, other = seed.entity("忻州市庚有限公司"), seed.entity("忻州市辛有限公司")
        running = put(seed, firm, payload("1号", "2026-05-10", "罚款", fine="1"))
        serious = put(seed, firm, payload("2号", "2025-05-10", "吊销许可证", own_end="2030-01-01"))
        ended = put(seed, firm, payload("3号", "2025-01-10", "罚款", fine="1", own_end="2025-02-01"))
        put(seed, other, payload("4号", "2026-05-10", "罚款", fine="1"))
        put(seed, firm, payload("5号", "2025-05-10", "罚款", fine="1"), status="withdrawn")
    withdraw_expired(settings, AS_OF, NOW)
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        changed = put(seed, firm, payload("6号", "2026-06-01", "罚款", fine="1"))  # not computed yet

    with engine_for(settings.database_url).connect() as conn:
        found = in_publicity(conn, firm, AS_OF)
        assert [p.record_id for p in found] == [running, serious, changed]
        first = found[0]
        assert (first.tier, first.starts_on, first.repairable_on, first.ends_on, first.pending) == (
            "general",
            D("2026-05-10"),
            D("2026-08-10"),
            D("2027-05-10"),
            False,
        )
        assert (found[1].tier, found[1].repairable_on, found[1].ends_on) == (
            "serious",
            D("2025-11-10"),
            D("2028-05-10"),
        )
        assert found[2].pending and found[2].ends_on is None and found[2].as_dict()["pending"] is True
        # Before a decision, or after the end, a penalty is not in publicity.
        assert [p.record_id for p in in_publicity(conn, firm, D("2026-05-09"))] == [serious, changed]
        assert [p.record_id for p in in_publicity(conn, firm, D("2028-05-10"))] == [serious, changed]
        assert [p.record_id for p in in_publicity(conn, firm, D("2028-05-11"))] == [changed]
        assert in_publicity(conn, firm, AS_OF, record_types=["admin_license"]) == []

        listed = conflicts(conn)
        assert [(c.record_id, c.status) for c in listed] == [(serious, "active"), (ended, "expired")]
        assert "晚于规则最长公示期" in listed[0].conflict and "早于规则最短公示期" in listed[1].conflict

        expired = publicity_of(conn, ended)
        assert expired is not None and not expired.pending
        assert (expired.status, expired.version, expired.computed_version, expired.ends_on) == (
            "expired",
            2,
            1,
            D("2026-01-10"),
        )
        fresh = publicity_of(conn, changed)
        assert fresh is not None and fresh.pending and fresh.computed_version is None
        assert publicity_of(conn, 999_999) is None
