"""Deliveries: the batches and their states, the dead letters, one batch with the hub's signed receipt and
the records it refused, and a retry (gateway.delivery.admin.retry, the same call as `gateway deliveries
retry`, with the user as ``by``)."""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.delivery import admin, overview, states
from gateway_pages.access import DELIVERY_DAG, actor, reader
from gateway_pages.context import checked_form, settings_of
from gateway_pages.rendering import message, page, url_for

router = APIRouter()
Reader = Annotated[BaseUser, Depends(reader(DELIVERY_DAG))]
Actor = Annotated[BaseUser, Depends(actor(DELIVERY_DAG))]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]


@router.get("/deliveries", name="deliveries")
def delivery_list(
    request: Request,
    user: Reader,
    page_no: PageNumber = 1,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """Every batch, newest first; ``status=dead`` lists the dead letters."""
    if status is not None and status not in states.ALL:
        raise HTTPException(400, f"未知的批次状态：{status}")
    settings = settings_of(request)
    batches = overview.batches_page(settings, [status] if status else (), page_no)
    return page(
        request,
        "deliveries.html",
        user,
        title="报送批次",
        batches=batches,
        counts=overview.counts(settings),
        states=states.ALL,
        status=status,
    )


@router.get("/deliveries/{batch_id}", name="batch")
def batch(
    request: Request, batch_id: str, user: Reader, retried: Annotated[str | None, Query(max_length=16)] = None
) -> HTMLResponse:
    detail = overview.batch_detail(settings_of(request), batch_id)
    if detail is None:
        raise HTTPException(404, "没有这个批次")
    return page(request, "batch.html", user, title=f"批次 {batch_id}", detail=detail, retried=retried)


@router.post("/deliveries/{batch_id}/retry", name="retry")
async def retry(request: Request, batch_id: str, user: Actor) -> Response:
    await checked_form(request, user)
    try:
        done = await run_in_threadpool(admin.retry, settings_of(request), batch_id, by=user.get_name()[:64])
    except admin.RetryError as exc:
        return message(request, 409, "无法重试", str(exc))
    return RedirectResponse(url_for(request, "batch", {"retried": done.previous}, batch_id=batch_id), 303)
