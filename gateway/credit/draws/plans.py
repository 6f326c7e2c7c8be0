"""Plans (抽查计划) and their tasks (抽查任务): what is to be drawn, before any draw.

A task names one or more items of the loaded list; its departments are theirs, so a joint, cross-department
task (部门联合抽查) is one task naming several departments' items: one draw of objects, and inspectors from
each department. A task is drawn once; after that it cannot be changed, only read and verified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from gateway.credit.draws.algorithm import DrawError
from gateway.credit.draws.population import check_filters
from gateway.credit.draws.tables import draw_item, draw_plan, draw_task

MODES = ("定向", "不定向")
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _check_id(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or set(value) - _ID_CHARS:
        raise DrawError(f"{what} {value!r} 须为 1–64 个字母、数字或 - _ .")
    return value


def add_plan(conn: Connection, plan_id: str, name: str, year: int, department: str) -> None:
    plan_id = _check_id(plan_id, "计划编号")
    if not 2000 <= year <= 2100:
        raise DrawError(f"计划年度 {year} 不合理")
    if conn.execute(select(draw_plan.c.plan_id).where(draw_plan.c.plan_id == plan_id)).first():
        raise DrawError(f"抽查计划 {plan_id} 已存在")
    if not name.strip() or not department.strip():
        raise DrawError("计划名称和部门不能为空")
    conn.execute(
        insert(draw_plan).values(
            plan_id=plan_id,
            name=name.strip(),
            year=year,
            department=department.strip(),
            created_at=datetime.now(UTC),
        )
    )


def add_task(
    conn: Connection,
    task_id: str,
    plan_id: str,
    name: str,
    items: Sequence[str],
    mode: str,
    end_date: date,
    filters: Mapping[str, object] | None = None,
    *,
    allow_repeat: bool = False,
) -> list[str]:
    """Add a task; returns its departments (those of its items)."""
    task_id = _check_id(task_id, "任务编号")
    if conn.execute(select(draw_task.c.task_id).where(draw_task.c.task_id == task_id)).first():
        raise DrawError(f"抽查任务 {task_id} 已存在")
    if not conn.execute(select(draw_plan.c.plan_id).where(draw_plan.c.plan_id == plan_id)).first():
        raise DrawError(f"没有抽查计划 {plan_id}：先用 plan add 建立")
    if mode not in MODES:
        raise DrawError(f"抽查方式应为 定向 或 不定向，而不是 {mode!r}")
    codes = sorted({c.strip() for c in items if c.strip()})
    if not codes:
        raise DrawError("任务至少要有一个抽查事项")
    found = {
        r.code: r.department
        for r in conn.execute(
            select(draw_item.c.code, draw_item.c.department).where(draw_item.c.code.in_(codes))
        )
    }
    missing = [c for c in codes if c not in found]
    if missing:
        raise DrawError(f"抽查事项清单中没有 {'、'.join(missing)}：先用 load-items 导入清单")
    clean = check_filters(filters or {})
    if mode == "定向" and not clean:
        raise DrawError("定向抽查须给出至少一个条件（type 或 area）")
    if mode == "不定向" and clean:
        raise DrawError("不定向抽查不设条件")
    departments = sorted(set(found.values()))
    conn.execute(
        insert(draw_task).values(
            task_id=task_id,
            plan_id=plan_id,
            name=name.strip() or task_id,
            items=json.dumps(codes, ensure_ascii=False),
            departments=json.dumps(departments, ensure_ascii=False),
            mode=mode,
            filters=json.dumps(clean, ensure_ascii=False, sort_keys=True) if clean else None,
            end_date=end_date,
            allow_repeat=allow_repeat,
            status="planned",
            created_at=datetime.now(UTC),
        )
    )
    return departments


@dataclass(frozen=True)
class Task:
    task_id: str
    plan_id: str
    name: str
    items: list[str]
    departments: list[str]
    mode: str
    filters: dict[str, list[str]]
    end_date: date
    allow_repeat: bool
    status: str
    plan_name: str
    year: int
    plan_department: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.task_id,
            "name": self.name,
            "mode": self.mode,
            "filters": self.filters,
            "end_date": self.end_date.isoformat(),
            "allow_repeat": self.allow_repeat,
            "departments": self.departments,
        }

    def plan_dict(self) -> dict[str, Any]:
        return {
            "id": self.plan_id,
            "name": self.plan_name,
            "year": self.year,
            "department": self.plan_department,
        }


def get_task(conn: Connection, task_id: str) -> Task:
    row = conn.execute(
        select(draw_task, draw_plan.c.name.label("plan_name"), draw_plan.c.year, draw_plan.c.department)
        .join(draw_plan, draw_plan.c.plan_id == draw_task.c.plan_id)
        .where(draw_task.c.task_id == task_id)
    ).first()
    if row is None:
        raise DrawError(f"没有抽查任务 {task_id}")
    end = row.end_date if isinstance(row.end_date, date) else date.fromisoformat(str(row.end_date))
    return Task(
        task_id=row.task_id,
        plan_id=row.plan_id,
        name=row.name,
        items=json.loads(row.items),
        departments=json.loads(row.departments),
        mode=row.mode,
        filters=json.loads(row.filters) if row.filters else {},
        end_date=end,
        allow_repeat=bool(row.allow_repeat),
        status=row.status,
        plan_name=row.plan_name,
        year=row.year,
        plan_department=row.department,
    )


def task_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(draw_task.c.task_id).order_by(draw_task.c.task_id)).scalars())


__all__ = ["MODES", "Task", "add_plan", "add_task", "get_task", "task_ids"]
