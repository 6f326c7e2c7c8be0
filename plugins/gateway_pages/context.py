"""What every route needs besides the caller: the gateway's settings for this request, and a form that has
proved it comes from our own page."""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import HTTPException, Request
from starlette.datastructures import FormData

from gateway.settings import Settings
from gateway_pages import csrf

# A form of ours is a few short fields; an upload's file is counted separately (uploads.MAX_BYTES).
MAX_FORM_FIELDS = 10


def settings_of(request: Request) -> Settings:
    return request.app.state.settings_source()


async def checked_form(request: Request, user: BaseUser, *, max_bytes: int = 64 * 1024) -> FormData:
    """The POSTed form, once its size is known to be bounded and its CSRF token checked.

    The body is read only after the caller was authenticated and authorised (route dependencies run
    first), and only when it declares a length within ``max_bytes``: nothing unbounded is spooled."""
    csrf.check_origin(request)
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise HTTPException(411, "请求缺少长度")
    if int(declared) > max_bytes:
        raise HTTPException(413, "提交的内容过大")
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    csrf.verify(request, user.get_id(), form.get(csrf.FIELD))
    return form
