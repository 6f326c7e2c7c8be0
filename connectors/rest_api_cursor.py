"""The incremental cursor of a REST pull: how far it got, whether the source went backwards, repeats.

The cursor is the newest update time seen, written back exactly as the source wrote it so the next pull sends
the source its own format. It assumes the source's ``updatedSince`` is inclusive (records updated at or
after it), so that a record written in the same second as the last one seen is never missed. The records at
the cursor therefore come again on the next pull; the cursor also keeps a fingerprint of each row taken at
exactly its time (as dlt's incremental cursors keep ``unique_hashes``), and a row that comes again unchanged
at that time is known and dropped. A quiet source then brings nothing at all — no landed unit, the cursor
unchanged — however often it is pulled, while a record changed within the cursor's second still arrives
(its fingerprint differs). Stored cursors written before fingerprints were kept are a bare update time and
are read as such; so is a cursor an engineer sets by hand.

A record id seen twice in one pull means the pages shifted under us: with page-number paging sorted by
update time, a record updated during the pull moves to the end and everything behind its old place moves
one up, so one record can slip between two pages unseen. The later copy is dropped (the store would refuse
a second version of one key in one unit) and the cursor is held at the first copy's update time, so the
next pull starts early enough to bring whatever slipped through, and the newer version with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.rest_api_config import ApiConfig
from connectors.rest_api_errors import SourceError, bilingual
from connectors.rest_api_records import UpdateTimeError, fingerprint, lookup, text_of, time_key

log = logging.getLogger(__name__)

Key = tuple[int, Any]


def row_digest(values: Sequence[str | None]) -> str:
    """A row's fingerprint: the values it lands with (not the whole record, so a field the mapping does not
    take, such as a server's query time, cannot make a known row look new)."""
    text = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class RestCursor:
    """A REST source's stored position: the newest update time taken, as the source wrote it, and the
    fingerprints of the rows taken at exactly that time (``row_digest``).

    Stored as the bare time when no fingerprints are kept, else as canonical JSON:

    >>> RestCursor("2026-11-02 10:00:00").text()
    '2026-11-02 10:00:00'
    >>> RestCursor("1791436800000", frozenset({"b2", "a1"})).text()
    '{"taken":["a1","b2"],"updated":"1791436800000"}'
    >>> RestCursor.parse('{"taken":["a1"],"updated":"2026-11-02 10:00:00"}').updated
    '2026-11-02 10:00:00'
    >>> RestCursor.parse("2026-11-02 10:00:00").taken
    frozenset()
    """

    updated: str | None = None
    taken: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str | None) -> RestCursor:
        if text is None:
            return cls()
        if not text.startswith("{"):
            return cls(text)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"stored cursor is neither an update time nor JSON: {text[:80]!r}") from exc
        if (
            not isinstance(data, dict)
            or set(data) != {"taken", "updated"}
            or not isinstance(data["updated"], str)
            or not isinstance(data["taken"], list)
            or not all(isinstance(item, str) for item in data["taken"])
        ):
            raise ValueError(f"stored cursor should hold 'updated' and 'taken': {text[:80]!r}")
        return cls(data["updated"], frozenset(data["taken"]))

    def text(self) -> str | None:
        if self.updated is None or not self.taken:
            return self.updated
        return json.dumps(
            {"taken": sorted(self.taken), "updated": self.updated}, separators=(",", ":"), sort_keys=True
        )

    def describe(self) -> str:
        """For logs: the time and how many rows are known there, not the fingerprints themselves."""
        if self.updated is None:
            return "(none)"
        return self.updated + (f" (+{len(self.taken)} rows taken at that time)" if self.taken else "")


class CursorTracker:
    def __init__(self, config: ApiConfig, cursor_from: str | None) -> None:
        self.config = config
        self.cursor_from = cursor_from
        try:
            self.start = RestCursor.parse(cursor_from)
        except ValueError as exc:
            raise self._error("bad_cursor", f"保存的游标无法识别：{exc}", str(exc)) from exc
        self._field = tuple(config.updated_field.split(".")) if config.updated_field else None
        self._id = tuple(config.id_field.split(".")) if config.id_field else None
        self._since_sent = config.updated_since_param is not None and self.start.updated is not None
        self._from_key: Key | None = None
        if self._field is not None and self.start.updated is not None:
            try:
                self._from_key = time_key(self.start.updated, config.timezone)
            except UpdateTimeError as exc:
                raise self._error(
                    "bad_cursor",
                    f"保存的游标 {self.start.updated!r} 不是时间或数字",
                    f"stored cursor {self.start.updated!r} is neither a time nor a number",
                ) from exc
        self._best: tuple[Key, str] | None = None
        self._at_best: set[str] = set()  # fingerprints of the rows taken at the best time
        self._hold: tuple[Key, str] | None = None
        self._seen: dict[str, tuple[str, tuple[Key, str] | None]] = {}
        self.backwards = 0
        self.duplicates = 0
        self.known = 0

    @property
    def since(self) -> str | None:
        """The update time to send the source as ``updated_since_param``."""
        return self.start.updated

    def accept(self, record: dict[str, Any], values: Sequence[str | None]) -> bool:
        """Track one record and the values it lands with; False when it repeats a record already taken in
        this pull, or a row taken by an earlier pull at the cursor's own time."""
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
        row = row_digest(values)
        if stamp is not None and stamp[0] == self._from_key and row in self.start.taken:
            self.known += 1
            return False
        if stamp is not None:
            if self._best is None or self._less(self._best[0], stamp[0]):
                self._best = stamp
                self._at_best = {row}
            elif stamp[0] == self._best[0]:
                self._at_best.add(row)
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
                    f"请求 {self.config.updated_since_param}={self.since} 却收到更早的记录 "
                    f"{ident or '(无标识)'}（{name}={text}）：接口没有按更新时间过滤，"
                    "或数据被回溯修改；确认后可在 pull 中设 tolerate_backwards: true",
                    f"asked for {self.config.updated_since_param}={self.since} but got record "
                    f"{ident or '(no id)'} with {name}={text}",
                )
            log.warning(
                "%s: record %s is older (%s) than the cursor %s; kept as configured",
                self.config.source_id,
                ident,
                text,
                self.since,
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
    def end(self) -> RestCursor:
        """The newest update time taken, held back by repeats, never behind where the pull started; with the
        fingerprints of the rows taken at that time (added to the start's when the time did not move)."""
        reached = self._best
        if self._hold is not None and (reached is None or self._less(self._hold[0], reached[0])):
            # Held back to an earlier time: the rows taken at it are not all known here, so none are kept;
            # the next pull lands them again and the store answers those it holds as unchanged.
            return self.start if self._before_start(self._hold) else RestCursor(self._hold[1])
        if reached is None or self._before_start(reached):
            return self.start
        if reached[0] == self._from_key:
            return RestCursor(self.start.updated, self.start.taken | self._at_best)
        return RestCursor(reached[1], frozenset(self._at_best))

    @property
    def cursor_to(self) -> str | None:
        return self.end.text()

    def _before_start(self, stamp: tuple[Key, str]) -> bool:
        return self._from_key is not None and self._less(stamp[0], self._from_key)

    def _error(self, code: str, zh: str, en: str) -> SourceError:
        source = self.config.source_id
        return SourceError(code, bilingual(f"数据源 {source}：{zh}", f"source {source}: {en}"))
