"""The resolution queue: records waiting for an entity, their candidates, and resolving one from the page
(gateway.resolution_queue.resolve, the same call as `gateway queue resolve`, with the user as ``by``)."""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.resolution_queue import ResolveError, resolve
from gateway.resolution_review import waiting_page
from gateway.schema import load_record_types
from gateway_pages.access import DELIVERY_DAG, actor, reader
from gateway_pages.context import checked_form, settings_of
from gateway_pages.rendering import message, page, url_for

router = APIRouter()
Reader = Annotated[BaseUser, Depends(reader(DELIVERY_DAG))]
Actor = Annotated[BaseUser, Depends(actor(DELIVERY_DAG))]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]


@router.get("/queue", name="queue")
def queue(
    request: Request,
    user: Reader,
    page_no: PageNumber = 1,
    resolved: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    settings = settings_of(request)
    items = waiting_page(settings, load_record_types(settings.schemas_dir), page_no)
    return page(request, "queue.html", user, title="待关联记录", items=items, resolved=resolved)


@router.post("/queue/{queue_id}/resolve", name="resolve")
async def resolve_entry(request: Request, queue_id: int, user: Actor) -> Response:
    """Attach the record to the USCC chosen (a candidate) or typed (with a name, registering a new entity)."""
    form = await checked_form(request, user)
    uscc = str(form.get("uscc") or form.get("candidate") or "").strip()
    name = str(form.get("name") or "").strip() or None
    if not uscc:
        return message(request, 400, "未选择主体", "请选择一个候选主体，或填写统一社会信用代码。")
    settings = settings_of(request)
    try:
        await run_in_threadpool(resolve, settings, queue_id, uscc, by=user.get_name()[:64], name=name)
    except ResolveError as exc:
        return message(request, 400, "无法关联", str(exc))
    from_page = str(form.get("page") or "")
    back = url_for(
        request, "queue", {"page": from_page if from_page.isdigit() else None, "resolved": queue_id}
    )
    return RedirectResponse(back, status_code=303)
