"""The results of the drawn inspections (一公开), and which are overdue.

A result comes back through intake as a spot_check record (InspectTaskId, UniscId, InspectDate,
InspectResult) from the department or the 公示系统; a drawn object's result is the latest such record of the
same task whose UniscId is the object's USCC, or that intake attached to the object's entity (a result that
carries only the registration number). Results are due within 20 working days of the task's end date
(企业信息公示暂行条例 第六条: 抽查检查结果 20 个工作日内公示), counted with the holiday calendar
(gateway.credit.calendar); an object without a result after that day is overdue.

Nothing here shows the risk class: what is drawn and what was found may be published, the class may not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from gateway.credit.calendar import Calendar, CalendarError, calendar_for
from gateway.credit.draws.plans import get_task
from gateway.credit.draws.tables import draw_object, draw_task
from gateway.credit.facts import records
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity

DUE_WORKING_DAYS = 20
FIELDS = ("InspectTaskId", "UniscId", "InspectDate", "InspectResult")


@dataclass
class TaskResults:
    task_id: str
    end_date: date
    deadline: date | None
    drawn: int
    results_in: int
    pending: int
    overdue: int
    objects: list[dict[str, Any]] = field(default_factory=list)  # uscc, name, result, date, overdue
    problem: str | None = None  # why there is no deadline (a year the calendar does not cover)

    def as_dict(self, *, objects: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task_id": self.task_id,
            "end_date": self.end_date.isoformat(),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "drawn": self.drawn,
            "results_in": self.results_in,
            "pending": self.pending,
            "overdue": self.overdue,
            "problem": self.problem,
        }
        if objects:
            out["objects"] = self.objects
        return out


def _objects(conn: Connection, task_id: str) -> pa.Table:
    rows = conn.execute(
        select(draw_object.c.entity_id, entity.c.uscc, entity.c.name)
        .join(entity, entity.c.id == draw_object.c.entity_id)
        .where(draw_object.c.task_id == task_id)
        .order_by(entity.c.uscc)
    ).all()
    return pa.table(
        {
            "entity_id": pa.array([r.entity_id for r in rows], pa.int64()),
            "uscc": pa.array([r.uscc for r in rows], pa.string()),
            "name": pa.array([r.name for r in rows], pa.string()),
        }
    )


def _matched(objects: pa.Table, found: pa.Table) -> pa.Table:
    """entity_id, InspectDate, InspectResult: each object's latest result of the task, by USCC or entity."""
    by_uscc = objects.select(["entity_id", "uscc"]).join(
        found.select(["UniscId", "record_id"]), "uscc", "UniscId", join_type="inner"
    )
    by_entity = objects.select(["entity_id"]).join(
        found.select(["entity_id", "record_id"]), "entity_id", join_type="inner"
    )
    pairs = pa.concat_tables(
        [by_uscc.select(["entity_id", "record_id"]), by_entity.select(["entity_id", "record_id"])]
    )
    latest = (
        pairs.group_by("entity_id")
        .aggregate([("record_id", "max")])
        .rename_columns(["entity_id", "record_id"])
    )
    fields = found.select(["record_id", "InspectDate", "InspectResult"])
    return latest.join(fields, "record_id", join_type="inner").drop_columns(["record_id"])


def task_results(conn: Connection, task_id: str, calendar: Calendar, today: date) -> TaskResults:
    task = get_task(conn, task_id)
    objects = _objects(conn, task_id)
    found = records(conn, ["spot_check"], FIELDS)
    found = found.filter(pc.fill_null(pc.equal(found["InspectTaskId"], task_id), False))
    if found.num_rows:
        joined = objects.join(_matched(objects, found), "entity_id", join_type="left outer")
    else:
        joined = objects.append_column("InspectDate", pa.nulls(objects.num_rows, pa.string())).append_column(
            "InspectResult", pa.nulls(objects.num_rows, pa.string())
        )
    joined = joined.take(pc.sort_indices(joined, sort_keys=[("uscc", "ascending")]))
    has_result = pc.is_valid(joined["InspectResult"]) if joined.num_rows else pa.array([], pa.bool_())
    problem, deadline = None, None
    try:
        deadline = calendar.add_working_days(task.end_date, DUE_WORKING_DAYS)
    except CalendarError as exc:
        problem = f"无法计算公示期限：{exc}"
    late = deadline is not None and today > deadline
    overdue_flags = pc.and_(pc.invert(has_result), pa.scalar(late)) if joined.num_rows else has_result
    table = joined.append_column("has_result", has_result).append_column("overdue", overdue_flags)
    results_in = pc.sum(has_result).as_py() or 0
    overdue = pc.sum(overdue_flags).as_py() or 0
    return TaskResults(
        task_id=task_id,
        end_date=task.end_date,
        deadline=deadline,
        drawn=table.num_rows,
        results_in=results_in,
        pending=table.num_rows - results_in - overdue,
        overdue=overdue,
        objects=table.select(["uscc", "name", "InspectDate", "InspectResult", "overdue"]).to_pylist(),
        problem=problem,
    )


def results_report(
    settings: Settings, task_ids: Sequence[str] | None = None, *, today: date | None = None
) -> list[TaskResults]:
    """Results per drawn task (all drawn tasks unless named), as of ``today`` (local, by default)."""
    calendar = calendar_for(settings.credit_dir)
    today = today or datetime.now(ZoneInfo(settings.timezone)).date()
    with engine_for(settings.database_url).connect() as conn:
        wanted = list(task_ids) if task_ids else drawn_tasks(conn)
        return [task_results(conn, task_id, calendar, today) for task_id in wanted]


def drawn_tasks(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            select(draw_task.c.task_id).where(draw_task.c.status == "drawn").order_by(draw_task.c.task_id)
        ).scalars()
    )


__all__ = ["DUE_WORKING_DAYS", "TaskResults", "drawn_tasks", "results_report", "task_results"]
