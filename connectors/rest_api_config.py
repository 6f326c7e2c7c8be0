"""What a REST pull needs to know, read from its two places and checked before any request is made.

The address and the secrets come from an Airflow Connection, read by :class:`RestApiHook` (so they rotate
without a code change and never sit in the repository); what to pull comes from the ``pull:`` block of the
source's mapping file (so it is reviewed with the mapping). Both are checked here, so that a typo fails the
task at once with a message naming the key, not on page 40 of a pull.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.connection import ConnectionHook
from connectors.rest_api_errors import SourceError, bilingual

Auth = Literal["none", "token", "signature"]
Paging = Literal["page", "cursor", "none"]

PULL_KEYS = frozenset(
    {
        "kind",
        "connection",
        "path",
        "paging",
        "page_size",
        "page_param",
        "size_param",
        "first_page",
        "cursor_param",
        "records",
        "next_cursor",
        "total",
        "updated_since_param",
        "updated_field",
        "id_field",
        "params",
        "tolerate_backwards",
        "timezone",
        "max_pages",
    }
)


@dataclass(frozen=True)
class ApiConfig:
    source_id: str
    base_url: str  # scheme://host[:port][/base path], no trailing slash
    path: str
    auth: Auth
    app_key: str | None
    secret: str | None = field(repr=False)
    verify: bool | str
    timeout_s: float
    rate_per_s: float | None
    retries: int
    backoff_s: float
    max_wait_s: float
    max_page_bytes: int
    signature_encoding: Literal["hex", "base64"]
    paging: Paging
    page_size: int
    page_param: str
    size_param: str | None
    first_page: int
    cursor_param: str
    records: tuple[str, ...]
    next_cursor: tuple[str, ...] | None
    total: tuple[str, ...] | None
    updated_since_param: str | None
    updated_field: str | None
    id_field: str | None
    params: tuple[tuple[str, str], ...]
    tolerate_backwards: bool
    timezone: ZoneInfo
    max_pages: int

    @property
    def url(self) -> str:
        return self.base_url + self.path


def _fail(source_id: str, zh: str, en: str) -> SourceError:
    return SourceError("config", bilingual(f"数据源 {source_id} 配置错误：{zh}", f"source {source_id}: {en}"))


def _bool(value: Any, name: str, source_id: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    raise _fail(source_id, f"{name} 应为 true 或 false，实际为 {value!r}", f"{name} must be a boolean")


def _number(value: Any, name: str, source_id: str, *, integer: bool, minimum: float) -> Any:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise _fail(
            source_id,
            f"{name} 应为不小于 {minimum:g} 的数，实际为 {value!r}",
            f"{name} must be a number >= {minimum:g}",
        )
    return number


def _path(value: Any, name: str, source_id: str) -> tuple[str, ...]:
    if not isinstance(value, str) or not value.strip() or any(not part for part in value.split(".")):
        raise _fail(
            source_id, f"{name} 应为以点分隔的字段路径，如 data.items", f"{name} must be a dotted path"
        )
    return tuple(value.strip().split("."))


def _verify(value: Any, source_id: str) -> bool | str:
    """True/false, or the path of a CA bundle for a source behind a private CA."""
    if isinstance(value, str) and value.strip().lower() not in {"true", "false", "1", "0", "yes", "no"}:
        return value.strip()
    return _bool(value, "verify", source_id)


class RestApiHook(ConnectionHook):
    """An API's Airflow Connection (type http): host, port and schema make the address, login and password
    the credentials, and the extras how the API is called (auth, verify, timeout_s, rate_per_s, retries,
    backoff_s, max_wait_s, max_page_bytes, signature_encoding); docs/connectors.md lists them."""

    def api_config(self, pull: Mapping[str, Any], source_id: str) -> ApiConfig:
        """The whole configuration of ``source_id``'s pull: this Connection and the mapping's ``pull:``."""
        conn, extra = self.connection, self.extra
        unknown = sorted(set(pull) - PULL_KEYS)
        if unknown:
            raise _fail(source_id, f"pull 中有未知的键 {unknown}", f"unknown pull keys {unknown}")
        paging = pull.get("paging", "page")
        if paging not in {"page", "cursor", "none"}:
            raise _fail(source_id, f"paging 应为 page、cursor 或 none，实际为 {paging!r}", "unknown paging")
        if paging == "cursor" and "next_cursor" not in pull:
            raise _fail(
                source_id,
                "游标分页需要 next_cursor（下一页游标所在的字段路径）",
                "cursor paging needs next_cursor",
            )
        path = pull.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise _fail(source_id, "path 应为以 / 开头的接口路径", "path must start with /")
        if "records" not in pull:
            raise _fail(
                source_id, "缺少 records（记录列表所在的字段路径，如 data.items）", "records path missing"
            )
        params = pull.get("params") or {}
        if not isinstance(params, Mapping):
            raise _fail(source_id, "params 应为键值对", "params must be a mapping")
        zone_name = str(pull.get("timezone", "Asia/Shanghai"))
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise _fail(source_id, f"未知时区 {zone_name}", f"unknown time zone {zone_name}") from exc
        rate = extra.get("rate_per_s")
        encoding = extra.get("signature_encoding", "hex")
        if encoding not in {"hex", "base64"}:
            raise _fail(
                source_id, "signature_encoding 应为 hex 或 base64", "signature_encoding must be hex or base64"
            )
        return ApiConfig(
            source_id=source_id,
            base_url=self._base_url(source_id),
            path=path,
            auth=self._auth(source_id),
            app_key=conn.login or None,
            secret=conn.password or None,
            verify=_verify(extra.get("verify", True), source_id),
            timeout_s=_number(
                extra.get("timeout_s", 30), "timeout_s", source_id, integer=False, minimum=0.01
            ),
            rate_per_s=None
            if rate in (None, "", 0)
            else _number(rate, "rate_per_s", source_id, integer=False, minimum=0.001),
            retries=_number(extra.get("retries", 5), "retries", source_id, integer=True, minimum=0),
            backoff_s=_number(extra.get("backoff_s", 1.0), "backoff_s", source_id, integer=False, minimum=0),
            max_wait_s=_number(
                extra.get("max_wait_s", 60), "max_wait_s", source_id, integer=False, minimum=0
            ),
            max_page_bytes=_number(
                extra.get("max_page_bytes", 32 << 20), "max_page_bytes", source_id, integer=True, minimum=1024
            ),
            signature_encoding=encoding,
            paging=paging,
            page_size=_number(pull.get("page_size", 100), "page_size", source_id, integer=True, minimum=1),
            page_param=str(pull.get("page_param", "page")),
            size_param=None
            if pull.get("size_param", "pageSize") is None
            else str(pull.get("size_param", "pageSize")),
            first_page=_number(pull.get("first_page", 1), "first_page", source_id, integer=True, minimum=0),
            cursor_param=str(pull.get("cursor_param", "cursor")),
            records=_path(pull["records"], "records", source_id),
            next_cursor=_path(pull["next_cursor"], "next_cursor", source_id)
            if "next_cursor" in pull
            else None,
            total=_path(pull["total"], "total", source_id) if "total" in pull else None,
            updated_since_param=pull.get("updated_since_param"),
            updated_field=pull.get("updated_field"),
            id_field=pull.get("id_field"),
            params=tuple((str(k), str(v)) for k, v in params.items()),
            tolerate_backwards=_bool(pull.get("tolerate_backwards", False), "tolerate_backwards", source_id),
            timezone=zone,
            max_pages=_number(
                pull.get("max_pages", 100_000), "max_pages", source_id, integer=True, minimum=1
            ),
        )

    def _base_url(self, source_id: str) -> str:
        conn = self.connection
        host = (conn.host or "").strip()
        if not host:
            raise _fail(source_id, "Airflow 连接没有填写主机（host）", "the Airflow connection has no host")
        scheme = (conn.schema or "").strip().lower()
        if "://" in host:
            parts = urlsplit(host)
            scheme, host = parts.scheme, parts.netloc + parts.path
        if scheme not in {"http", "https"}:
            scheme = "https"
        host = host.rstrip("/")
        netloc, slash, base = host.partition("/")
        if conn.port and ":" not in netloc:
            netloc = f"{netloc}:{conn.port}"
        return f"{scheme}://{netloc}{slash}{base}".rstrip("/")

    def _auth(self, source_id: str) -> Auth:
        """Explicit ``auth`` wins; otherwise a key and a secret mean signature, a secret alone means token."""
        conn = self.connection
        auth = self.extra.get("auth")
        if auth is None:
            auth = "signature" if conn.login and conn.password else "token" if conn.password else "none"
        if auth not in {"none", "token", "signature"}:
            raise _fail(source_id, f"auth 应为 token、signature 或 none，实际为 {auth!r}", "unknown auth")
        if auth == "signature" and not (conn.login and conn.password):
            raise _fail(
                source_id,
                "签名认证需要在连接的 login 填写 app key、password 填写 app secret",
                "signature auth needs login (app key) and password (app secret)",
            )
        if auth == "token" and not conn.password:
            raise _fail(
                source_id, "令牌认证需要在连接的 password 填写令牌", "token auth needs the token as password"
            )
        return auth  # type: ignore[return-value]
