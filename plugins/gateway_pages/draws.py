"""双随机抽查: the double-random tasks (gateway.credit.draws) listed with their results, one task with its
signed draw, drawn from the page with a witnessed nonce (``service.run_draw``, the call behind `gateway
credit draws run` and the double_random_draw DAG) and verified from its stored record (``verify_draw``).

Access is per DAG, as for every page (access.py): reading needs read access to the ``double_random_draw``
DAG; drawing and verifying need permission to trigger it, since a draw from the page is what a run of that
DAG does, once and for good.

The draw is by risk class, and the class is internal (docs/credit.md): each drawn object's stratum, and the
counts per stratum (which give it away when a task's objects all come from one class), are shown only to a
caller who may trigger ``credit_classify``, as on the entity page; everyone else sees the drawn objects and
the totals. The results (from ``results.results_report``, with the shipped working-day calendar) carry no
class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool

from gateway.credit.draws.algorithm import DrawError
from gateway.credit.draws.listing import TaskLine, tasks_page
from gateway.credit.draws.plans import Task, get_task
from gateway.credit.draws.results import TaskResults, results_report
from gateway.credit.draws.service import Verification, run_draw, stored_record, verify_draw
from gateway.local_times import shown
from gateway.paging import Page, page_of
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity
from gateway.transfer.errors import TransferError
from gateway_pages.access import CREDIT_DAG, DRAWS_DAG, actor, may, reader
from gateway_pages.context import checked_form, settings_of
from gateway_pages.rendering import message, page, url_for

NONCE_MAX = 128  # what run_draw accepts (and draw_record.nonce holds)
STATE_LABELS = {"planned": "未抽取", "drawn": "已抽取"}
FILTER_LABELS = {"type": "主体类型含", "area": "住所行政区划"}
DONE = {"drawn": "已抽取：签名的抽取记录已保存。可随时点“复核”，按记录重新核验这次抽取。"}

router = APIRouter()
Reader = Annotated[BaseUser, Depends(reader(DRAWS_DAG))]
Actor = Annotated[BaseUser, Depends(actor(DRAWS_DAG))]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]


# ------------------------------------------------------------------------------------------- queries
def with_results(settings: Settings, found: Page[TaskLine]) -> Page[TaskLine]:
    """The page's drawn tasks with their results as of today (the results report: shipped calendar) and
    the time of their draw as people read it."""
    drawn = [line.task_id for line in found.items if line.state == "drawn"]
    # results_report reads every drawn task when given none: ask only when this page has some.
    report = {r.task_id: r for r in results_report(settings, drawn)} if drawn else {}
    items = [
        replace(line, results=report.get(line.task_id), drawn_at_shown=shown(settings, line.drawn_at))
        for line in found.items
    ]
    return Page(items, found.number, found.size, found.total)


def entity_ids(conn: Connection, codes: Sequence[str]) -> dict[str, int]:
    """USCC → entity id, for the drawn objects of one page that the store still has."""
    if not codes:
        return {}
    rows = conn.execute(select(entity.c.uscc, entity.c.id).where(entity.c.uscc.in_(list(codes))))
    return {r.uscc: r.id for r in rows}


# ----------------------------------------------------------------------------------------- one task
def _filters(task: Task) -> list[tuple[str, str]]:
    return [(FILTER_LABELS.get(name, name), "、".join(values)) for name, values in task.filters.items()]


def _counts(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per stratum: in scope, candidates, by ratio, topped up to the floor, drawn."""
    return [
        {"stratum": name, **c, "drawn": c["quota"] + c["topup"]}
        for name, c in sorted(record["counts"].items())
    ]


def _totals(record: Mapping[str, Any]) -> dict[str, int]:
    counts = record["counts"].values()
    return {
        "scope": record["population"]["scope_size"],
        "eligible": record["population"]["size"],
        "earlier": record["population"]["drawn_earlier_this_year"],
        "quota": sum(c["quota"] for c in counts),
        "topup": sum(c["topup"] for c in counts),
        "drawn": len(record["drawn"]),
        "floor_total": record["floor_total"],
    }


def _objects(
    drawn: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    results: TaskResults | None,
    links: Mapping[str, int],
) -> list[dict[str, Any]]:
    """One page of drawn objects as shown: USCC (and its entity), name, stratum, inspectors, result."""
    wanted = {o["uscc"] for o in drawn}
    found = {o["uscc"]: o for o in (results.objects if results else []) if o["uscc"] in wanted}
    shown_objects = []
    for obj in drawn:
        result = found.get(obj["uscc"], {})
        shown_objects.append(
            {
                "uscc": obj["uscc"],
                "entity_id": links.get(obj["uscc"]),
                "name": obj["name"],
                "stratum": obj["stratum"],
                "inspectors": [(names.get(code, ""), code) for code in obj["inspectors"]],
                "result": result.get("InspectResult"),
                "inspected_on": result.get("InspectDate"),
                "overdue": bool(result.get("overdue")),
            }
        )
    return shown_objects


