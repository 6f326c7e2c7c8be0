"""Cross-site request forgery: every form that changes something carries a token the attacker cannot know.

Double submit, tied to the login. A page sets a random nonce in a cookie of its own (HttpOnly,
SameSite=Strict, scoped to the pages' path) and puts into each form
``HMAC(secret, nonce ‖ user id)``, keyed with Airflow's API ``secret_key``. A POST is accepted only when
the form's token is that HMAC of the cookie it came with and of the user the request's JWT names. Another
site can make a browser send a POST with the Airflow cookie (SameSite=Lax lets top-level POSTs from
links through in some browsers, and the token cookie is sent by any same-site page), but it can neither
read our nonce cookie nor compute the HMAC, and a token stolen from one user is worthless for another.
An ``Origin`` header naming another host (or ``null``, a sandboxed or opaque origin) is refused outright,
before anything else is looked at.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

COOKIE = "gateway_pages_csrf"
FIELD = "csrf_token"
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
_DOMAIN = b"gateway pages csrf\0"


class CsrfRefused(Exception):
    """The POST did not prove it comes from our own page; the message says what was missing."""


def _key() -> bytes:
    from airflow.api_fastapi.auth.tokens import get_signing_key

    return get_signing_key("api", "secret_key").encode()


def _mac(nonce: str, user_id: str) -> str:
    digest = hmac.new(_key(), _DOMAIN + nonce.encode() + b"\0" + user_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def nonce_of(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and _NONCE.fullmatch(value) else None


def token_for(request: Request, user_id: str) -> tuple[str, str | None]:
    """The form token for this user, and a fresh nonce to set as the cookie (None: the request's stays)."""
    nonce = nonce_of(request)
    fresh = None
    if nonce is None:
        nonce = fresh = secrets.token_urlsafe(32)
    return _mac(nonce, user_id), fresh


def set_cookie(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        COOKIE,
        nonce,
        path=request.scope.get("root_path") or "/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def check_origin(request: Request) -> None:
    """Raise CsrfRefused when the browser says the request comes from another origin."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.url.netloc:
        raise CsrfRefused(f"请求来自其他站点（{origin}），已拒绝")


def verify(request: Request, user_id: str, token: object) -> None:
    """Raise CsrfRefused unless ``token`` (the form's) matches the request's cookie and user."""
    check_origin(request)
    nonce = nonce_of(request)
    if nonce is None:
        raise CsrfRefused("缺少页面令牌 cookie：请重新打开页面后再提交")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), _mac(nonce, user_id).encode()):
        raise CsrfRefused("页面令牌无效或已过期：请重新打开页面后再提交")
