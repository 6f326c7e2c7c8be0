"""What an objection does to delivery: the held record's outbox rows are left out of every batch, in order,
until the hold is lifted; a correction goes out after the version objected to; a record disputed twice
stays held until both objections are closed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.credit.objections.service import ObjectionError, raise_objection, resolve
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record_hold
from gateway.store.withdrawals import withdraw
from tests.gateway.credit.objections.penalties import (
    ENTERPRISE,
    RAISED_AT,
    build,
    key,
    outbox_rows,
    record_id,
    send,
)

LATER = RAISED_AT + timedelta(days=3)


def _object(settings: Settings, number: int, raised_by: str = "xz_amr", channel: str = "department") -> int:
    raised = raise_objection(
        settings,
        channel=channel,
        raised_by=raised_by,
        reason="罚款金额与决定书不符",
        record_type="admin_penalty",
        natural_key=key(number),
        now=RAISED_AT,
    )
    return raised.objection_id


def _hold(settings: Settings, rid: int) -> str | None:
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(select(record_hold.c.reference).where(record_hold.c.record_id == rid)).scalar()


def test_a_held_record_waits_and_its_correction_follows_once_released(
    store: Settings, tmp_path: Path
) -> None:
    held, others = record_id(store, 101), [record_id(store, 102), record_id(store, 103)]
    objection = _object(store, 101)

    assert build(store) == [(others[0], 1), (others[1], 1)]
    assert outbox_rows(store)[(held, 1)] is None  # pending, not lost

    send(store, tmp_path, "更正-忻市监罚〔2026〕101号.csv", [(101, ENTERPRISE, "0.6")])
    assert outbox_rows(store)[(held, 2)] is None
    assert build(store) == []  # the correction waits with the version objected to

    done = resolve(store, objection, "corrected", "张三", note="罚款金额更正为 0.6 万元", now=LATER)
    assert (done.corrected_version, done.held_by) == (2, None)
    assert _hold(store, held) is None
    assert build(store) == [(held, 1), (held, 2)]  # in order: the insert, then the update that corrects it
    rows = outbox_rows(store)
    assert rows[(held, 1)] == rows[(held, 2)] is not None  # one batch


def test_corrected_is_refused_until_the_source_sends_a_newer_version(store: Settings) -> None:
    held = record_id(store, 101)
    objection = _object(store, 101)
    with pytest.raises(ObjectionError, match=r"请先由来源部门.*重新报送更正后的记录"):
        resolve(store, objection, "corrected", "张三", now=LATER)
    assert _hold(store, held) == str(objection)  # still open, still held
    assert (held, 1) not in build(store)

    # A version the gateway made itself (the publicity period ended) is no correction by the source.
    with engine_for(store.database_url).begin() as conn:
        assert withdraw(conn, [held], status="expired", actor="credit_publicity", now=LATER)
    with pytest.raises(ObjectionError, match="第 1 版"):
        resolve(store, objection, "corrected", "张三", now=LATER)
    assert resolve(store, objection, "upheld", "张三", now=LATER).held_by is None
    assert build(store) == [(held, 1), (held, 2)]  # the insert and the gateway's withdrawal, in order


def test_two_objections_hold_the_record_until_both_are_closed(store: Settings) -> None:
    held = record_id(store, 101)
    first = raise_objection(
        store,
        channel="department",
        raised_by="xz_amr",
        reason="处罚决定已被复议撤销",
        record_id=held,
        now=RAISED_AT,
    )
    second = raise_objection(
        store,
        channel="credit_platform",
        raised_by="sx_credit_platform",
        reason="企业通过信用中国（山西）提出异议：罚款金额有误",
        record_id=held,
        now=RAISED_AT,
    )
    assert (first.hold, second.hold) == ("placed", "joined")
    assert _hold(store, held) == str(first.objection_id)

    assert resolve(store, first.objection_id, "upheld", "张三", now=LATER).held_by == second.objection_id
    assert _hold(store, held) == str(second.objection_id)  # the row now names the objection still open
    assert (held, 1) not in build(store)

    with pytest.raises(ObjectionError, match="--note"):
        resolve(store, second.objection_id, "unconfirmed", "李四", now=LATER)
    last = resolve(store, second.objection_id, "unconfirmed", "李四", note="决定书原件未能调取", now=LATER)
    assert last.held_by is None and _hold(store, held) is None
    assert build(store) == [(held, 1)]
