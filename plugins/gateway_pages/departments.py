"""Per department: the files it sent, their rows accepted and rejected, each file's receipt with its
rejected rows, and a form to check or drop a file (uploads.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from connectors.drop_folder import DEPARTMENT_ID, DropFolder
from gateway import intake_history
from gateway.paging import page_of
from gateway.settings import Settings
from gateway_pages import uploads
from gateway_pages.access import INGEST_DAG, actor, reader
from gateway_pages.context import checked_form, settings_of
from gateway_pages.rendering import message, page

router = APIRouter()
Reader = Annotated[BaseUser, Depends(reader(INGEST_DAG))]
Actor = Annotated[BaseUser, Depends(actor(INGEST_DAG))]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]
ERRORS_PER_PAGE = 50
# The multipart envelope and the form's other fields around the file itself.
FORM_OVERHEAD = 64 * 1024


def _known(settings: Settings, department: str) -> bool:
    """A department is one with a folder in the drop zone or files on record."""
    if DEPARTMENT_ID.fullmatch(department) is None:
        return False
    if department in DropFolder(settings.dropzone).departments():
        return True
    return intake_history.files_of(settings, department, 1, 1).total > 0


@router.get("/departments", name="departments")
def department_list(request: Request, user: Reader) -> HTMLResponse:
    settings = settings_of(request)
    folder = DropFolder(settings.dropzone)
    totals = {t.department: t for t in intake_history.department_totals(settings)}
    names = sorted(set(totals) | set(folder.departments()))
    rows = [
        {"department": name, "totals": totals.get(name), "waiting": len(folder.waiting(name).entries)}
        for name in names
    ]
    return page(request, "departments.html", user, title="部门报送", rows=rows)


@router.get("/departments/{department}", name="department")
def department_files(
    request: Request, department: str, user: Reader, page_no: PageNumber = 1
) -> HTMLResponse:
    settings = settings_of(request)
    if not _known(settings, department):
        raise HTTPException(404, "没有这个部门")
    files = intake_history.files_of(settings, department, page_no)
    waiting = len(DropFolder(settings.dropzone).waiting(department).entries)
    return page(
        request,
        "department.html",
        user,
        title=f"部门报送：{department}",
        department=department,
        files=files,
        waiting=waiting,
        max_mb=uploads.MAX_BYTES >> 20,
    )


@router.get("/departments/{department}/files/{file_id}", name="receipt")
def receipt(
    request: Request, department: str, file_id: int, user: Reader, page_no: PageNumber = 1
) -> HTMLResponse:
    settings = settings_of(request)
    stored = intake_history.receipt_of(settings, department, file_id)
    if stored is None:
        raise HTTPException(404, "没有这个文件")
    errors = page_of(stored.receipt.errors if stored.receipt else [], page_no, ERRORS_PER_PAGE)
    return page(
        request,
        "receipt.html",
        user,
        title=f"回执：{stored.entry.name}",
        department=department,
        entry=stored.entry,
        receipt=stored.receipt,
        errors=errors,
    )


@router.post("/departments/{department}/check", name="check_file")
async def check_file(request: Request, department: str, user: Reader) -> HTMLResponse:
    """The receipt the file would get; nothing is stored (read access is enough)."""
    settings = settings_of(request)
    try:
        async with _upload(request, user, settings, department) as upload:
            receipt = await run_in_threadpool(
                uploads.check, settings, department, upload.filename or "", upload.file
            )
    except uploads.UploadTooLarge as exc:
        return message(request, 413, "文件过大", str(exc))
    return page(
        request,
        "checked.html",
        user,
        title=f"检查结果：{receipt.file}",
        department=department,
        receipt=receipt,
        errors=page_of(receipt.errors, 1, 200),
    )


@router.post("/departments/{department}/submit", name="submit_file")
async def submit_file(request: Request, department: str, user: Actor) -> HTMLResponse:
    """Into the inbox and through the drop folder at once; the page shows the outcome, linking the receipt."""
    settings = settings_of(request)
    try:
        async with _upload(request, user, settings, department) as upload:
            done = await run_in_threadpool(
                uploads.submit, settings, department, upload.filename or "", upload.file
            )
    except uploads.UploadTooLarge as exc:
        return message(request, 413, "文件过大", str(exc))
    stored = intake_history.file_with_content(settings, department, done.sha256)
    return page(
        request,
        "submitted.html",
        user,
        title=f"已报送：{done.name}",
        department=department,
        done=done,
        stored=stored,
    )


@asynccontextmanager
async def _upload(
    request: Request, user: BaseUser, settings: Settings, department: str
) -> AsyncIterator[UploadFile]:
    """The uploaded file of a checked form for a known department; its spooled copy is closed afterwards."""
    if not await run_in_threadpool(_known, settings, department):
        raise HTTPException(404, "没有这个部门")
    form = await checked_form(request, user, max_bytes=uploads.MAX_BYTES + FORM_OVERHEAD)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise HTTPException(400, "请选择要上传的文件")
        yield upload
    finally:
        await form.close()
