"""Entity profile: search by USCC, legacy code or name; an entity's records by type and source."""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from gateway.credit.risk.service import risk_history
from gateway.entity_profile import profile, records_page, search
from gateway.paging import Page
from gateway.schema import load_record_types
from gateway_pages.access import CREDIT_DAG, DELIVERY_DAG, may, reader
from gateway_pages.context import settings_of
from gateway_pages.rendering import page

router = APIRouter()
Reader = Annotated[BaseUser, Depends(reader(DELIVERY_DAG))]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]


@router.get("/entities", name="entities")
def entity_search(
    request: Request,
    user: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    page_no: PageNumber = 1,
) -> HTMLResponse:
    query = q.strip()
    found = search(settings_of(request), query, page_no) if query else Page([], 1, 50, 0)
    return page(request, "entities.html", user, title="市场主体", q=query, found=found)


@router.get("/entities/{entity_id}", name="entity")
def entity(
    request: Request,
    entity_id: int,
    user: Reader,
    record_type: Annotated[str | None, Query(alias="type", max_length=64)] = None,
    page_no: PageNumber = 1,
) -> HTMLResponse:
    settings = settings_of(request)
    record_types = load_record_types(settings.schemas_dir)
    found = profile(settings, entity_id, record_types)
    if found is None:
        raise HTTPException(404, "没有这个市场主体")
    records = records_page(settings, entity_id, record_types, record_type or None, page_no)
    risk = risk_history(settings, entity_id) if may(request, user, CREDIT_DAG) else None
    return page(
        request,
        "entity.html",
        user,
        title=f"市场主体：{found.entity.name}",
        profile=found,
        records=records,
        record_type=record_type or "",
        risk=risk,
    )