def _task_page(
    request: Request,
    user: BaseUser,
    task_id: str,
    page_no: int = 1,
    *,
    verification: Verification | None = None,
    done: str | None = None,
) -> HTMLResponse:
    settings = settings_of(request)
    with engine_for(settings.database_url).connect() as conn:
        try:
            task = get_task(conn, task_id)
        except DrawError as exc:
            raise HTTPException(404, "没有这个抽查任务") from exc
        record = stored_record(conn, task_id)
        drawn = page_of(record["drawn"] if record else [], page_no)
        links = entity_ids(conn, [o["uscc"] for o in drawn.items])
    results = results_report(settings, [task_id])[0] if record else None
    may_see_class = may(request, user, CREDIT_DAG)
    objects = _objects(drawn.items, record["inspector_names"], results, links) if record else []
    return page(
        request,
        "draw.html",
        user,
        title=f"双随机抽查任务 {task.task_id}：{task.name}",
        task=task,
        state_label=STATE_LABELS.get(task.status, task.status),
        filters=_filters(task),
        record=record,
        drawn_at=shown(settings, datetime.fromisoformat(record["drawn_at"])) if record else "",
        totals=_totals(record) if record else None,
        counts=_counts(record) if record and may_see_class else [],
        results=results,
        objects=Page(objects, drawn.number, drawn.size, drawn.total),
        may_act=may(request, user, DRAWS_DAG),
        may_see_class=may_see_class,
        verification=verification,
        done=DONE.get(done or ""),
        nonce_max=NONCE_MAX,
    )


# ------------------------------------------------------------------------------------------------ pages
@router.get("/draws", name="draws")
def draw_list(request: Request, user: Reader, page_no: PageNumber = 1) -> HTMLResponse:
    settings = settings_of(request)
    with engine_for(settings.database_url).connect() as conn:
        found = tasks_page(conn, page_no)
    return page(
        request,
        "draws.html",
        user,
        title="双随机抽查",
        found=with_results(settings, found),
        state_labels=STATE_LABELS,
    )


@router.get("/draws/{task_id}", name="draw")
def draw_detail(
    request: Request,
    task_id: str,
    user: Reader,
    page_no: PageNumber = 1,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    return _task_page(request, user, task_id, page_no, done=done)


def _known(settings: Settings, task_id: str) -> Task:
    with engine_for(settings.database_url).connect() as conn:
        try:
            return get_task(conn, task_id)
        except DrawError as exc:
            raise HTTPException(404, "没有这个抽查任务") from exc


@router.post("/draws/{task_id}/draw", name="draw_run")
async def draw_run(request: Request, task_id: str, user: Actor) -> Response:
    """Draw the task once with the nonce the witnesses announced; the signed record is stored."""
    form = await checked_form(request, user)
    nonce = str(form.get("nonce", "") or "").strip()
    if not nonce:
        return message(
            request,
            400,
            "请填写见证随机数",
            "抽取必须使用现场见证的随机数（如公开摇号的号码、见证人当场抽出的数字），请填写后重新提交。",
        )
    if len(nonce) > NONCE_MAX:
        return message(request, 400, "见证随机数过长", f"见证随机数不能超过 {NONCE_MAX} 个字符。")
    settings = settings_of(request)
    await run_in_threadpool(_known, settings, task_id)
    try:
        await run_in_threadpool(run_draw, settings, task_id, nonce)
    except DrawError as exc:  # already drawn, nothing to draw, too few inspectors, a bad ratio file
        return message(request, 409, "无法抽取", str(exc))
    except TransferError as exc:  # no usable signing key: no key, no draw (nothing was written)
        return message(request, 500, "无法签名抽取记录", f"网关的签名密钥不可用，未进行抽取：{exc}")
    return RedirectResponse(url_for(request, "draw", {"done": "drawn"}, task_id=task_id), 303)


@router.post("/draws/{task_id}/verify", name="draw_verify")
async def draw_verify(request: Request, task_id: str, user: Actor) -> Response:
    """Re-check the stored draw from its own row and show the outcome on the task's page."""
    await checked_form(request, user)
    settings = settings_of(request)
    await run_in_threadpool(_known, settings, task_id)
    verification = await run_in_threadpool(verify_draw, settings, task_id)
    return await run_in_threadpool(_task_page, request, user, task_id, verification=verification)
