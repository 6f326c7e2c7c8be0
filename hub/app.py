"""The hub's HTTP face (FastAPI): POST /v1/batches, GET /v1/health, GET /v1/keys.

The body of a push is streamed to a temporary file while its SHA-256 is computed, never held in memory;
the CPU-bound work (decrypt, validate, store) runs in a worker thread so the event loop keeps serving.

Nothing of the body is read before the manifest in the headers is authenticated (``Receiver.admit``). A
refused request's body is then read, and discarded, only up to ``max_unauthenticated_body`` (and for at
most DRAIN_TIMEOUT) so that a client still sending sees the answer; an admitted one is spooled only up to
the size its signed manifest declares. Whenever part of a body is left unread the answer closes the
connection. Read timeouts and connection bounds are the connection layer's (hub/guard.py).

The routes (``api``) are separate from the state they serve (``create_app``), so that the OpenAPI
document can be produced without keys or a database (``python -m hub openapi``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from gateway.transfer import Manifest, TransferError
from gateway.transfer.manifest import MAX_MANIFEST_SIZE
from gateway.transfer.private_files import open_private, private_dir
from gateway.transfer.protocol import (
    BATCHES_PATH,
    HEALTH_PATH,
    KEYS_PATH,
    MANIFEST_HEADER,
    RECEIPT_SIGNATURE_HEADER,
    REPLAYED_HEADER,
)
from gateway.transfer.tls import certificate_identity
from gateway.transfer.wire import b64_std_decode
from hub import openapi
from hub.db import open_engine
from hub.keys import HubKeys
from hub.receiving import Answer, Receiver
from hub.settings import Settings
from hub.validate import BatchValidator

log = logging.getLogger(__name__)

# How long a refused request's body is still read (up to max_unauthenticated_body) so that the client sees
# the answer instead of a connection reset mid-upload (which it would take for a transient failure).
DRAIN_TIMEOUT = 5.0


ENVELOPE_MISMATCH = Answer.error(
    422, "envelope_mismatch", "请求体与签名清单中的信封大小或 SHA-256 不符（传输中被改动或截断）"
)


@dataclass(frozen=True)
class HubState:
    settings: Settings
    keys: HubKeys
    receiver: Receiver


def _respond(answer: Answer, *, close: bool = False) -> Response:
    """``close``: part of the body is unread, so the connection cannot carry another request."""
    headers: dict[str, str] = {"Connection": "close"} if close else {}
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


async def _refuse(request: Request, answer: Answer, settings: Settings) -> Response:
    """Answer without keeping the body. A body that can be read whole within the unauthenticated cap is
    read and dropped first, so that the connection stays usable; a longer one is not read at all, the
    answer closes the connection (a client still sending then gets EPIPE or a reset while sending, which
    urllib3 ignores to read the answer that is already in its socket)."""
    declared = _declared_length(request.headers)
    if declared is not None and declared > settings.max_unauthenticated_body:
        return _respond(answer, close=True)
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            _, _, complete = await _spool(request, None, settings.max_unauthenticated_body)
    except TimeoutError:
        complete = False
    return _respond(answer, close=not complete)


def _declared_length(headers: Mapping[str, str]) -> int | None:
    """Content-Length when given (the server has already refused a malformed one)."""
    value = headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _claimed_sender(headers: Mapping[str, str]) -> str | None:
    """The sender the (not yet verified) manifest names; None when it cannot be read at all."""
    try:
        value = headers.get(MANIFEST_HEADER) or ""
        raw = b64_std_decode(value, where=MANIFEST_HEADER, max_size=MAX_MANIFEST_SIZE)
        return Manifest.decode(raw).sender
    except TransferError:
        return None


def check_peer(scope: Mapping[str, Any], headers: Mapping[str, str]) -> Answer | None:
    """Over TLS the verified client certificate must name the manifest's sender; a refusal, or None.

    Runs before admission, so that neither a stored receipt nor a signed refusal is ever handed to a
    connection authenticated as another party. The manifest is only parsed here: admission then
    verifies its signature with the sender's registered key, so certificate, manifest and signing key
    all name one party. Plain HTTP (only on loopback with ``--plain-http``) carries no identity.
    """
    tls = (scope.get("extensions") or {}).get("tls")
    if tls is None and scope.get("scheme") != "https":
        return None
    chain = tls.get("client_cert_chain") if tls else None
    if not chain:
        return Answer.error(
            403, "client_certificate_required", "平台要求经过验证的客户端证书，本连接没有（检查 TLS 配置）"
        )
    claimed = _claimed_sender(headers)
    if claimed is None:
        return None  # an unreadable manifest is refused by admission as bad_manifest, naming nobody
    identity = certificate_identity(chain[0])
    if identity != claimed:
        log.warning("client certificate CN=%s pushed a manifest of sender %s: refused", identity, claimed)
        return Answer.error(
            403,
            "certificate_sender_mismatch",
            f"客户端证书标识（CN）{identity or '（缺失或不唯一）'} 与清单中的发送方 {claimed} 不一致",
        )
    return None


def _state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


def api(*, docs: bool = False) -> FastAPI:
    """The hub's routes; each request finds its hub in ``app.state.hub`` (set by :func:`create_app`).

    ``docs`` serves /docs, /redoc and /openapi.json (Settings.docs, HUB_DOCS); off, those paths are 404.
    ``app.openapi()`` (``python -m hub openapi``) works either way.
    """
    app = FastAPI(
        title=openapi.TITLE,
        version=openapi.VERSION,
        summary=openapi.SUMMARY,
        description=openapi.DESCRIPTION,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.document(app)
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this handler, so uvicorn logs the traceback once; not repeated here.
        return JSONResponse({"error": {"code": "internal_error", "message": "平台内部错误，请稍后重试"}}, 500)

    @app.get(
        HEALTH_PATH,
        operation_id="health",
        response_model=None,
        summary="平台状态与平台时间",
        responses=openapi.HEALTH_RESPONSES,
    )
    async def health(request: Request) -> dict[str, object]:
        # async: answered on the event loop, never queued behind pushes for a worker thread
        hub = _state(request)
        return {"status": "ok", "hub": hub.keys.hub_id, "time": hub.receiver.now()}

    @app.get(
        KEYS_PATH,
        operation_id="publicKeys",
        response_model=None,
        summary="平台自己的公钥",
        responses=openapi.KEYS_RESPONSES,
    )
    def public_keys(request: Request) -> dict[str, object]:
        return _state(request).keys.public_keyring().to_json()

    @app.post(
        BATCHES_PATH,
        operation_id="pushBatch",
        response_model=None,
        summary="推送一个加密签名批次",
        description=openapi.PUSH_DESCRIPTION,
        responses=openapi.PUSH_RESPONSES,
        openapi_extra=openapi.PUSH_REQUEST,
    )
    async def post_batch(request: Request) -> Response:
        hub = _state(request)
        try:
            return await _push(request, hub.settings, hub.receiver)
        except ClientDisconnect:
            # The client left, or sent its body too slowly (hub/guard.py then reports a disconnect): only
            # in the second case is anyone still there to read this.
            return _respond(Answer.error(408, "request_timeout", "请求体接收超时，连接已关闭"), close=True)

    return app


async def _push(request: Request, settings: Settings, receiver: Receiver) -> Response:
    declared = _declared_length(request.headers)
    if declared is not None and declared > settings.max_body:
        too_large = Answer.error(413, "too_large", f"请求体超过平台上限 {settings.max_body} 字节")
        return await _refuse(request, too_large, settings)
    refused = check_peer(request.scope, request.headers)
    admitted = refused or await run_in_threadpool(receiver.admit, request.headers)
    if isinstance(admitted, Answer):
        return await _refuse(request, admitted, settings)
    size_limit = admitted.manifest.size  # admission refused a size above max_body
    if declared is not None and declared != size_limit:
        return await _refuse(request, ENVELOPE_MISMATCH, settings)
    spooled = settings.tmp_dir / f"{uuid.uuid4().hex}.gwenv"
    try:
        with open_private(spooled) as fh:
            sha256, size, complete = await _spool(request, fh, size_limit)
        if not complete:  # longer than the signed manifest says: not the envelope it names
            return _respond(ENVELOPE_MISMATCH, close=True)
        answer = await run_in_threadpool(receiver.receive, admitted, spooled, sha256, size)
    finally:
        spooled.unlink(missing_ok=True)
    return _respond(answer)


def create_app(settings: Settings, *, validator: BatchValidator | None = None) -> FastAPI:
    for directory in (settings.home, settings.received_dir, settings.tmp_dir):
        private_dir(
            directory
        )  # what is received holds personal data: 0700, files 0600 (gateway/transfer/private_files.py)
    for leftover in settings.tmp_dir.iterdir():  # spooled bodies of a previous run that died mid-request
        leftover.unlink()
    keys = HubKeys(settings.keys, suites=settings.allowed_suites)
    engine = open_engine(settings.db_path)
    receiver = Receiver(
        settings,
        keys,
        engine,
        validator or BatchValidator.from_dir(settings.schemas, max_rejections=settings.max_rejections),
    )
    app = api(docs=settings.docs)
    app.state.hub = HubState(settings, keys, receiver)
    app.state.receiver = receiver
    return app
