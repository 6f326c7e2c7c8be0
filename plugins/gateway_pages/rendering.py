"""HTML out of jinja2 templates, escaped, in UTF-8, with the headers that keep the pages to themselves.

Autoescaping is on for every template, so a value is text whatever it holds (a department's file name,
a cell of a rejected row, the hub's message). Values that can carry a personal ID number typed in the
wrong place (natural keys, names, cell values, messages) go through the ``masked`` filter, the same mask
receipts and logs use. The pages run no script at all: the Content-Security-Policy allows none, and the
stylesheet is inline under a nonce. They may be framed by Airflow's own UI only (``frame-ancestors 'self'``),
which shows them in its menu as embedded views.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gateway.ids.resident_id import mask_in_text
from gateway_pages import csrf

TEMPLATES = Path(__file__).with_name("templates")
STYLESHEET = (TEMPLATES / "pages.css").read_text(encoding="utf-8")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["masked"] = lambda value: "" if value is None else mask_in_text(str(value))

STATUS_LABELS = {
    "processing": "处理中",
    "accepted": "全部接收",
    "partial": "部分接收",
    "rejected": "拒收",
    "duplicate": "重复提交",
    "built": "已生成",
    "sealed": "已封装",
    "sent": "已发送",
    "acknowledged": "已确认",
    "dead": "死信",
    "active": "有效",
    "withdrawn": "已撤回",
    "unattached": "待关联",
    "expired": "公示期满已撤下",
    "repaired": "已信用修复",
}
_env.globals["status_label"] = lambda status: STATUS_LABELS.get(str(status), str(status))


def url_for(request: Request, name: str, query: Mapping[str, object] | None = None, **params: object) -> str:
    """A path to one of our routes from the site's root: the mount prefix Airflow gave us (root_path),
    then the route, then the query (without its empty values)."""
    path = request.scope.get("root_path", "") + str(
        request.app.url_path_for(name, **{k: str(v) for k, v in params.items()})
    )
    wanted = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    return f"{path}?{urlencode(wanted)}" if wanted else path


def _headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'self'; base-uri 'none'"
        ),
        "X-Frame-Options": "SAMEORIGIN",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _render(request: Request, template: str, status_code: int, context: dict[str, Any]) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)

    def url(name: str, query: Mapping[str, object] | None = None, **params: object) -> str:
        return url_for(request, name, query, **params)

    html = _env.get_template(template).render(
        url=url, style_nonce=nonce, stylesheet=STYLESHEET, request_path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status_code, headers=_headers(nonce))


def page(
    request: Request, template: str, user: BaseUser, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page for a signed-in user, with the CSRF token its forms carry (csrf.py)."""
    token, fresh = csrf.token_for(request, user.get_id())
    response = _render(
        request, template, status_code, {"user_name": user.get_name(), "csrf_token": token, **context}
    )
    if fresh is not None:
        csrf.set_cookie(request, response, fresh)
    return response


def message(request: Request, status_code: int, title: str, text: str) -> HTMLResponse:
    """A page that only says something (refused, not found), with no form."""
    return _render(
        request,
        "message.html",
        status_code,
        {"user_name": None, "csrf_token": "", "title": title, "text": text},
    )
