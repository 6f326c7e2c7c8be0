"""The incremental cursor of a REST pull: how far it got, whether the source went backwards, repeats.

The cursor is the newest update time seen, written back exactly as the source wrote it so the next pull sends
the source its own format. It assumes the source's ``updatedSince`` is inclusive (records updated at or
after it): records at the cursor come again on the next pull, which the store answers as unchanged — a
cheap price for never missing a record written in the same second as the last one seen.

A record id seen twice in one pull means the pages shifted under us: with page-number paging sorted by
update time, a record updated during the pull moves to the end and everything behind its old place moves
one up, so one record can slip between two pages unseen. The later copy is dropped (the store would refuse
a second version of one key in one unit) and the cursor is held at the first copy's update time, so the
next pull starts early enough to bring whatever slipped through, and the newer version with it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from connectors.rest_api_config import ApiConfig
from connectors.rest_api_errors import SourceError, bilingual
from connectors.rest_api_records import UpdateTimeError, fingerprint, lookup, text_of, time_key

log = logging.getLogger(__name__)

Key = tuple[int, Any]


class CursorTracker:
    def __init__(self, config: ApiConfig, cursor_from: str | None) -> None:
        self.config = config
        self.cursor_from = cursor_from
        self._field = tuple(config.updated_field.split(".")) if config.updated_field else None
        self._id = tuple(config.id_field.split(".")) if config.id_field else None
        self._since_sent = config.updated_since_param is not None and cursor_from is not None
        self._from_key: Key | None = None
        if self._field is not None and cursor_from is not None:
            try:
                self._from_key = time_key(cursor_from, config.timezone)
            except UpdateTimeError as exc:
                raise self._error(
                    "bad_cursor",
                    f"保存的游标 {cursor_from!r} 不是时间或数字",
                    f"stored cursor {cursor_from!r} is neither a time nor a number",
                ) from exc
        self._best: tuple[Key, str] | None = None
        self._hold: tuple[Key, str] | None = None
        self._seen: dict[str, tuple[str, tuple[Key, str] | None]] = {}
        self.backwards = 0
        self.duplicates = 0

    def accept(self, record: dict[str, Any]) -> bool:
        """Track one record; False when it repeats a record already taken in this pull."""
        ident = text_of(lookup(record, self._id)) if self._id is not None else None
        stamp = self._stamp(record, ident)
        if ident is not None:
            digest = hashlib.blake2b(fingerprint([record]).encode(), digest_size=16).hexdigest()
            first = self._seen.get(ident)
            if first is not None:
                self.duplicates += 1
                held = first[1]
                if held is not None and (self._hold is None or self._less(held[0], self._hold[0])):
                    self._hold = held
                log.warning(
                    "%s: record %s came twice in one pull (%s); later copy dropped, cursor held at %s",
                    self.config.source_id,
                    ident,
                    "changed" if first[0] != digest else "unchanged",
                    None if held is None else held[1],
                )
                return False
            self._seen[ident] = (digest, stamp)
        if stamp is not None and (self._best is None or self._less(self._best[0], stamp[0])):
            self._best = stamp
        return True

    def _stamp(self, record: dict[str, Any], ident: str | None) -> tuple[Key, str] | None:
        if self._field is None:
            return None
        raw = lookup(record, self._field)
        name = self.config.updated_field
        try:
            key = time_key(raw, self.config.timezone)
        except UpdateTimeError as exc:
            raise self._error(
                "bad_update_time",
                f"记录 {ident or '(无标识)'} 的更新时间字段 {name} 缺失或无法识别：{exc}",
                f"record {ident or '(no id)'}: update time {name} missing or unreadable: {exc}",
            ) from exc
        text = text_of(raw)
        assert text is not None  # time_key refuses null and absent values
        if self._since_sent and self._from_key is not None and self._less(key, self._from_key):
            self.backwards += 1
            if not self.config.tolerate_backwards:
                raise self._error(
                    "cursor_backwards",
                    f"请求 {self.config.updated_since_param}={self.cursor_from} 却收到更早的记录 "
                    f"{ident or '(无标识)'}（{name}={text}）：接口没有按更新时间过滤，"
                    "或数据被回溯修改；确认后可在 pull 中设 tolerate_backwards: true",
                    f"asked for {self.config.updated_since_param}={self.cursor_from} but got record "
                    f"{ident or '(no id)'} with {name}={text}",
                )
            log.warning(
                "%s: record %s is older (%s) than the cursor %s; kept as configured",
                self.config.source_id,
                ident,
                text,
                self.cursor_from,
            )
        return key, text

    def _less(self, a: Key, b: Key) -> bool:
        if a[0] != b[0]:
            raise self._error(
                "bad_update_time",
                f"更新时间字段 {self.config.updated_field} 时而为数字时而为日期时间，无法比较",
                f"update time {self.config.updated_field} mixes numbers and date-times",
            )
        return bool(a[1] < b[1])

    @property
    def cursor_to(self) -> str | None:
        """The newest update time taken, held back by repeats, never behind where the pull started."""
        reached = self._best
        if self._hold is not None and (reached is None or self._less(self._hold[0], reached[0])):
            reached = self._hold
        if reached is None:
            return self.cursor_from
        if self._from_key is not None and self._less(reached[0], self._from_key):
            return self.cursor_from
        return reached[1]

    def _error(self, code: str, zh: str, en: str) -> SourceError:
        source = self.config.source_id
        return SourceError(code, bilingual(f"数据源 {source}：{zh}", f"source {source}: {en}"))
