"""The lookup's HTTP API (FastAPI), served by the gateway: GET /v1/standing/{code}, GET /v1/report/{code}.html
and .pdf, GET /v1/queries (auditors), GET /v1/health; the OpenAPI document at /openapi.json and /docs.

The routes only translate HTTP to gateway.credit.lookup.service and back: the credential from the headers
(``Authorization: Bearer <key>`` or ``X-API-Key``) or from the TLS connection (the client certificate that
gateway.credit.lookup.server puts into the scope), the answer's bytes as they are — no response models are
validated or serialised on the way out, which would cost more than the lookup itself (docs/lookup.md,
"Load"). The service's work is blocking (driver calls, PDF drawing): on PostgreSQL it runs in worker
threads, at most ``THREADS`` at once (also the most database connections a worker holds); on SQLite a JSON
lookup runs in the event loop (see create_app).
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

from gateway.credit.lookup.querylog import MAX_LIMIT, OUTCOMES, Filters
from gateway.credit.lookup.service import Answer, Credentials, LookupService, error_body
from gateway.settings import Settings

log = logging.getLogger(__name__)
THREADS = 3
STORE_DOWN = json.dumps(
    error_body("store_unavailable", "数据库暂不可用，本次查询未完成，请稍后重试"), ensure_ascii=False
).encode("utf-8")
DESCRIPTION = """\
逢办必查：办理事项的部门查询市场主体的信用状况。每个调用方（部门）有自己的凭据（API 密钥或客户端证书）和角色；
每次查询（无论结果）都在答复发出之前记入查询日志。

* 角色 `department`：查询信用状况和报告，不含信用风险分类；
* 角色 `internal`：同上，另含信用风险分类（内部参考，国市监信发〔2022〕6号，不得公开）；
* 角色 `auditor`：只能查阅查询日志（`/v1/queries`）。

