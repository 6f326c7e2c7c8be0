"""A stand-in for the two systems the gateway pulls credit data from, for the demo and the tests.

信用中国(忻州) — the city credit platform — serves 严重失信主体名单, 信用承诺 and 信用修复
under ``/creditchina/v1/`` with camelCase fields, a ``{"code", "msg", "data"}`` envelope and app-key
request signatures. 国家企业信用信息公示系统(山西) serves 市场主体, 经营异常名录 and 双随机抽查结果 under
``/gsxt/api/`` with the system's upper-case field codes (ENTNAME, UNISCID, REGNO, ABNTIME …), a
``{"status", "message", "result"}`` envelope, update times in epoch milliseconds and a bearer token.
Each group has datasets of both paging styles (page number and cursor).

The records are JSON files (``samples/standins/data/<dataset>.json``). A file may hold several versions of one
record (same id, newer update time: e.g. the removal of an abnormal-operation listing); the service answers
with the newest version whose update time is not after its clock ``as_of`` (None: everything), so a test can
move time forward and see the removals arrive in the next incremental pull.

The signature check is written here from the contract in docs/connectors.md, independently of the connector's
signer, so that the two meet only at the documented string-to-sign.

Misbehaviour for tests is switched on by ``Faults`` (constructor), the ``CREDIT_API_FAULTS`` environment
variable (CLI) or a ``_fault`` query parameter, all in the same notation: ``html``, ``repeat``, ``backwards``,
``500``/``503``/``429`` (failing ``times=N`` requests, ``retry_after=S`` seconds), ``slow=S`` (once), e.g.
``429,retry_after=2``.

    python -m samples.standins.credit_api --port 0 --data samples/standins/data
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
import time
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

BEIJING = timezone(timedelta(hours=8))
DEFAULT_DATA = Path(__file__).resolve().parent / "data"
DEMO_APP_KEY = "xz-credit-demo"
DEMO_APP_SECRET = "standin-secret-not-for-production"
DEMO_TOKEN = "gsxt-standin-token"
SIGNATURE_WINDOW_S = 300
MAX_PAGE_SIZE = 100
FAULTS_ENV = "CREDIT_API_FAULTS"


@dataclass(frozen=True)
class Dataset:
    group: str  # creditchina | gsxt
    paging: str  # page | cursor
    id_field: str
    updated_field: str


DATASETS: dict[str, Dataset] = {
    "serious_dishonesty": Dataset("creditchina", "page", "id", "updateTime"),
    "credit_commitment": Dataset("creditchina", "cursor", "commitmentCode", "updateTime"),
    "credit_repair": Dataset("creditchina", "page", "repairNo", "updateTime"),
    "market_entity": Dataset("gsxt", "cursor", "PRIPID", "UPDATETIME"),
    "abnormal_operation": Dataset("gsxt", "page", "BUSEXCLIST", "UPDATETIME"),
    "spot_check": Dataset("gsxt", "cursor", "CHECKID", "UPDATETIME"),
    "repair_decision": Dataset("gsxt", "page", "REPAIRNO", "UPDATETIME"),
}
PAGE_PARAMS = {"creditchina": ("pageNum", "pageSize"), "gsxt": ("page", "size")}


@dataclass(frozen=True)
class Faults:
    html: bool = False
    repeat: bool = False
    backwards: bool = False
    fail_status: int | None = None
    fail_times: int = 1
    retry_after: int | None = None
    slow_s: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Faults:
        faults = cls()
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, value = item.partition("=")
            if name in {"html", "repeat", "backwards"}:
                faults = replace(faults, **{name: True})
            elif name.isdigit():
                faults = replace(faults, fail_status=int(name))
            elif name == "times":
                faults = replace(faults, fail_times=int(value))
            elif name == "retry_after":
                faults = replace(faults, retry_after=int(value))
            elif name == "slow":
                faults = replace(faults, slow_s=float(value))
            else:
                raise ValueError(f"unknown fault {item!r}")
        return faults


@dataclass
class Versioned:
    """The versions of one dataset's records, oldest first, each with its update time in epoch ms."""

    versions: list[tuple[int, str, dict[str, Any]]]

    def visible(self, as_of: datetime | None) -> list[tuple[int, str, dict[str, Any]]]:
        """Newest version per id not after ``as_of``, ordered by (update time, id) as the real APIs sort."""
        limit = None if as_of is None else int(as_of.timestamp() * 1000)
        latest: dict[str, tuple[int, str, dict[str, Any]]] = {}
        for item in self.versions:
            if limit is None or item[0] <= limit:
                latest[item[1]] = item
        return sorted(latest.values(), key=lambda item: (item[0], item[1]))


