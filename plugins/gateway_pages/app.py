"""The gateway's pages as one FastAPI app, which Airflow mounts under ``/gateway`` (gateway_pages_plugin.py).

A view layer only: every figure comes from a query module of the gateway (gateway.intake_history,
gateway.resolution_review, gateway.delivery.overview, gateway.entity_profile) and every action is the
gateway's own call (the drop folder's process_file, resolution_queue.resolve, delivery.admin.retry).
Settings are read per request with ``connectors.airflow_settings.gateway_settings`` (the ``gateway_hub``
Connection over the GATEWAY_* environment), as the DAGs read them, so a changed Connection applies at once.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from gateway.settings import Settings
from gateway_pages import deliveries, departments, draws, entities, resolution, warnings
from gateway_pages.access import NotSignedIn
from gateway_pages.csrf import CsrfRefused
from gateway_pages.rendering import message, url_for

SettingsSource = Callable[[], Settings]


def _default_settings() -> Settings:
    from connectors.airflow_settings import gateway_settings

    return gateway_settings()


def create_app(settings_source: SettingsSource | None = None) -> FastAPI:
    """``settings_source``: where each request gets the gateway's settings (default: gateway_settings)."""
    app = FastAPI(title="数据交换网关 pages", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings_source = settings_source or _default_settings
    for section in (departments, resolution, deliveries, entities, warnings, draws):
        app.include_router(section.router)

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> RedirectResponse:
        return RedirectResponse(url_for(request, "departments"), status_code=303)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        """A page sends the browser to Airflow's login, which comes back here; anything else is a 401."""
        if request.method in ("GET", "HEAD"):
            from airflow.api_fastapi.app import get_auth_manager

            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(get_auth_manager().get_url_login(next_url=back), status_code=303)
        return message(request, 401, "未登录", "请先登录 Airflow，再从页面提交。")

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 403:
            return message(request, 403, "无权访问", "您的 Airflow 账号没有执行此操作的权限，请联系管理员。")
        if exc.status_code == 404:
            return message(request, 404, "未找到", str(exc.detail or "页面不存在"))
        return message(request, exc.status_code, "请求有误", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        return message(request, 400, "请求有误", "参数不合法（页码、编号等），请从页面上的链接进入。")

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        """A failure of the gateway itself: the page says so; the server's log has the traceback."""
        return message(
            request, 500, "网关内部错误", "处理请求时发生内部错误，请稍后重试；如仍失败，请联系平台工程师。"
        )

    @app.exception_handler(CsrfRefused)
    async def forged(request: Request, exc: CsrfRefused) -> Response:
        return message(request, 403, "请求被拒绝", str(exc))

    return app
