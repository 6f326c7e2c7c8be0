"""Two parties object to one record at the same moment (PostgreSQL, where transactions really run side by
side): each step locks the record's row first, so the second sees the first's hold and joins it instead of
failing on the one hold row a record can have."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from gateway.credit.objections.service import Raised, raise_objection
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record, record_hold
from tests.gateway.credit.objections.penalties import RAISED_AT, record_id

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]
WAITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


def test_objections_raised_at_once_share_one_hold(store: Settings) -> None:
    rid = record_id(store, 101)
    engine = engine_for(store.database_url)
    parties = [("department", "xz_amr"), ("credit_platform", "sx_credit_platform")]
    start = threading.Barrier(len(parties))

    def raise_as(party: tuple[str, str]) -> Raised:
        start.wait()
        return raise_objection(
            store, channel=party[0], raised_by=party[1], reason="同时提出", record_id=rid, now=RAISED_AT
        )

    with engine.connect() as blocker, ThreadPoolExecutor(len(parties)) as pool:
        lock = blocker.begin()
        blocker.execute(select(record.c.id).where(record.c.id == rid).with_for_update())
        futures = [pool.submit(raise_as, party) for party in parties]
        try:
            queued = _both_wait(engine, len(parties))
        finally:
            # Let go whatever happened: the pool's exit waits for the raises, which wait for this lock.
            lock.rollback()
        raised = [future.result(timeout=60) for future in futures]
    assert queued, "the raises did not wait for the record's lock"

    assert sorted(r.hold for r in raised) == ["joined", "placed"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(record_hold)).scalar_one() == 1
        reference = conn.execute(select(record_hold.c.reference)).scalar_one()
    assert reference == next(str(r.objection_id) for r in raised if r.hold == "placed")


def _both_wait(engine: object, parties: int) -> bool:
    """Whether both raises queue behind the lock within 60 s (a loaded machine starts threads slowly)."""
    with engine.connect() as watch:  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            waiting = watch.execute(WAITING).scalar_one()
            # PostgreSQL keeps one snapshot of pg_stat_activity per transaction: end it before asking again.
            watch.rollback()
            if waiting >= parties:
                return True
            time.sleep(0.05)
    return False
