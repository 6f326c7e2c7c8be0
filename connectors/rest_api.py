"""A REST API as a pulled source: pages of JSON records become Arrow batches for gateway.landing.

Built for 信用中国(忻州) and 国家企业信用信息公示系统(山西), which we cannot reach from here, and so
kept generic: the address and secrets come from an Airflow Connection, what to pull from the ``pull:``
block of the source's mapping file (docs/connectors.md lists every key), e.g.::

    pull:
      kind: rest_api
      connection: xz_creditchina           # Airflow connection: host, port, schema, login/password, extras
      path: /creditchina/v1/serious_dishonesty
      paging: page                         # page | cursor | none
      page_param: pageNum
      size_param: pageSize
      page_size: 50
      records: data.list                   # where the page's records are
      total: data.total                    # optional: lets a server that caps page sizes be paged right
      updated_since_param: updatedSince    # incremental: the stored cursor is sent as this parameter
      updated_field: updateTime            # … and the newest value of this field becomes the next cursor
      id_field: id                         # recommended: catches records repeated when pages shift

Request signing (``auth: signature``) is specified in :mod:`connectors.rest_api_auth` and docs/connectors.md.
The pull stops with a :class:`SourceError` — never silently short — when the server refuses (4xx), keeps
failing (after retries with backoff), answers with HTML or something that is not JSON, serves the same page
or cursor again, hands out records older than the cursor asked for, or lacks the records path.

:class:`RestApiSource` is the connector ``connectors.pulled.run_pull`` opens for ``kind: rest_api``; each run
is one :class:`RestApiPull` from the stored cursor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from connectors.connection import ConnectionLike
from connectors.pulled import PullOnce, PullRun
from connectors.rest_api_config import ApiConfig, RestApiHook
from connectors.rest_api_cursor import CursorTracker
from connectors.rest_api_errors import SourceError, bilingual
from connectors.rest_api_http import ApiClient
from connectors.rest_api_records import MISSING, RowBuffer, fingerprint, lookup, text_of
from gateway.landing import headers_of, source_id_of
from gateway.mapping.spec import MappingSpec
from gateway.settings import Settings

__all__ = ["BATCH_ROWS", "RestApiPull", "RestApiSource", "SourceError"]

log = logging.getLogger(__name__)
BATCH_ROWS = 5000


@dataclass(frozen=True)
class RestApiSource:
    """A REST API dataset as a pulled source: one pull per run, from the stored cursor."""

    config: ApiConfig
    headers: tuple[str, ...]  # the mapping's `from` names: the record fields to extract ("a.b" when nested)

    @property
    def source_id(self) -> str:
        return self.config.source_id

    @classmethod
    def open(cls, settings: Settings, spec: MappingSpec, conn: ConnectionLike) -> RestApiSource:
        """Address and secrets from ``conn`` (an http Connection), what to pull from the mapping."""
        return cls(RestApiHook(conn).api_config(spec.pull or {}, source_id_of(spec)), tuple(headers_of(spec)))

    def pulls(self, cursor: str | None, run: PullRun) -> Generator[RestApiPull, None, None]:
        yield RestApiPull(self.config, self.headers, cursor)


class RestApiPull(PullOnce):
    """One incremental pull (gateway.landing.Pull). ``batches()`` makes the requests; iterate it once."""

    kind = "api"

    def __init__(
        self,
        config: ApiConfig,
        headers: Sequence[str],
        cursor: str | None,
        *,
        batch_rows: int = BATCH_ROWS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not headers:
            raise SourceError("config", bilingual("没有要提取的字段", "no fields to extract"))
        self.config = config
        self.source_id = config.source_id
        self.headers = list(headers)
        self.cursor_from = cursor
        self.batch_rows = batch_rows
        self.pages = 0
        self.rows = 0
        self._paths = [tuple(header.split(".")) for header in self.headers]
        self._sleep = sleep
        self._clock = clock

    def batches(self) -> Iterator[pa.RecordBatch]:
        tracker = CursorTracker(self.config, self.cursor_from)
        buffer = RowBuffer(len(self.headers))
        client = ApiClient(self.config, sleep=self._sleep, clock=self._clock)
        self.pages = self.rows = 0
        self._finished = False  # a second iteration pulls again: its cursor is known at its own end
        try:
            for records in self._pages(client, tracker.since):
                for record in records:
                    values = [text_of(lookup(record, path)) for path in self._paths]
                    if not tracker.accept(record, values):
                        continue
                    self.rows += 1
                    buffer.add(self.rows, values)
                    if len(buffer) >= self.batch_rows:
                        yield buffer.flush()
            if len(buffer):
                yield buffer.flush()
        finally:
            client.close()
        end = tracker.end
        self._finish(end.text())
        log.info(
            "%s: pulled %d records in %d pages (%d requests, %d repeated, %d older than the cursor, "
            "%d already taken at the cursor); cursor %s → %s",
            self.source_id,
            self.rows,
            self.pages,
            client.requests_made,
            tracker.duplicates,
            tracker.backwards,
            tracker.known,
            tracker.start.describe(),
            end.describe(),
        )

    def _pages(self, client: ApiClient, since: str | None) -> Iterator[list[dict[str, Any]]]:
        """Each page's records, in order, until the source says there are no more."""
        config = self.config
        base = list(config.params)
        if config.updated_since_param and since is not None:
            base.append((config.updated_since_param, since))
        sized = (
            [(config.size_param, str(config.page_size))]
            if config.size_param and config.paging != "none"
            else []
        )
        number, token, tokens = config.first_page, None, set()
        previous: str | None = None
        fetched = 0
        while True:
            if self.pages >= config.max_pages:
                raise self._error(
                    "too_many_pages",
                    f"已取 {self.pages} 页仍未结束，超过 max_pages",
                    f"still paging after {self.pages} pages (max_pages)",
                )
            if config.paging == "page":
                params = [*base, (config.page_param, str(number)), *sized]
            elif token is not None:
                params = [*base, (config.cursor_param, token), *sized]
            else:
                params = [*base, *sized]
            self.pages += 1
            label = f"{config.path} #{self.pages}"
            body = client.get_json(params, label)
            records = self._records(body, label)
            content = fingerprint(records)
            if records and content == previous:
                raise self._error(
                    "page_repeated",
                    f"{label} 与上一页内容完全相同，接口没有翻页",
                    f"{label} repeats the previous page: the source is not paging",
                )
            fetched += len(records)
            log.info("%s: %s → %d records (%d so far)", self.source_id, label, len(records), fetched)
            yield records
            if config.paging == "none" or not records:
                return
            if config.paging == "page":
                total = self._total(body, label)
                if (fetched >= total) if total is not None else (len(records) < config.page_size):
                    return
                number += 1
            else:
                token = text_of(lookup(body, config.next_cursor or ()))
                if not token:
                    return
                if token in tokens:
                    raise self._error(
                        "page_repeated",
                        f"{label} 给出的下一页游标此前已用过，接口在原地打转",
                        f"{label} hands out a next cursor already used: the source is looping",
                    )
                tokens.add(token)
            previous = content

    def _records(self, body: Any, label: str) -> list[dict[str, Any]]:
        records = lookup(body, self.config.records)
        dotted = ".".join(self.config.records)
        if records is MISSING:
            said = _said(body)
            raise self._error(
                "records_missing",
                f"{label} 的响应中没有记录列表 {dotted}{said}",
                f"{label}: the response has no {dotted}{said}",
            )
        if records is None:
            return []
        if not isinstance(records, list) or not all(isinstance(item, dict) for item in records):
            raise self._error(
                "records_not_list",
                f"{label} 的 {dotted} 不是记录（JSON 对象）的列表",
                f"{label}: {dotted} is not a list of JSON objects",
            )
        return records

    def _total(self, body: Any, label: str) -> int | None:
        if self.config.total is None:
            return None
        value = text_of(lookup(body, self.config.total))
        if value is None or not value.isdigit():
            dotted = ".".join(self.config.total)
            raise self._error(
                "bad_total", f"{label} 的总数 {dotted} 缺失或不是整数", f"{label}: total {dotted} missing"
            )
        return int(value)

    def _error(self, code: str, zh: str, en: str) -> SourceError:
        return SourceError(
            code, bilingual(f"数据源 {self.source_id}：{zh}", f"source {self.source_id}: {en}")
        )


def _said(body: Any) -> str:
    """The source's own status and message, when a page without records carries them (an error in a 200)."""
    if not isinstance(body, dict):
        return ""
    parts = [
        f"{key}={text_of(body[key])}"
        for key in ("code", "status", "msg", "message", "errmsg")
        if key in body and not isinstance(body[key], dict | list)
    ]
    return f"（{', '.join(parts)}）" if parts else ""
