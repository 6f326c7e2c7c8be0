"""The hub's HTTP face (FastAPI): POST /v1/batches, GET /v1/health, GET /v1/keys.

The body of a push is streamed to a temporary file while its SHA-256 is computed, never held in memory;
the CPU-bound work (decrypt, validate, store) runs in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import BinaryIO

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.transfer.protocol import (
    BATCHES_PATH,
    HEALTH_PATH,
    KEYS_PATH,
    RECEIPT_SIGNATURE_HEADER,
    REPLAYED_HEADER,
)
from hub.db import open_engine
from hub.intake import Answer, Intake
from hub.keys import HubKeys
from hub.settings import Settings
from hub.validate import BatchValidator

# How much of a refused request's body is still read so that the client sees the answer instead of a
# connection reset mid-upload (which it would take for a transient failure and retry).
DRAIN_LIMIT = 64 << 20


def _respond(answer: Answer) -> Response:
    headers: dict[str, str] = {}
    if answer.signature is not None:
        headers[RECEIPT_SIGNATURE_HEADER] = base64.b64encode(answer.signature).decode("ascii")
    if answer.replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(answer.body, status_code=answer.status, media_type="application/json", headers=headers)


async def _spool(request: Request, dst: BinaryIO | None, limit: int) -> tuple[str, int, bool]:
    """Copy the body to ``dst`` (or discard it) up to ``limit`` bytes: (sha256, size, complete)."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return digest.hexdigest(), size, False
        digest.update(chunk)
        if dst is not None:
            dst.write(chunk)  # small chunks to a local file: cheaper inline than a thread hop each
    return digest.hexdigest(), size, True


def create_app(settings: Settings, *, validator: BatchValidator | None = None) -> FastAPI:
    for directory in (settings.home, settings.received_dir, settings.tmp_dir):
        directory.mkdir(parents=True, exist_ok=True)
    for leftover in settings.tmp_dir.iterdir():  # spooled bodies of a previous run that died mid-request
        leftover.unlink()
    keys = HubKeys(settings.keys)
    engine = open_engine(settings.db_path)
    intake = Intake(
        settings,
        keys,
        engine,
        validator or BatchValidator.from_dir(settings.schemas, max_rejections=settings.max_rejections),
    )

    app = FastAPI(title=f"省级平台参考实现 {keys.hub_id}", summary="接收网关推送的加密签名批次并返回签名回执")
    app.state.intake = intake

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this handler, so uvicorn logs the traceback once; not repeated here.
        return JSONResponse({"error": {"code": "internal_error", "message": "平台内部错误，请稍后重试"}}, 500)

    @app.get(HEALTH_PATH)
    def health() -> dict[str, object]:
        return {"status": "ok", "hub": keys.hub_id, "time": intake.now()}

    @app.get(KEYS_PATH)
    def public_keys() -> dict[str, object]:
        return keys.public_keyring().to_json()

    @app.post(BATCHES_PATH)
    async def post_batch(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > settings.max_body:
            return _respond(Answer.error(413, "too_large", f"请求体超过平台上限 {settings.max_body} 字节"))
        admitted = await run_in_threadpool(intake.admit, request.headers)
        if isinstance(admitted, Answer):
            await _spool(request, None, DRAIN_LIMIT)
            return _respond(admitted)
        spooled = settings.tmp_dir / f"{uuid.uuid4().hex}.gwenv"
        try:
            with spooled.open("wb") as fh:
                sha256, size, complete = await _spool(request, fh, settings.max_body)
            if not complete:
                return _respond(
                    Answer.error(413, "too_large", f"请求体超过平台上限 {settings.max_body} 字节")
                )
            answer = await run_in_threadpool(intake.receive, admitted, spooled, sha256, size)
        finally:
            spooled.unlink(missing_ok=True)
        return _respond(answer)

    return app