def update_ms(value: Any) -> int:
    """Update time in epoch ms: the credit platform writes Beijing wall-clock text, gsxt epoch ms."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return int(moment.timestamp() * 1000)


def load_data(data_dir: Path) -> dict[str, Versioned]:
    loaded = {}
    for name, spec in DATASETS.items():
        records = json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))
        versions = [(update_ms(r[spec.updated_field]), str(r[spec.id_field]), r) for r in records]
        loaded[name] = Versioned(sorted(versions, key=lambda item: item[0]))
    return loaded


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    """RFC 3986 encoding of every name and value, sorted: the form docs/connectors.md specifies."""
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def expected_signature(secret: str, method: str, path: str, query: str, timestamp: str, nonce: str) -> str:
    message = "\n".join([method.upper(), path, query, timestamp, nonce])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass
class StandIn:
    """The service's state: data, clock, credentials, faults, and what tests want to observe."""

    data: dict[str, Versioned]
    app_keys: Mapping[str, str]
    tokens: Collection[str]
    faults: Faults = field(default_factory=Faults)
    as_of: datetime | None = None
    requests: deque[tuple[str, dict[str, str], int]] = field(default_factory=lambda: deque(maxlen=2000))
    _failed: dict[str, int] = field(default_factory=dict)
    _slowed: set[str] = field(default_factory=set)
    _nonces: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def consume_failure(self, key: str, faults: Faults) -> bool:
        with self._lock:
            done = self._failed.get(key, 0)
            if done >= faults.fail_times:
                return False
            self._failed[key] = done + 1
            return True

    def consume_slow(self, key: str) -> bool:
        with self._lock:
            if key in self._slowed:
                return False
            self._slowed.add(key)
            return True

    def fresh_nonce(self, nonce: str, now: float) -> bool:
        with self._lock:
            for old, seen in list(self._nonces.items()):
                if now - seen > 2 * SIGNATURE_WINDOW_S:
                    del self._nonces[old]
            if nonce in self._nonces:
                return False
            self._nonces[nonce] = now
            return True


def _error(group: str, status: int, message: str) -> JSONResponse:
    body = (
        {"code": status, "msg": message}
        if group == "creditchina"
        else {"status": str(status), "message": message}
    )
    return JSONResponse(body, status_code=status)


def _check_signature(state: StandIn, request: Request) -> str | None:
    headers = request.headers
    key, timestamp, nonce, signature = (
        headers.get(name) for name in ("X-App-Key", "X-Timestamp", "X-Nonce", "X-Signature")
    )
    if not (key and timestamp and nonce and signature):
        return "缺少签名请求头 X-App-Key / X-Timestamp / X-Nonce / X-Signature"
    secret = state.app_keys.get(key)
    if secret is None:
        return f"应用标识 {key} 未注册"
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW_S:
        return "时间戳超出允许范围"
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    query = canonical_query(list(request.query_params.multi_items()))
    expected = expected_signature(secret, request.method, path, query, timestamp, nonce)
    if not hmac.compare_digest(expected, signature.lower()):
        return "签名校验失败"
    if not state.fresh_nonce(nonce, time.time()):
        return "请求重放：nonce 已使用"
    return None


def _check_token(state: StandIn, request: Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or token not in state.tokens:
        return "访问令牌无效或已过期"
    return None


def _cursor_token(item: tuple[int, str, dict[str, Any]]) -> str:
    return base64.urlsafe_b64encode(json.dumps([item[0], item[1]]).encode()).decode().rstrip("=")


def _cursor_position(token: str) -> tuple[int, str]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    moment, ident = json.loads(raw)
    return int(moment), str(ident)


def _envelope(group: str, payload: dict[str, Any]) -> dict[str, Any]:
    if group == "creditchina":
        return {"code": 200, "msg": "操作成功", "data": payload}
    return {"status": "0", "message": "ok", "result": payload}


def _page(
    state: StandIn, name: str, spec: Dataset, params: Mapping[str, str], faults: Faults
) -> dict[str, Any]:
    items = state.data[name].visible(state.as_of)
    since = params.get("updatedSince")
    if since:
        since_ms = update_ms(since)
        older = [item for item in items if item[0] < since_ms]
        items = [item for item in items if item[0] >= since_ms]  # inclusive: see docs/connectors.md
        if faults.backwards and older:
            items = [older[-1], *items]
    list_key = "list" if spec.group == "creditchina" else "items"
    page_param, size_param = PAGE_PARAMS[spec.group]
    size = int(params.get(size_param, "20"))
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"{size_param} 须在 1 至 {MAX_PAGE_SIZE} 之间")
    if spec.paging == "page":
        number = 1 if faults.repeat else int(params.get(page_param, "1"))
        if number < 1:
            raise ValueError(f"{page_param} 须从 1 开始")
        chosen = items[(number - 1) * size : number * size]
        return {
            "total": len(items),
            page_param: number,
            size_param: size,
            list_key: [record for _, _, record in chosen],
        }
    token = params.get("cursor")
    start = 0
    if token and not faults.repeat:
        position = _cursor_position(token)
        start = next((i for i, item in enumerate(items) if (item[0], item[1]) > position), len(items))
    chosen = items[start : start + size]
    more = start + size < len(items)
    next_key = "nextCursor" if spec.group == "creditchina" else "next"
    return {
        list_key: [record for _, _, record in chosen],
        next_key: _cursor_token(chosen[-1]) if more else None,
    }


