"""One page from a REST source: rate-limited, retried when retrying can help, refused clearly when not.

Retried (exponential backoff with equal jitter, so that parallel tasks do not retry in step): 429 (after at
least the server's Retry-After), 5xx, timeouts and broken connections. Not retried, because asking again
cannot change the answer: any other 4xx (bad key, bad signature, bad parameter), a TLS failure, a redirect
(usually a login page in front of the API), and a 2xx that is not JSON. A Retry-After longer than
``max_wait_s`` fails the pull at once instead of holding an Airflow worker; the task's own retries pick it up.

The session ignores the environment (``trust_env=False``): this machine sets REQUESTS_CA_BUNDLE, which would
silently replace the connection's ``verify``, and proxy variables must not reroute a government API.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.rest_api_auth import auth_headers, canonical_query
from connectors.rest_api_config import ApiConfig
from connectors.rest_api_errors import SourceError, bilingual

log = logging.getLogger(__name__)

_RETRYABLE = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
_MESSAGE_KEYS = ("msg", "message", "errmsg", "errorMsg", "error_description", "detail", "error")


class RateLimiter:
    """At most ``rate_per_s`` requests per second, spaced evenly (the sources publish per-second quotas)."""

    def __init__(
        self, rate_per_s: float | None, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self._interval = 0.0 if not rate_per_s else 1.0 / rate_per_s
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    def wait(self) -> None:
        if not self._interval:
            return
        now = self._clock()
        if self._next > now:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


def server_message(response: requests.Response) -> str:
    """What the server said went wrong, from the usual JSON error shapes, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in _MESSAGE_KEYS:
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("msg")
            if isinstance(value, str) and value.strip():
                return value.strip()[:300]
    text = " ".join(response.text.split())
    return text[:300] or response.reason or ""


def retry_after_s(response: requests.Response) -> float | None:
    """Retry-After in seconds: either delta-seconds or an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class ApiClient:
    def __init__(
        self,
        config: ApiConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._limiter = RateLimiter(config.rate_per_s, clock, sleep)
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = config.verify
        self._path = urlsplit(config.url).path or "/"
        self.requests_made = 0

    def close(self) -> None:
        self._session.close()

    def get_json(self, params: Sequence[tuple[str, str]], label: str) -> Any:
        """The decoded JSON body of one GET; ``label`` names the page in logs and errors."""
        config = self.config
        query = canonical_query(params)
        url = config.url + (f"?{query}" if query else "")
        problem = ""
        for attempt in range(config.retries + 1):
            self._limiter.wait()
            headers = {"Accept": "application/json", **auth_headers(config, "GET", self._path, query)}
            wait: float | None = None
            self.requests_made += 1
            try:
                response = self._session.get(
                    url, headers=headers, timeout=config.timeout_s, allow_redirects=False, stream=True
                )
            except requests.exceptions.SSLError as exc:
                raise self._error("tls", f"TLS 握手失败：{exc}", f"TLS handshake failed: {exc}") from exc
            except _RETRYABLE as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                with response:
                    status = response.status_code
                    if status == 429 or status >= 500:
                        wait = retry_after_s(response)
                        problem = f"HTTP {status}: {server_message(response)}"
                        if wait is not None and wait > config.max_wait_s:
                            raise self._error(
                                "rate_limited",
                                f"{label} 被限流（HTTP {status}），服务器要求 {wait:.0f} 秒后重试，"
                                f"超过允许的 {config.max_wait_s:.0f} 秒",
                                f"{label}: HTTP {status}, Retry-After {wait:.0f}s exceeds max_wait_s",
                            )
                    else:
                        return self._decode(response, label)
            if attempt < config.retries:
                delay = self._delay(attempt, wait)
                log.warning(
                    "%s: %s attempt %d/%d failed (%s); retrying in %.2fs",
                    config.source_id,
                    label,
                    attempt + 1,
                    config.retries + 1,
                    problem,
                    delay,
                )
                self._sleep(delay)
        raise self._error(
            "unavailable",
            f"{label} 请求 {config.retries + 1} 次均失败，最后一次：{problem}",
            f"{label} failed {config.retries + 1} times, last: {problem}",
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        base = min(self.config.max_wait_s, self.config.backoff_s * 2**attempt)
        delay = base / 2 + random.uniform(0, base / 2)
        return delay if retry_after is None else max(delay, retry_after)

    def _decode(self, response: requests.Response, label: str) -> Any:
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            raise self._error(
                "redirect",
                f"{label} 被重定向（HTTP {status}）到 {location}，通常是接口前的登录页或地址写错",
                f"{label}: redirected (HTTP {status}) to {location}",
            )
        if status >= 400:
            message = server_message(response)
            raise self._error(
                f"http_{status}",
                f"{label} 被拒绝（HTTP {status}）：{message}",
                f"{label} refused with HTTP {status}: {message}",
            )
        body = self._read(response, label)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        looks_html = body.lstrip()[:1] == b"<"
        if content_type == "text/html" or looks_html:
            snippet = " ".join(body[:200].decode("utf-8", "replace").split())
            raise self._error(
                "not_json",
                f"{label} 返回的是 HTML 页面而不是 JSON（可能是登录页或网关错误页）：{snippet}",
                f"{label} returned HTML, not JSON: {snippet}",
            )
        try:
            return json.loads(body, parse_float=Decimal)
        except ValueError as exc:
            raise self._error(
                "not_json",
                f"{label} 返回的内容不是合法 JSON（{content_type or '无类型'}）：{exc}",
                f"{label} returned invalid JSON ({content_type or 'no type'}): {exc}",
            ) from exc

    def _read(self, response: requests.Response, label: str) -> bytes:
        """The body, refused past ``max_page_bytes``: a runaway page must not exhaust the worker's memory."""
        limit = self.config.max_page_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(1 << 16):
            size += len(chunk)
            if size > limit:
                raise self._error(
                    "page_too_large",
                    f"{label} 超过单页上限 {limit} 字节，请调小 page_size",
                    f"{label} exceeds max_page_bytes {limit}; lower page_size",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _error(self, code: str, zh: str, en: str) -> SourceError:
        source = self.config.source_id
        return SourceError(code, bilingual(f"数据源 {source}：{zh}", f"source {source}: {en}"))