代码可以是统一社会信用代码（18 位）、工商注册号（15 位）或组织机构代码（9 位）。
格式错误（400 `malformed_code`）、
校验位错误（422 `bad_check_character`）和查无此主体（404 `unknown_entity`）分别答复。详见 docs/lookup.md。
"""

# The lookup routes read their two parameters from the request themselves (no FastAPI parameter models to
# validate on the hot path); these are their OpenAPI descriptions.
_LOOKUP_PARAMETERS = {
    "parameters": [
        {
            "name": "code",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "统一社会信用代码、工商注册号或组织机构代码（可含空格、连字符、全角字符）",
        },
        {
            "name": "matter",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128},
            "description": "所办理的事项：案件号或申请编号（必填，记入查询日志；缺少时 400 matter_required）",
        },
    ]
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "代码格式错误（malformed_code）或未说明办理事项（matter_required / matter_too_long）"
    },
    401: {"description": "缺少或无效的凭据（credential_missing / credential_invalid / credential_revoked）"},
    403: {"description": "角色无权（role_forbidden）"},
    404: {"description": "代码有效但查无此主体（unknown_entity）；报告格式时为注明“未查到”的报告"},
    409: {"description": "旧代码对应多个主体（ambiguous_code），答复列出候选，请改用统一社会信用代码"},
    422: {"description": "校验位错误（bad_check_character）"},
    503: {"description": "查询日志或数据库不可用（log_unavailable / store_unavailable），未作答复"},
}


def _credentials(request: Request) -> Credentials:
    headers = request.headers
    key = None
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else ""
    elif "x-api-key" in headers:
        key = headers["x-api-key"].strip()
    chain = ((request.scope.get("extensions") or {}).get("tls") or {}).get("client_cert_chain") or ()
    return Credentials(key=key, cert_pem=chain[0] if chain else None)


def _response(answer: Answer) -> Response:
    headers = {"Cache-Control": "no-store", **answer.headers}
    if answer.media_type == "application/pdf":
        report_no = answer.headers.get("X-Report-No", "report")
        headers["Content-Disposition"] = f'inline; filename="{report_no}.pdf"'
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type, headers=headers)


def create_app(settings: Settings | None = None, *, service: LookupService | None = None) -> FastAPI:
    service = service or LookupService(settings or Settings.from_env())
    threads = ThreadPoolExecutor(THREADS, thread_name_prefix="lookup")
    # SQLite runs in this process and holds the GIL while it works: threads could only take turns, so a
    # JSON lookup (under a millisecond) runs in the event loop itself. PostgreSQL work is mostly waiting on
    # the server, which threads overlap. Reports (drawing a PDF takes tens of ms) always go to a thread.
    inline_json = service.db.dialect == "sqlite"
    app = FastAPI(
        title="逢办必查 信用状况查询 (gateway lookup)",
        version="1",
        description=DESCRIPTION,
        responses=_ERRORS,
    )

    async def run(function: Any, *args: Any, inline: bool = False) -> Response:
        try:
            if inline:
                answer = function(*args)
            else:
                answer = await asyncio.get_running_loop().run_in_executor(threads, partial(function, *args))
        except Exception:  # the store is down or broke mid-request: nothing was answered or logged
            log.exception("lookup: the request failed in the store")
            answer = Answer(503, STORE_DOWN)
        return _response(answer)

    def lookup(request: Request, fmt: str) -> Any:
        args = (_credentials(request), request.path_params["code"], request.query_params.get("matter"), fmt)
        return run(service.lookup, *args, inline=inline_json and fmt == "json")

    @app.get(
        "/v1/standing/{code}",
        summary="主体信用状况（JSON）",
        response_description="信用状况：主体、红线名单、公示期内行政处罚、信用承诺、信用修复、异议、数据更新时间；"
        "internal 角色另含信用风险分类",
        openapi_extra=_LOOKUP_PARAMETERS,
    )
    async def standing(request: Request) -> Response:
        return await lookup(request, "json")

    @app.get(
        "/v1/report/{code}.html",
        summary="查询报告（HTML，可打印）",
        response_class=Response,
        openapi_extra=_LOOKUP_PARAMETERS,
    )
    async def report_html(request: Request) -> Response:
        return await lookup(request, "html")

    @app.get(
        "/v1/report/{code}.pdf",
        summary="查询报告（PDF）",
        response_class=Response,
        openapi_extra=_LOOKUP_PARAMETERS,
    )
    async def report_pdf(request: Request) -> Response:
        return await lookup(request, "pdf")

    @app.get("/v1/queries", summary="查询日志（仅 auditor 角色）")
    async def queries(
        request: Request,
        caller: Annotated[str | None, Query(description="调用方名称")] = None,
        entity: Annotated[
            str | None, Query(description="主体的统一社会信用代码、注册号或组织机构代码")
        ] = None,
        outcome: Annotated[str | None, Query(description=f"结果：{' | '.join(OUTCOMES)}")] = None,
        since: Annotated[date | None, Query(description="起始日（含），YYYY-MM-DD，本地日期")] = None,
        until: Annotated[date | None, Query(description="截止日（含），YYYY-MM-DD，本地日期")] = None,
        before: Annotated[int | None, Query(description="翻页：上一页答复的 next_before")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数")] = 100,
    ) -> Response:
        filters = Filters(caller, entity, outcome, since, until, before, limit)
        return await run(service.queries, _credentials(request), filters)

    @app.get("/v1/health", summary="健康检查（无需凭据）")
    async def health() -> Response:
        return await run(service.health)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "gwl_<key_id>_<secret>"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "clientCertificate": {"type": "mutualTLS", "description": "已登记指纹的客户端证书"},
            }
            schema["security"] = [{"bearer": []}, {"apiKey": []}, {"clientCertificate": []}]
            schema["paths"]["/v1/health"]["get"]["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn's workers call (gateway.credit.lookup.server), with GATEWAY_* settings."""
    return create_app(Settings.from_env())