HTML_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>统一身份认证平台</title></head>"
    "<body><h1>会话已过期，请重新登录</h1></body></html>"
)


def create_app(
    data_dir: Path = DEFAULT_DATA,
    *,
    app_keys: Mapping[str, str] | None = None,
    tokens: Collection[str] | None = None,
    faults: Faults | None = None,
    as_of: datetime | None = None,
) -> FastAPI:
    """The stand-in service; its state (clock, faults, request log) is ``app.state.standin``."""
    state = StandIn(
        data=load_data(Path(data_dir)),
        app_keys=dict(app_keys if app_keys is not None else {DEMO_APP_KEY: DEMO_APP_SECRET}),
        tokens=frozenset(tokens if tokens is not None else {DEMO_TOKEN}),
        faults=faults or Faults(),
        as_of=as_of,
    )
    app = FastAPI(title="信用数据接口（模拟）", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.standin = state

    def serve(group: str, name: str, request: Request) -> Response:
        params = dict(request.query_params)
        spec = DATASETS.get(name)
        if spec is None or spec.group != group:
            return _log(state, request, _error(group, 404, f"数据集 {name} 不存在"))
        problem = _check_signature(state, request) if group == "creditchina" else _check_token(state, request)
        if problem is not None:
            return _log(state, request, _error(group, 401, problem))
        fault_spec = params.pop("_fault", None)
        faults = state.faults if fault_spec is None else Faults.parse(fault_spec)
        fault_key = f"{name}|{fault_spec}"
        if faults.slow_s and state.consume_slow(fault_key):
            time.sleep(faults.slow_s)
        if faults.fail_status is not None and state.consume_failure(fault_key, faults):
            failed = _error(group, faults.fail_status, "服务繁忙，请稍后再试")
            if faults.retry_after is not None:
                failed.headers["Retry-After"] = str(faults.retry_after)
            return _log(state, request, failed)
        if faults.html:
            return _log(state, request, HTMLResponse(HTML_PAGE))
        try:
            payload = _page(state, name, spec, params, faults)
        except (ValueError, KeyError, binascii.Error, json.JSONDecodeError) as exc:
            return _log(state, request, _error(group, 400, f"请求参数错误：{exc}"))
        return _log(state, request, JSONResponse(_envelope(group, payload)))

    @app.get("/creditchina/v1/{name}")
    def creditchina(name: str, request: Request) -> Response:
        return serve("creditchina", name, request)

    @app.get("/gsxt/api/{name}")
    def gsxt(name: str, request: Request) -> Response:
        return serve("gsxt", name, request)

    return app


def _log(state: StandIn, request: Request, response: Response) -> Response:
    state.requests.append((request.url.path, dict(request.query_params), response.status_code))
    return response


def main(argv: list[str] | None = None) -> None:
    from hub.server import bind, make_server, url_of

    parser = argparse.ArgumentParser(description="信用中国(忻州) / 国家企业信用信息公示系统(山西) 模拟接口")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed on start)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--app-key", default=os.environ.get("CREDIT_API_APP_KEY", DEMO_APP_KEY))
    parser.add_argument("--app-secret", default=os.environ.get("CREDIT_API_APP_SECRET", DEMO_APP_SECRET))
    parser.add_argument("--token", default=os.environ.get("CREDIT_API_TOKEN", DEMO_TOKEN))
    parser.add_argument(
        "--as-of", help="serve the data as it stood at this time (ISO 8601, Beijing if naive)"
    )
    parser.add_argument("--faults", default=os.environ.get(FAULTS_ENV, ""), help="e.g. 429,retry_after=2")
    args = parser.parse_args(argv)
    as_of = None
    if args.as_of:
        as_of = datetime.fromisoformat(args.as_of)
        as_of = as_of.replace(tzinfo=BEIJING) if as_of.tzinfo is None else as_of.astimezone(UTC)
    app = create_app(
        args.data,
        app_keys={args.app_key: args.app_secret},
        tokens={args.token},
        faults=Faults.parse(args.faults),
        as_of=as_of,
    )
    sock = bind(args.host, args.port)
    print(f"credit api listening on {url_of(sock)}", flush=True)
    make_server(app, log_level="warning", access_log=False).run(sockets=[sock])


if __name__ == "__main__":
    main()
