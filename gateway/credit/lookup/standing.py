"""An entity's credit standing (信用状况) at the moment of asking, in one indexed statement.

Resolving the code: :func:`gateway.credit.lookup.codes.parse_code` tells malformed codes and wrong check
characters apart without the store. Then ``LOOKUP`` finds the entity by an indexed column of ``entity``
(uscc unique; reg_no and org_code indexed) and, in the same statement, everything the standing shows:

* its records (``ix_record_entity_id``), with the current payload (``record_version`` by its unique
  (record_id, version)) of those of the seven types shown that are active or repaired. The type and status
  conditions are inside that join's key — the key is NULL for any other record, and an index probe for
  NULL finds nothing without reading a page — rather than in WHERE, where a planner may read them as a
  reason to scan the (record_type, natural_key) index over every record of seven types (PostgreSQL did,
  without fresh statistics: 5 ms instead of 0.3);
* each record's source (``source_file`` by primary key) and, for the records shown, its publicity period
  (``credit_publicity`` by primary key);
* the objections against any of its records (``ix_credit_objection_record_id``), of which the open ones
  are kept — in Python, because with ``state = 'open'`` in the join SQLite may probe
  ``ix_credit_objection_state`` instead and walk every open objection for each record;
* for the internal role only, its class in the latest finished risk run (``credit_class`` by its primary
  key (run_id, entity_id); for other roles the run id bound is NULL, which matches nothing).

One round trip instead of five matters on PostgreSQL, where each costs about 0.1 ms on loopback before any
work (docs/lookup.md, "Load"). The answer: no entity (unknown), one, or several entities sharing a legacy code
(ambiguous: the caller is shown them and asked for the USCC). A USCC the registry does not hold is also tried
as the organisation code of an entity known only by its legacy codes, since positions 9–17 of a USCC are the
GB 11714 code (docs/standards.md §1.1).

The latest run and the sources' refresh times change a few times a day and are the same for every entity,
so each worker keeps them for ``cache_seconds`` (:class:`Every`) instead of asking every time. Nothing here
writes; the query log is gateway.credit.lookup.querylog.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from gateway.credit.lookup.blocks import (
    KEY_FIELD,
    RECORD_TYPES,
    RED_LISTS,
    Row,
    commitment_item,
    entity_block,
    penalty_item,
    red_list_item,
    repair_item,
    repaired_record_item,
)
from gateway.credit.lookup.codes import LABELS, Code, CodeRefused, parse_code
from gateway.credit.lookup.db import Database, day, fetch_all, moment

__all__ = ["Code", "CodeRefused", "Entity", "NotFound", "StandingReader", "parse_code"]

_TYPES = ", ".join(f"'{name}'" for name in RECORD_TYPES)

_LOOKUP = f"""
SELECT e.id, e.uscc, e.name, e.reg_no, e.org_code,
       r.id, r.record_type, r.status, r.natural_key, r.version, r.updated_at, f.source_id, v.payload,
       p.version, p.repairable_on, p.ends_on,
       o.id, o.raised_by, o.raised_on, o.deadline, o.state,
       c.class
FROM entity e
LEFT JOIN record r ON r.entity_id = e.id
LEFT JOIN record_version v
       ON v.record_id = CASE WHEN r.status IN ('active', 'repaired') AND r.record_type IN ({_TYPES})
                             THEN r.id END
      AND v.version = r.version
