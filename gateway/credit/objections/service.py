"""Raising and resolving objections (异议), and the daily lapse of those whose deadline passed.

Each step is one transaction: the objection's row, the record's hold and the event (who, when, what) commit
together, so a crash leaves the step done or not done, never a record held by no objection or an objection
closed with its record still held. Each step first locks the record's row (SELECT … FOR UPDATE on
PostgreSQL; SQLite has one writer at a time anyway), so steps on the same record happen one after the other
and the hold is decided with every open objection in view (holds.py). A state changes only if it is still
open when written, which makes every step happen at most once: resolving twice is refused with what
happened first, and the lapse run finds nothing left the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from gateway.credit.calendar import CalendarError, calendar_for
from gateway.credit.objections import holds
from gateway.credit.objections.config import CHANNELS, ObjectionConfigError, load_config
from gateway.credit.objections.states import (
    CORRECTED,
    DEADLINE_ACTOR,
    LAPSED,
    OPEN,
    OUTCOMES,
    RAISED,
    STATE_LABELS,
    UNCONFIRMED,
    WORDS_MAX,
)
from gateway.credit.objections.tables import credit_objection, credit_objection_event
from gateway.ids.resident_id import mask_in_text
from gateway.local_times import as_utc
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record, record_version

OBJECTABLE = ("active", "unattached")
"""Record statuses an objection may name: what is (or, once attached, will be) in the feed."""
_WHY_NOT = {
    "withdrawn": "已被来源部门撤下（移出 / 撤销，operation d）",
    "expired": "公示期已满，网关已将其撤下",
    "repaired": "已信用修复，网关已将其撤下",
}


class ObjectionError(ValueError):
    """The step is not possible; the message says why and, where there is one, what to do instead."""


@dataclass(frozen=True)
class Raised:
    objection_id: int
    record_id: int
    record_type: str
    natural_key: str
    record_version: int
    channel: str
    raised_by: str
    raised_on: date
    deadline: date
    hold: str  # holds.PLACED | JOINED | HELD_OTHERWISE


@dataclass(frozen=True)
class Resolved:
    objection_id: int
    record_id: int
    state: str  # corrected | upheld | unconfirmed | lapsed
    by: str
    at: datetime
    corrected_version: int | None
    held_by: int | None  # the objection that still holds the record; None: the hold was lifted


@dataclass(frozen=True)
class LapseReport:
    today: date
    lapsed: list[Resolved]


def local_today(settings: Settings, now: datetime) -> date:
    """The day ``now`` is where the city is: deadlines and lapses are counted in local days."""
    return now.astimezone(ZoneInfo(settings.timezone)).date()


def _words(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ObjectionError(f"必须写明{what}")
    if len(text) > WORDS_MAX:
        raise ObjectionError(f"{what}不能超过 {WORDS_MAX} 个字符")
    return text


def _event(
    conn: Connection, objection_id: int, now: datetime, actor: str, action: str, **detail: object
) -> None:
    conn.execute(
        insert(credit_objection_event).values(
            objection_id=objection_id,
            at=now,
            actor=actor,
            action=action,
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )


# ------------------------------------------------------------------------------------------------ raising
def raise_objection(
    settings: Settings,
    *,
    channel: str,
    raised_by: str,
    reason: str,
    record_id: int | None = None,
    record_type: str | None = None,
    natural_key: str | None = None,
    raised_on: date | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Raised:
    """Record an objection against a record — by its id, or by its type and natural key — and hold the
    record back from the hub until the objection is resolved or lapses.

    ``raised_on`` is the day the objection was received (default: today where the city is; never later);
    the deadline is the configured number of working days after it (objections.yaml, holidays.yaml).
    ``actor`` is who enters it, kept on the first event (default: ``raised_by``)."""
    if channel not in CHANNELS:
        raise ObjectionError(f"异议渠道只能是 {' 或 '.join(CHANNELS)}，不是 {channel!r}")
    raised_by = _words(raised_by, "异议提出方（部门编号或信用平台的来源编号）")
    actor = _words(actor or raised_by, "操作人")
    reason = (reason or "").strip()
    if not reason:
        raise ObjectionError("必须写明异议理由 (a reason is required)")
    if (record_id is None) == (record_type is None and natural_key is None):
        raise ObjectionError("请指明记录：或者记录编号，或者记录类型加主键（二者择一）")
    if record_id is None and not (record_type and natural_key):
        raise ObjectionError("按主键指明记录时，记录类型和主键都要写")
    now = now or datetime.now(UTC)
    today = local_today(settings, now)
    raised_on = raised_on or today
    if raised_on > today:
        raise ObjectionError(f"提出异议的日期 {raised_on} 晚于今天 {today}")
    try:
        days = load_config(settings.credit_dir).channel(channel).reply_working_days
        deadline = calendar_for(settings.credit_dir).add_working_days(raised_on, days)
    except (ObjectionConfigError, CalendarError) as exc:
        raise ObjectionError(str(exc)) from exc
    with engine_for(settings.database_url).begin() as conn:
        target = _locked_record(conn, record_id, record_type, natural_key)
        return _raise(conn, target, channel, raised_by, reason, raised_on, deadline, actor, now)


def _locked_record(
    conn: Connection, record_id: int | None, record_type: str | None, natural_key: str | None
) -> tuple[int, str, str, str, int]:
    stmt = select(record.c.id, record.c.record_type, record.c.natural_key, record.c.status, record.c.version)
    if record_id is not None:
        stmt, named = stmt.where(record.c.id == record_id), f"编号为 {record_id} 的记录"
    else:
        stmt = stmt.where(record.c.record_type == record_type, record.c.natural_key == natural_key)
        named = f"{record_type} 类型、主键为 {mask_in_text(natural_key or '')} 的记录"
    found = conn.execute(stmt.with_for_update()).first()
    if found is None:
        raise ObjectionError(f"没有{named} (record unknown)")
    return found.id, found.record_type, found.natural_key, found.status, found.version


def _raise(
    conn: Connection,
    target: tuple[int, str, str, str, int],
    channel: str,
    raised_by: str,
    reason: str,
    raised_on: date,
    deadline: date,
    actor: str,
    now: datetime,
) -> Raised:
    record_id, record_type, natural_key, status, version = target
    if status not in OBJECTABLE:
        why = _WHY_NOT.get(status, f"状态为 {status}")
        raise ObjectionError(f"记录 {record_id} {why}，不能再对它提出异议 (record is {status})")
    repeated = conn.execute(
        select(credit_objection.c.id).where(
            credit_objection.c.record_id == record_id,
            credit_objection.c.raised_by == raised_by,
            credit_objection.c.state == OPEN,
        )
    ).scalar()
    if repeated is not None:
        raise ObjectionError(f"{raised_by} 对记录 {record_id} 的异议 {repeated} 尚在处理中，不必重复提出")
    objection_id = int(
        conn.execute(
            insert(credit_objection)
            .values(
                record_id=record_id,
                record_version=version,
                raised_by=raised_by,
                channel=channel,
                reason=reason,
                raised_on=raised_on,
                deadline=deadline,
                state=OPEN,
                raised_at=now,
            )
            .returning(credit_objection.c.id)
        ).scalar_one()
    )
    hold = holds.place(conn, record_id, objection_id, now)
    _event(
        conn,
        objection_id,
        now,
        actor,
        RAISED,
        record_id=record_id,
        record_version=version,
        channel=channel,
        raised_by=raised_by,
        raised_on=raised_on,
        deadline=deadline,
        hold=hold,
    )
    return Raised(
        objection_id,
        record_id,
        record_type,
        natural_key,
        version,
        channel,
        raised_by,
        raised_on,
        deadline,
        hold,
    )


# --------------------------------------------------------------------------------------------- resolving
def resolve(
    settings: Settings,
    objection_id: int,
    outcome: str,
    by: str,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> Resolved:
    """Close an open objection as corrected, upheld or unconfirmed, and lift the record's hold unless
    another open objection still holds it.

    corrected needs a version of the record from its source newer than the one objected to (the department
    sends the corrected row through normal intake first); unconfirmed needs a note saying what was checked."""
    if outcome not in OUTCOMES:
        if outcome == LAPSED:
            raise ObjectionError("逾期 (lapsed) 由每日的期限检查决定（lapse），不能手工处理为逾期")
        raise ObjectionError(f"处理结果只能是 {', '.join(OUTCOMES)}，不是 {outcome!r}")
    by = _words(by, "处理人 (--by)")
    note = (note or "").strip() or None
    if outcome == UNCONFIRMED and note is None:
        raise ObjectionError(f"异议 {objection_id} 处理为「不能确认」时必须写明核查情况 (--note)")
    now = now or datetime.now(UTC)
    with engine_for(settings.database_url).begin() as conn:
        return _close(conn, objection_id, outcome, by, note, now, ZoneInfo(settings.timezone))


def _close(
    conn: Connection,
    objection_id: int,
    outcome: str,
    by: str,
    note: str | None,
    now: datetime,
    zone: ZoneInfo,
) -> Resolved:
    o = credit_objection.c
    found = conn.execute(select(o.record_id).where(o.id == objection_id)).first()
    if found is None:
        raise ObjectionError(f"没有编号为 {objection_id} 的异议 (no objection {objection_id})")
    conn.execute(select(record.c.id).where(record.c.id == found.record_id).with_for_update()).first()
    current = conn.execute(
        select(o.record_id, o.record_version, o.state, o.resolved_at, o.resolved_by, o.deadline).where(
            o.id == objection_id
        )
    ).one()
    if current.state != OPEN:
        raise ObjectionError(
            f"异议 {objection_id} 已于 {as_utc(current.resolved_at).astimezone(zone):%Y-%m-%d %H:%M} "
            f"由 {current.resolved_by} "
            f"处理为「{STATE_LABELS.get(current.state, current.state)}」({current.state})，不能再处理"
        )
    corrected = (
        _correction(conn, objection_id, current.record_id, current.record_version)
        if outcome == CORRECTED
        else None
    )
    changed = conn.execute(
        update(credit_objection)
        .where(o.id == objection_id, o.state == OPEN)
        .values(state=outcome, resolved_at=now, resolved_by=by, note=note, corrected_version=corrected)
    ).rowcount
    if changed != 1:  # someone closed it between our read and our write
        raise ObjectionError(f"异议 {objection_id} 刚被他人处理，请重新查看")
    held_by = holds.release(conn, current.record_id)
    detail: dict[str, object] = {
        "record_id": current.record_id,
        "hold": "lifted" if held_by is None else "kept",
    }
    if held_by is not None:
        detail["held_by"] = held_by
    if corrected is not None:
        detail["corrected_version"] = corrected
    if note is not None:
        detail["note"] = note
    if outcome == LAPSED:
        detail["deadline"] = current.deadline
    _event(conn, objection_id, now, by, outcome, **detail)
    return Resolved(objection_id, current.record_id, outcome, by, now, corrected, held_by)


def _correction(conn: Connection, objection_id: int, record_id: int, objected: int) -> int:
    """The newest version of the record that came from its source after the one objected to.

    Versions the gateway made itself (record_version.reason set: a publicity end, a credit repair) are not
    corrections: only the source can correct what it reported."""
    newest = conn.execute(
        select(func.max(record_version.c.version)).where(
            record_version.c.record_id == record_id,
            record_version.c.version > objected,
            record_version.c.reason.is_(None),
        )
    ).scalar()
    if newest is None:
        raise ObjectionError(
            f"异议 {objection_id}：记录 {record_id} 还没有比异议时（第 {objected} 版）更新的版本。"
            "请先由来源部门按正常报送渠道重新报送更正后的记录，再标记为已更正 "
            "(the source must send the corrected record first)"
        )
    return int(newest)


# ---------------------------------------------------------------------------------------------- lapsing
def lapse_overdue(settings: Settings, today: date | None = None, now: datetime | None = None) -> LapseReport:
    """The daily run: every open objection whose deadline is before ``today`` lapses (actor "deadline")
    and its record's hold is lifted unless another open objection holds it.

    One transaction for the run. Running it again the same day finds nothing open and overdue, so each
    objection lapses once however often the run is repeated."""
    now = now or datetime.now(UTC)
    today = today or local_today(settings, now)
    lapsed, zone = [], ZoneInfo(settings.timezone)
    with engine_for(settings.database_url).begin() as conn:
        overdue = conn.execute(
            select(credit_objection.c.id)
            .where(credit_objection.c.state == OPEN, credit_objection.c.deadline < today)
            .order_by(credit_objection.c.id)
        ).scalars()
        for objection_id in list(overdue):
            try:
                lapsed.append(_close(conn, objection_id, LAPSED, DEADLINE_ACTOR, None, now, zone))
            except ObjectionError:
                continue  # resolved by someone else between the listing and its lock: not overdue any more
    return LapseReport(today, lapsed)


__all__ = [
    "OBJECTABLE",
    "LapseReport",
    "ObjectionError",
    "Raised",
    "Resolved",
    "lapse_overdue",
    "local_today",
    "raise_objection",
    "resolve",
]
