"""The tasks a page at a time, newest first, with their plan and when they were drawn: what the gateway's
pages list (plugins/gateway_pages/draws.py adds each drawn task's results)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, select

from gateway.credit.draws.results import TaskResults
from gateway.credit.draws.tables import draw_plan, draw_record, draw_task
from gateway.paging import DEFAULT_SIZE, Page, window


@dataclass(frozen=True)
class TaskLine:
    task_id: str
    name: str
    plan_id: str
    plan_name: str
    year: int
    items: list[str]
    departments: list[str]
    mode: str
    end_date: date
    state: str
    drawn_at: datetime | None
    # Filled in after the page is cut: a drawn task's results, and when it was drawn in local time.
    results: TaskResults | None = None
    drawn_at_shown: str = ""


def _day(value: object) -> date:
    """A Date column as SQLite and PostgreSQL give it back."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def tasks_page(conn: Connection, number: int = 1, size: int = DEFAULT_SIZE) -> Page[TaskLine]:
    """One page of the tasks, newest first, with their plan and, once drawn, when."""
    t = draw_task.c
    total = int(conn.execute(select(func.count()).select_from(draw_task)).scalar_one())
    at = window(number, size, total)
    rows = conn.execute(
        select(t.task_id, t.name, t.plan_id, t.departments, t.mode, t.end_date, t.status)
        .add_columns(t["items"].label("item_codes"))  # .items is the column collection's method
        .add_columns(draw_plan.c.name.label("plan_name"), draw_plan.c.year, draw_record.c.drawn_at)
        .join(draw_plan, draw_plan.c.plan_id == t.plan_id)
        .outerjoin(draw_record, draw_record.c.task_id == t.task_id)
        .order_by(t.created_at.desc(), t.task_id.desc())
        .offset(at.offset)
        .limit(at.size)
    )
    items = [
        TaskLine(
            task_id=r.task_id,
            name=r.name,
            plan_id=r.plan_id,
            plan_name=r.plan_name,
            year=r.year,
            items=json.loads(r.item_codes),
            departments=json.loads(r.departments),
            mode=r.mode,
            end_date=_day(r.end_date),
            state=r.status,
            drawn_at=r.drawn_at,
        )
        for r in rows
    ]
    return Page(items, at.number, at.size, total)