LEFT JOIN source_file f ON f.id = r.source_file_id
LEFT JOIN credit_publicity p ON p.record_id = v.record_id
LEFT JOIN credit_objection o ON o.record_id = r.id
LEFT JOIN credit_class c ON c.run_id = ? AND c.entity_id = e.id
WHERE """
_ORDER = " ORDER BY e.id, r.id, o.id"
_SOME = "e.id IN (SELECT id FROM entity WHERE {} ORDER BY id LIMIT 6)"
LOOKUP = {
    "uscc": _LOOKUP + "e.uscc = ?" + _ORDER,
    "reg_no": _LOOKUP + _SOME.format("reg_no = ?") + _ORDER,
    "org_code": _LOOKUP + _SOME.format("org_code = ?") + _ORDER,
    # coalesce: "uscc IS NULL" alone is indexable, and SQLite walked the uscc index over every entity
    # without a USCC instead of taking the one org_code asked for
    "legacy_only": _LOOKUP + _SOME.format("org_code = ? AND coalesce(uscc, '') = ''") + _ORDER,
}
LATEST_RUN = "SELECT id, period, as_of FROM credit_run WHERE status = 'finished' ORDER BY id DESC LIMIT 1"

# What "refreshed" means for a source: the newest unit of data it delivered that was stored (accepted or
# partly accepted; a rejected file refreshed nothing, a replay re-read old data), and for a pulled source
# the last time its cursor was written — which a pull that found nothing new also does.
FRESHNESS = f"""
SELECT record_type, source_id, MAX(received_at)
FROM source_file
WHERE kind <> 'replay' AND status IN ('accepted', 'partial') AND record_type IN ({_TYPES})
GROUP BY record_type, source_id
"""
CURSORS = "SELECT source_id, updated_at FROM source_cursor"

INTERNAL_NOTICE = (
    "内部参考：信用风险分类结果是配置监管资源的内部参考依据，不是对企业的信用评价，不得公开或对外提供"
    "（国市监信发〔2022〕6号）"
)

T = TypeVar("T")


class Every(Generic[T]):
    """A value recomputed at most every ``seconds`` per process; threads wait for one recomputation."""

    def __init__(self, seconds: float, compute: Callable[[Any], T]) -> None:
        self.seconds = seconds
        self._compute = compute
        self._value: T | None = None
        self._at = float("-inf")
        self._lock = threading.Lock()

    def get(self, raw: Any) -> T:
        if time.monotonic() - self._at < self.seconds and self._value is not None:
            return self._value
        with self._lock:
            if time.monotonic() - self._at >= self.seconds or self._value is None:
                self._value = self._compute(raw)
                self._at = time.monotonic()
            return self._value


@dataclass(frozen=True)
class Entity:
    id: int
    uscc: str | None
    name: str
    reg_no: str | None
    org_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uscc": self.uscc,
            "name": self.name,
            "reg_no": self.reg_no,
            "org_code": self.org_code,
        }


class NotFound(LookupError):
    """No entity (``outcome`` unknown) or several (ambiguous, with ``candidates``) for a valid code."""

    def __init__(self, outcome: str, text: str, candidates: list[Entity] | None = None) -> None:
        super().__init__(text)
        self.outcome = outcome
        self.candidates = candidates or []


class StandingReader:
    """Finds entities and reads their standing; one per process, shared by its threads."""

    def __init__(
        self,
        db: Database,
        *,
        timezone: str,
        record_labels: Mapping[str, str],
        class_labels: Mapping[str, str],
        cache_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.zone = ZoneInfo(timezone)
        self.record_labels = dict(record_labels)
        self.class_labels = dict(class_labels)
        self._lookup = {kind: db.sql(statement) for kind, statement in LOOKUP.items()}
        self.latest_run = Every(cache_seconds, self._latest_run)
        self.freshness = Every(cache_seconds, self._freshness)

    # -------------------------------------------------------------------------------------- standing
    def read(self, raw: Any, code: Code, *, internal: bool, today: date) -> tuple[Entity, dict[str, Any]]:
        """The entity ``code`` names and its standing on ``today`` (the blocks of docs/lookup.md; the risk
        class only if ``internal``), or :class:`NotFound`."""
        run = self.latest_run.get(raw) if internal else (None, None, None)
        rows = fetch_all(raw, self._lookup[code.kind], (run[0], code.value))
        if not rows and code.kind == "uscc":
            rows = fetch_all(raw, self._lookup["legacy_only"], (run[0], code.value[8:17]))
        entities = {int(r[0]): Entity(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows}
        if len(entities) != 1:
            label = LABELS[code.kind]
            if not entities:
                raise NotFound("unknown", f"未找到该{label}对应的市场主体：平台尚无此主体的登记或信用记录")
            found = list(entities.values())
            raise NotFound(
                "ambiguous", f"该{label}对应 {len(found)} 个市场主体，请改用统一社会信用代码查询", found
            )
        entity = next(iter(entities.values()))
        sources = self.freshness.get(raw)
        return entity, self._standing(entity, rows, run if internal else None, sources, today)

    def _standing(
        self,
        entity: Entity,
        rows: list[tuple[Any, ...]],
        run: tuple[Any, ...] | None,
        sources: list[dict[str, Any]],
        today: date,
    ) -> dict[str, Any]:
        on = today.isoformat()
        records: dict[int, Row] = {}
        objections = []
        for r in rows:
            if r[5] is None:
                continue  # an entity without records: one row of entity columns
            if r[12] is not None and r[5] not in records:
                records[r[5]] = Row.of(r[5:16])
            if r[16] is not None and r[20] == "open":
                objections.append(self._objection(r))
        red: dict[str, list[dict[str, Any]]] = {name: [] for name in RED_LISTS}
        penalties, commitments, decisions, repaired = [], [], [], []
        internal = run is not None
        for row in records.values():
            if row.status == "repaired":
                repaired.append(repaired_record_item(row, self.record_labels, self.zone))
            elif row.record_type in red:
                red[row.record_type].append(red_list_item(row))
            elif row.record_type == "admin_penalty":
                item = penalty_item(row, on)
                if item is not None:
                    penalties.append(item)
            elif row.record_type == "credit_commitment":
                item = commitment_item(row, on, internal=internal)
                if item is not None:
                    commitments.append(item)
            elif row.record_type == "credit_repair":
                decisions.append(repair_item(row))
        body: dict[str, Any] = {
            "entity": entity_block(entity.as_dict(), records.values()),
            "summary": {
                "red_lists": sum(len(items) for items in red.values()),
                "penalties_in_publicity": len(penalties),
                "commitments": len(commitments),
                "repairs": len(decisions) + len(repaired),
                "objections_pending": len(objections),
            },
            "red_lists": red,
            "penalties": penalties,
            "commitments": commitments,
            "repairs": {"decisions": decisions, "repaired_records": repaired},
            "objections": objections,
            "sources": sources,
        }
        if run is not None:
            cls = rows[0][21]
            body["risk"] = {
                "class": cls,
                "label": self.class_labels.get(cls) if cls else None,
                "period": run[1],
                "as_of": day(run[2]),
                "classified": cls is not None,
                "notice": INTERNAL_NOTICE,
            }
        return body

    def _objection(self, r: tuple[Any, ...]) -> dict[str, Any]:
        record_type, natural_key, payload = r[6], r[8], r[12]
        key = json.loads(payload).get(KEY_FIELD.get(record_type, "")) if payload is not None else None
        return {
            "objection_id": int(r[16]),
            "record_id": int(r[5]),
            "record_type": record_type,
            "label": self.record_labels.get(record_type, record_type),
            "key": key or natural_key,
            "raised_by": r[17],
            "raised_on": day(r[18]),
            "deadline": day(r[19]),
        }

    # ------------------------------------------------------------------------------------ cached facts
    def _latest_run(self, raw: Any) -> tuple[int | None, str | None, Any]:
        found = fetch_all(raw, self.db.sql(LATEST_RUN), ())
        return (int(found[0][0]), found[0][1], found[0][2]) if found else (None, None, None)

    def _freshness(self, raw: Any) -> list[dict[str, Any]]:
        checked = {source: moment(at) for source, at in fetch_all(raw, self.db.sql(CURSORS), ())}
        out = []
        for record_type, source, received in fetch_all(raw, self.db.sql(FRESHNESS), ()):
            out.append(
                {
                    "record_type": record_type,
                    "label": self.record_labels.get(record_type, record_type),
                    "source": source,
                    "last_received_at": self._local(moment(received)),
                    "last_checked_at": self._local(checked.get(source)),
                }
            )
        order = {name: n for n, name in enumerate(RECORD_TYPES)}
        return sorted(out, key=lambda item: (order[item["record_type"]], item["source"]))

    def _local(self, value: datetime | None) -> str | None:
        return value.astimezone(self.zone).isoformat(timespec="seconds") if value else None
