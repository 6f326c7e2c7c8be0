"""Raising, resolving and lapsing objections: the rows each step writes (objection, hold, event with who and
when), deadlines in working days over the 2026 National Day week, the daily lapse happening once however
often it runs, the records that can be objected to, and the refusals, each saying why."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from gateway.credit.calendar import add_working_days, default_calendar
from gateway.credit.objections.queries import (
    Filters,
    get_objection,
    history,
    list_objections,
    open_for_entity,
)
from gateway.credit.objections.service import ObjectionError, lapse_overdue, raise_objection, resolve
from gateway.credit.objections.tables import credit_objection
from gateway.local_times import as_utc
from gateway.settings import CREDIT_DEFAULTS, Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity, record, record_hold
from tests.gateway.credit.objections.penalties import ENTERPRISE, OTHER, RAISED_AT, key, record_id

LATER = datetime(2026, 10, 9, 7, 30, tzinfo=UTC)


def _raise(settings: Settings, number: int = 101, **overrides: object) -> int:
    given: dict[str, object] = {
        "channel": "department",
        "raised_by": "xz_amr",
        "reason": "罚款金额与决定书不符",
        "record_type": "admin_penalty",
        "natural_key": key(number),
        "now": RAISED_AT,
    } | overrides
    return raise_objection(settings, **given).objection_id  # type: ignore[arg-type]


def _objection(settings: Settings, objection_id: int) -> dict[str, object]:
    with engine_for(settings.database_url).connect() as conn:
        found = get_objection(conn, objection_id)
    assert found is not None
    return found


def test_raising_holds_the_record_and_records_who_and_when(store: Settings) -> None:
    rid = record_id(store, 101)
    objection_id = _raise(store, actor="王五")

    found = _objection(store, objection_id)
    assert found["state"] == "open" and found["record_id"] == rid and found["record_version"] == 1
    assert (found["raised_on"], found["deadline"]) == (date(2026, 9, 29), date(2026, 10, 19))
    assert (found["channel"], found["raised_by"], found["hold_reference"]) == (
        "department",
        "xz_amr",
        str(objection_id),
    )
    with engine_for(store.database_url).connect() as conn:
        hold = conn.execute(select(record_hold).where(record_hold.c.record_id == rid)).one()
    assert (hold.reason, as_utc(hold.since)) == ("objection", RAISED_AT)
    (event,) = found["events"]  # type: ignore[misc]
    assert (event["action"], event["actor"], as_utc(event["at"])) == ("raised", "王五", RAISED_AT)
    assert event["detail"]["deadline"] == "2026-10-19" and event["detail"]["hold"] == "placed"


def test_every_step_is_an_event_with_its_actor_and_time(store: Settings) -> None:
    upheld = _raise(store, 101)
    unconfirmed = _raise(store, 102)
    lapsing = _raise(store, 103, raised_by="sx_credit_platform", channel="credit_platform")
    resolve(store, upheld, "upheld", "张三", note="经核查，记录无误", now=LATER)
    resolve(store, unconfirmed, "unconfirmed", "李四", note="原始凭证缺失，无法核实", now=LATER)
    lapse_overdue(store, date(2026, 10, 20), LATER + timedelta(days=11))

    with engine_for(store.database_url).connect() as conn:
        steps = {
            oid: [(e["action"], e["actor"], as_utc(e["at"])) for e in history(conn, oid)]
            for oid in (upheld, unconfirmed, lapsing)
        }
    assert steps == {
        upheld: [("raised", "xz_amr", RAISED_AT), ("upheld", "张三", LATER)],
        unconfirmed: [("raised", "xz_amr", RAISED_AT), ("unconfirmed", "李四", LATER)],
        lapsing: [
            ("raised", "sx_credit_platform", RAISED_AT),
            ("lapsed", "deadline", LATER + timedelta(days=11)),
        ],
    }
    found = _objection(store, unconfirmed)
    assert (found["state"], found["resolved_by"], found["note"]) == (
        "unconfirmed",
        "李四",
        "原始凭证缺失，无法核实",
    )
    assert as_utc(found["resolved_at"]) == LATER  # type: ignore[arg-type]
    assert found["hold_reference"] is None


def test_the_deadline_counts_working_days_over_the_national_day_week(store: Settings, tmp_path: Path) -> None:
    # 2026: 中秋 09-25..27, 国庆 10-01..07, Sunday 09-20 and Saturday 10-10 are worked. Ten working days
    # after Tuesday 09-29 are 09-30, 10-08, 10-09, 10-10 (Saturday), 10-12 … 10-16 and 10-19.
    assert _objection(store, _raise(store, 101))["deadline"] == date(2026, 10, 19)
    naive = [date(2026, 9, 29) + timedelta(days=n) for n in range(1, 21)]
    assert [d for d in naive if d.weekday() < 5][9] == date(2026, 10, 13)  # what Monday–Friday would say

    # Raised on a holiday: counting starts from the next working day (10-08 is the first).
    on_holiday = _raise(store, 102, raised_on=date(2026, 10, 3), now=LATER)
    assert _objection(store, on_holiday)["deadline"] == date(2026, 10, 20)

    # The number of days is per channel (objections.yaml); the platform gets 5 here.
    folder = tmp_path / "credit"
    shutil.copytree(CREDIT_DEFAULTS, folder)
    (folder / "objections.yaml").write_text(
        "version: 1\ndefault_reply_working_days: 10\nchannels:\n  credit_platform: {reply_working_days: 5}\n",
        encoding="utf-8",
    )
    custom = store.with_overrides(credit_dir=folder)
    platform = _raise(custom, 103, channel="credit_platform", raised_by="sx_credit_platform")
    assert _objection(store, platform)["deadline"] == date(2026, 10, 12)
    assert add_working_days(date(2026, 9, 29), 5, default_calendar()) == date(2026, 10, 12)


def test_the_daily_run_lapses_each_overdue_objection_exactly_once(store: Settings) -> None:
    overdue = _raise(store, 101)  # deadline 2026-10-19
    other = _raise(store, 101, raised_by="sx_credit_platform", channel="credit_platform")
    later = _raise(store, 102, raised_on=date(2026, 10, 9), now=LATER)  # deadline 2026-10-22
    resolve(store, other, "upheld", "张三", now=LATER)
    rid = record_id(store, 101)

    assert lapse_overdue(store, date(2026, 10, 19), LATER).lapsed == []  # the deadline day itself is in time
    runs = [lapse_overdue(store, date(2026, 10, 20), LATER + timedelta(days=n)) for n in (11, 12, 13)]
    assert [[r.objection_id for r in run.lapsed] for run in runs] == [[overdue], [], []]
    assert runs[0].lapsed[0].held_by is None

    found = _objection(store, overdue)
    assert (found["state"], found["resolved_by"], found["hold_reference"]) == ("lapsed", "deadline", None)
    lapses = [e for e in found["events"] if e["action"] == "lapsed"]  # type: ignore[attr-defined]
    assert len(lapses) == 1 and lapses[0]["detail"]["deadline"] == "2026-10-19"
    assert _objection(store, later)["state"] == "open"
    with engine_for(store.database_url).connect() as conn:
        assert conn.execute(select(record_hold.c.record_id)).scalars().all() == [record_id(store, 102)]
    assert _objection(store, other)["state"] == "upheld"  # closed before: not lapsed again
    assert rid not in (r.record_id for run in runs[1:] for r in run.lapsed)


@pytest.mark.parametrize("status", ["active", "unattached"])
def test_active_and_waiting_records_can_be_objected_to(store: Settings, status: str) -> None:
    rid = record_id(store, 101)
    with engine_for(store.database_url).begin() as conn:
        conn.execute(update(record).where(record.c.id == rid).values(status=status))
    assert (
        _objection(store, _raise(store, record_id=rid, record_type=None, natural_key=None))["state"] == "open"
    )


@pytest.mark.parametrize(
    ("status", "message"),
    [("withdrawn", "已被来源部门撤下"), ("expired", "公示期已满"), ("repaired", "已信用修复")],
)
def test_records_out_of_the_feed_cannot_be_objected_to(store: Settings, status: str, message: str) -> None:
    rid = record_id(store, 101)
    with engine_for(store.database_url).begin() as conn:
        conn.execute(update(record).where(record.c.id == rid).values(status=status))
    with pytest.raises(ObjectionError, match=message):
        _raise(store)
    with engine_for(store.database_url).connect() as conn:
        assert conn.execute(select(credit_objection.c.id)).first() is None
        assert conn.execute(select(record_hold.c.record_id)).first() is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"record_type": None, "natural_key": None, "record_id": 999_999}, "没有编号为 999999 的记录"),
        ({"natural_key": key(999)}, "admin_penalty 类型、主键为 .*999号 的记录"),
        ({"record_type": "admin_license"}, "admin_license 类型"),
        ({"record_id": 1}, "二者择一"),
        ({"natural_key": None}, "记录类型和主键都要写"),
        ({"channel": "email"}, "department 或 credit_platform"),
        ({"reason": "  "}, "异议理由"),
        ({"raised_by": ""}, "异议提出方"),
        ({"raised_by": "x" * 65}, "64"),
        ({"raised_on": date(2026, 9, 30)}, "晚于今天 2026-09-29"),
        ({"raised_on": date(2024, 12, 2)}, "没有 2024 年的节假日安排"),
    ],
)
def test_raising_refuses_what_it_cannot_do(
    store: Settings, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ObjectionError, match=message):
        _raise(store, **overrides)


def test_repeating_a_step_is_refused_with_what_happened(store: Settings) -> None:
    objection = _raise(store)
    with pytest.raises(ObjectionError, match=f"异议 {objection} 尚在处理中"):
        _raise(store)  # the same department again on the same record
    resolve(store, objection, "upheld", "张三", now=LATER)
    with pytest.raises(ObjectionError, match="已于 2026-10-09 15:30 由 张三 处理为「维持」"):
        resolve(store, objection, "upheld", "张三", now=LATER)
    with pytest.raises(ObjectionError, match="不能再处理"):
        resolve(store, objection, "unconfirmed", "李四", note="再看", now=LATER)
    assert [e["action"] for e in _objection(store, objection)["events"]] == ["raised", "upheld"]  # type: ignore[attr-defined]
    assert _raise(store, now=LATER) != objection  # closed: the department may object again


@pytest.mark.parametrize(
    ("objection", "outcome", "by", "message"),
    [
        (None, "lapsed", "张三", "每日的期限检查"),
        (None, "withdrawn", "张三", "corrected, upheld, unconfirmed"),
        (None, "upheld", " ", "处理人"),
        (4242, "upheld", "张三", "没有编号为 4242 的异议"),
    ],
)
def test_resolving_refuses_what_it_cannot_do(
    store: Settings, objection: int | None, outcome: str, by: str, message: str
) -> None:
    objection = objection or _raise(store)
    with pytest.raises(ObjectionError, match=message):
        resolve(store, objection, outcome, by, now=LATER)


def test_open_objections_of_an_entity_and_the_filtered_list(store: Settings) -> None:
    first = _raise(store, 101)
    _raise(store, 102)
    closed = _raise(store, 103)
    resolve(store, closed, "upheld", "张三", now=LATER)
    with engine_for(store.database_url).connect() as conn:
        enterprise = conn.execute(select(entity.c.id).where(entity.c.uscc == ENTERPRISE)).scalar_one()
        pending = open_for_entity(conn, enterprise)
        by_entity = list_objections(conn, Filters(uscc=ENTERPRISE))
        still_open = list_objections(conn, Filters(state="open"))
        from_other = list_objections(conn, Filters(uscc=OTHER, state="upheld"))
    assert [(p.objection_id, p.record_type, p.natural_key, p.deadline) for p in pending] == [
        (first, "admin_penalty", key(101), date(2026, 10, 19))
    ]
    assert {row["id"] for row in by_entity} == {first, closed}
    assert {row["natural_key"] for row in still_open} == {key(101), key(102)}
    assert from_other == []
    with pytest.raises(ValueError, match="state must be one of"):
        Filters(state="closed")
