"""What each kind of rule finds, computed over Arrow columns (filters, group_by, joins), never entity by
entity: there may be a million entities, and the daily run reads every record of the types it needs.

A detector returns a ``Found``: ``warnings`` (one row per warning: entity_id, group and the figures) and
``evidence`` (one row per evidence record: group, the record's identity and department, and the fields
worth showing). ``group`` ties the two: warnings of one entity have one group each (the entity, or the
record); the warnings of a cluster's members share the cluster's group, so its evidence is built once.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from gateway.credit import facts
from gateway.credit.risk.tables import credit_class, credit_run
from gateway.credit.warnings.rules import CLASSES, Route, Rule

ROUTED = "routed"  # the department a record goes to after the routes (docs: "Routing")
EVIDENCE_BASE = ("group", "record_id", "record_type", "natural_key", "version", "department", ROUTED)
_NUMBER = r"^\s*-?\d+(\.\d+)?\s*$"


@dataclass(frozen=True)
class Found:
    warnings: pa.Table
    evidence: pa.Table


@dataclass
class Facts:
    """The store as the rules read it: active records attached to entities, less the repaired ones, with
    each record's routed department; read once per record type and field list, however many rules ask."""

    conn: Connection
    as_of: date
    repaired_ids: pa.Array
    routes: Sequence[Route] = ()
    _cache: dict[tuple[str, tuple[str, ...]], pa.Table] = field(default_factory=dict)

    def records(self, record_type: str, fields: Sequence[str]) -> pa.Table:
        mine = [r for r in self.routes if r.record_type == record_type]
        wanted = tuple(dict.fromkeys([*fields, *(r.field for r in mine if r.field)]))
        key = (record_type, wanted)
        if key not in self._cache:
            table = facts.without(facts.records(self.conn, [record_type], wanted), self.repaired_ids)
            table = table.append_column(ROUTED, _route(table, mine))
            self._cache[key] = table.select([*facts.BASE_COLUMNS, ROUTED, *dict.fromkeys(fields)])
        return self._cache[key]


def _route(table: pa.Table, routes: Sequence[Route]) -> pa.ChunkedArray | pa.Array:
    """The first matching route's department for each record, else the department it came from."""
    routed = pa.nulls(table.num_rows, pa.string())
    for route in routes:
        if route.field is None:
            matched = pa.array([True] * table.num_rows, pa.bool_())
        else:
            values = pc.fill_null(table[route.field], "")
            matched = pc.is_in(values, pa.array(route.values, pa.string()))
            for word in route.contains:
                matched = pc.or_(matched, pc.match_substring(values, word))
        routed = pc.if_else(pc.and_(pc.is_null(routed), matched), route.department, routed)
    return pc.coalesce(routed, table["department"])


# -------------------------------------------------------------------------------------------- helpers
def day(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """'YYYY-MM-DD' texts as dates; anything unreadable is null (and so never inside a window)."""
    head = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(values), 0, 10)
    return pc.cast(pc.strptime(head, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())


def within(days_: pa.ChunkedArray | pa.Array, after: date, upto: date) -> pa.ChunkedArray | pa.Array:
    """after < day <= upto, false for a null day."""
    return pc.fill_null(
        pc.and_(
            pc.greater(days_, pa.scalar(after, pa.date32())),
            pc.less_equal(days_, pa.scalar(upto, pa.date32())),
        ),
        False,
    )


def not_removed(removed: pa.ChunkedArray | pa.Array, as_of: date) -> pa.ChunkedArray | pa.Array:
    """No removal date, or one after the day (a removal dated later has not happened yet)."""
    removal = day(removed)
    return pc.or_(pc.is_null(removal), pc.fill_null(pc.greater(removal, pa.scalar(as_of, pa.date32())), True))


def number(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Texts that are plain decimal numbers as float64; anything else null."""
    text = pc.fill_null(values, "")
    return pc.cast(pc.if_else(pc.match_substring_regex(text, _NUMBER), text, None), pa.float64())


def months_before(d: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, the month's last day when it is shorter."""
    index = d.year * 12 + d.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def _group(prefix: str, ids: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(ids, pa.string()), "")


def _evidence(records: pa.Table, group: pa.ChunkedArray | pa.Array, fields: Sequence[str]) -> pa.Table:
    out = records.select([c for c in EVIDENCE_BASE if c != "group"] + list(fields))
    return out.add_column(0, "group", group)


def _per_record(records: pa.Table, fields: Sequence[str], figures: dict[str, object]) -> Found:
    """One warning per record: the record is its evidence, ``figures`` name its columns (or constants)."""
    group = _group("r", records["record_id"])
    columns: dict[str, object] = {"entity_id": records["entity_id"], "group": group}
    for name, value in figures.items():
        columns[name] = (
            value if isinstance(value, pa.Array | pa.ChunkedArray) else pa.array([value] * records.num_rows)
        )
    return Found(pa.table(columns), _evidence(records, group, fields))


def normalised(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """NFKC (full-width to half-width), upper case, no blanks and no punctuation: 'XX路１号 ' = 'XX路1号'."""
    text = pc.utf8_upper(pc.utf8_normalize(pc.fill_null(values, ""), "NFKC"))
    return pc.replace_substring_regex(text, r"[\s\p{P}\p{S}]+", "")


def _live(table: pa.Table, exclude_states: Sequence[str]) -> pa.Table:
    if not exclude_states:
        return table
    state = pc.fill_null(table["REGSTATE_CN"], "")
    dead = pa.array([False] * table.num_rows, pa.bool_())
    for word in exclude_states:
        dead = pc.or_(dead, pc.match_substring(state, word))
    return table.filter(pc.invert(dead))


# ------------------------------------------------------------------------------------------ the kinds
def repeated_penalties(rule: Rule, f: Facts) -> Found:
    fields = ("CF_WSH", "CF_JDRQ", "CF_NR_FK", "CF_CFJG")
    days = rule.params["days"]
    t = f.records("admin_penalty", fields)
    t = t.filter(within(day(t["CF_JDRQ"]), f.as_of - timedelta(days=days), f.as_of))
    t = t.append_column("fine", number(t["CF_NR_FK"]))
    per = t.group_by("entity_id").aggregate([("record_id", "count"), ("fine", "sum")])
    per = per.filter(pc.greater_equal(per["record_id_count"], rule.params["min_count"]))
    hits = t.filter(pc.is_in(t["entity_id"], per["entity_id"]))
    warnings = pa.table(
        {
            "entity_id": per["entity_id"],
            "group": _group("e", per["entity_id"]),
            "count": per["record_id_count"],
            "days": pa.array([days] * per.num_rows, pa.int64()),
            "fine_total": pc.round(pc.fill_null(per["fine_sum"], 0.0), 4),
        }
    )
    return Found(warnings, _evidence(hits, _group("e", hits["entity_id"]), fields))


def new_listing(rule: Rule, f: Facts) -> Found:
    fields = ("LIST_ID", "ABNTIME", "DECORG_CN", "REMDATE")
    days = rule.params["days"]
    t = f.records(rule.params["list"], fields)
    listed = day(t["ABNTIME"])
    keep = pc.and_(
        within(listed, f.as_of - timedelta(days=days), f.as_of), not_removed(t["REMDATE"], f.as_of)
    )
    t, listed = t.filter(keep), listed.filter(keep)
    return _per_record(
        t, fields, {"listed_on": pc.cast(listed, pa.string()), "authority": t["DECORG_CN"], "days": days}
    )


def new_dishonest_debtor(rule: Rule, f: Facts) -> Found:
    fields = ("caseCode", "courtName", "regDate", "publishDate", "removeDate")
    days = rule.params["days"]
    t = f.records("dishonest_debtor", fields)
    after = f.as_of - timedelta(days=days)
    recent = pc.or_(within(day(t["regDate"]), after, f.as_of), within(day(t["publishDate"]), after, f.as_of))
    t = t.filter(pc.and_(recent, not_removed(t["removeDate"], f.as_of)))
    published = pc.coalesce(t["publishDate"], t["regDate"])
    return _per_record(
        t,
        fields,
        {"case_code": t["caseCode"], "court": t["courtName"], "published_on": published, "days": days},
    )


def complaint_surge(rule: Rule, f: Facts) -> Found:
    fields = ("complaint_no", "accept_date", "accept_unit")
    months = rule.params["months"]
    start = months_before(f.as_of, months)
    t = f.records("complaint", fields)
    accepted = day(t["accept_date"])
    recent = t.filter(within(accepted, start, f.as_of))
    prior = t.filter(within(accepted, months_before(f.as_of, 2 * months), start))
    counts = (
        recent.group_by("entity_id")
        .aggregate([("record_id", "count")])
        .rename_columns(["entity_id", "recent"])
    )
    before = (
        prior.group_by("entity_id").aggregate([("record_id", "count")]).rename_columns(["entity_id", "prior"])
    )
    per = counts.join(before, "entity_id", join_type="left outer")
    prior_n = pc.fill_null(per["prior"], 0)
    ratio = pc.divide(pc.cast(per["recent"], pa.float64()), pc.cast(prior_n, pa.float64()))
    ratio = pc.if_else(pc.equal(prior_n, 0), None, ratio)
    surge = pc.and_(
        pc.greater_equal(per["recent"], rule.params["min_count"]),
        pc.fill_null(pc.greater_equal(ratio, rule.params["min_ratio"]), True),  # none before: a surge
    )
    per = per.filter(surge)
    hits = recent.filter(pc.is_in(recent["entity_id"], per["entity_id"]))
    warnings = pa.table(
        {
            "entity_id": per["entity_id"],
            "group": _group("e", per["entity_id"]),
            "recent": per["recent"],
            "prior": pc.fill_null(per["prior"], 0),
            "ratio": pc.round(ratio.filter(surge), 2),
            "months": pa.array([months] * per.num_rows, pa.int64()),
        }
    )
    return Found(warnings, _evidence(hits, _group("e", hits["entity_id"]), fields))


_LICENCE = ("XK_WSH", "XK_XKWS", "XK_XKJG", "XK_YXQZI", "XK_ZT")


def licence_expiring(rule: Rule, f: Facts) -> Found:
    t = f.records("admin_license", _LICENCE)
    valid_to = day(t["XK_YXQZI"])
    keep = pc.and_(
        within(valid_to, f.as_of - timedelta(days=1), f.as_of + timedelta(days=rule.params["days"])),
        pc.not_equal(pc.fill_null(t["XK_ZT"], ""), "2"),
    )
    t, valid_to = t.filter(keep), valid_to.filter(keep)
    left = pc.days_between(pa.scalar(f.as_of, pa.date32()), valid_to)
    return _figures_of_licence(t, valid_to, {"days_left": left})


def licence_expired(rule: Rule, f: Facts) -> Found:
    t = f.records("admin_license", _LICENCE)
    valid_to = day(t["XK_YXQZI"])
    days = rule.params["days"]
    yesterday = f.as_of - timedelta(days=1)
    after = yesterday - timedelta(days=days) if days else date.min  # valid-to in the `days` days before today
    ended = pc.is_in(pc.fill_null(t["XK_ZT"], ""), pa.array(rule.params["ended_values"], pa.string()))
    keep = pc.and_(within(valid_to, after, yesterday), pc.invert(ended))
    t, valid_to = t.filter(keep), valid_to.filter(keep)
    overdue = pc.days_between(valid_to, pa.scalar(f.as_of, pa.date32()))
    return _figures_of_licence(t, valid_to, {"days_overdue": overdue})


def _figures_of_licence(t: pa.Table, valid_to: pa.Array, more: dict[str, object]) -> Found:
    return _per_record(
        t,
        _LICENCE,
        {
            "valid_to": pc.cast(valid_to, pa.string()),
            **more,
            "authority": t["XK_XKJG"],
            "licence": t["XK_XKWS"],
        },
    )


def _cluster(rule: Rule, f: Facts, by: str, figure: str, prefix: str) -> Found:
    fields = ("ENTNAME", "UNISCID", "NAME", "DOM", "REGSTATE_CN")
    t = _live(f.records("market_entity", fields), rule.params["exclude_states"])
    t = t.append_column("key", normalised(t[by]))
    t = t.filter(pc.not_equal(t["key"], ""))
    per = t.group_by("key").aggregate([("entity_id", "count_distinct"), (by, "min")])
    per = per.filter(pc.greater_equal(per["entity_id_count_distinct"], rule.params["min_entities"]))
    members = t.filter(pc.is_in(t["key"], per["key"]))
    group = pc.binary_join_element_wise(prefix, members["key"], "")
    pairs = (
        pa.table({"entity_id": members["entity_id"], "key": members["key"], "group": group})
        .group_by(["entity_id", "key", "group"])
        .aggregate([])
        .join(per, "key")
        .sort_by([("entity_id", "ascending"), ("group", "ascending")])
    )
    warnings = pa.table(
        {
            "entity_id": pairs["entity_id"],
            "group": pairs["group"],
            "entities": pairs["entity_id_count_distinct"],
            figure: pairs[f"{by}_min"],
        }
    )
    return Found(warnings, _evidence(members, group, ("ENTNAME", "UNISCID", by)))


def shared_address(rule: Rule, f: Facts) -> Found:
    return _cluster(rule, f, "DOM", "address", "a:")


def shared_representative(rule: Rule, f: Facts) -> Found:
    return _cluster(rule, f, "NAME", "representative", "p:")


def related_dishonest(rule: Rule, f: Facts) -> Found:
    removal = {"serious_dishonesty": "REMDATE", "dishonest_debtor": "removeDate"}
    keys = {"serious_dishonesty": "LIST_ID", "dishonest_debtor": "caseCode"}
    bad_parts = []
    for record_type in rule.params["record_types"]:
        t = f.records(record_type, (keys[record_type], removal[record_type]))
        t = t.filter(not_removed(t[removal[record_type]], f.as_of))
        bad_parts.append(t.select([*facts.BASE_COLUMNS, ROUTED]))
    bad = pa.concat_tables(bad_parts)
    me = f.records("market_entity", ("ENTNAME", "UNISCID", "NAME", "REGSTATE_CN"))
    me = me.append_column("rep", normalised(me["NAME"]))
    me = me.filter(pc.not_equal(me["rep"], ""))
    people = pa.table({"entity_id": me["entity_id"], "rep": me["rep"], "name": me["NAME"]})
    live = _live(me, rule.params["exclude_states"])
    bad_people = people.filter(pc.is_in(people["entity_id"], pc.unique(bad["entity_id"])))
    bad_people = bad_people.select(["rep", "entity_id"]).rename_columns(["rep", "bad_entity"])
    pairs = pa.table({"entity_id": live["entity_id"], "rep": live["rep"], "name": live["NAME"]}).join(
        bad_people, "rep"
    )
    pairs = pairs.filter(pc.not_equal(pairs["entity_id"], pairs["bad_entity"]))
    pairs = pairs.group_by(["entity_id", "bad_entity", "rep"]).aggregate([("name", "min")])
    per = pairs.group_by("entity_id").aggregate([("bad_entity", "count_distinct"), ("name_min", "min")])
    per = per.sort_by("entity_id")
    warnings = pa.table(
        {
            "entity_id": per["entity_id"],
            "group": _group("e", per["entity_id"]),
            "related": per["bad_entity_count_distinct"],
            "representative": per["name_min_min"],
        }
    )
    link = pa.table({"group": _group("e", pairs["entity_id"]), "bad_entity": pairs["bad_entity"]})
    link = link.group_by(["group", "bad_entity"]).aggregate([])
    shown = ("ENTNAME", "UNISCID", "NAME")
    own = me.filter(pc.is_in(me["entity_id"], per["entity_id"]))
    parts = [
        _evidence(own, _group("e", own["entity_id"]), shown),
        _linked(link, me.select([*facts.BASE_COLUMNS, ROUTED, *shown]), shown),
        _linked(link, bad, ()),
    ]
    evidence = pa.concat_tables(parts, promote_options="default")
    return Found(warnings, evidence)


def _linked(link: pa.Table, records: pa.Table, fields: Sequence[str]) -> pa.Table:
    """The records of the related (bad) entities, under the group of each entity related to them."""
    joined = link.join(records.rename_columns(["bad_entity", *records.column_names[1:]]), "bad_entity")
    return joined.select(["group", *EVIDENCE_BASE[1:], *fields])


def class_drop(rule: Rule, f: Facts) -> Found:
    """The latest finished run (the latest period, its latest run) against the finished run before it; runs
    as of a day after the warnings' day are not looked at, so a run as of an earlier day sees what it saw."""
    runs = f.conn.execute(
        select(credit_run.c.id, credit_run.c.period)
        .where(credit_run.c.status == "finished", credit_run.c.as_of <= f.as_of)
        .order_by(credit_run.c.period.desc(), credit_run.c.id.desc())
        .limit(2)
    ).all()
    empty = Found(
        pa.table({"entity_id": pa.array([], pa.int64()), "group": pa.array([], pa.string())}),
        pa.table({c: pa.array([], pa.string()) for c in EVIDENCE_BASE}),
    )
    if len(runs) < 2:
        # The first classification has nothing to compare with: every C and D would be "a move", which is
        # not news to anyone. From the second run on, an entity absent before (newly registered) counts.
        return empty
    latest = _classes(f.conn, runs[0].id)
    previous = _classes(f.conn, runs[1].id) if len(runs) > 1 else _classes(f.conn, None)
    previous = previous.rename_columns(["entity_id", "previous"])
    both = latest.join(previous, "entity_id", join_type="left outer").sort_by("entity_id")
    order = pa.array(CLASSES, pa.string())
    worse = pc.fill_null(
        pc.greater(pc.index_in(both["class"], order), pc.index_in(both["previous"], order)), True
    )
    moved = both.filter(pc.and_(pc.is_in(both["class"], pa.array(rule.params["to_classes"])), worse))
    group = _group("e", moved["entity_id"])
    n = moved.num_rows
    warnings = pa.table(
        {
            "entity_id": moved["entity_id"],
            "group": group,
            "period": pa.array([runs[0].period] * n, pa.string()),
            "previous_period": pa.array([runs[1].period if len(runs) > 1 else None] * n, pa.string()),
            "from_class": moved["previous"],
            "to_class": moved["class"],
        }
    )
    # The evidence is the two classification rows (by run): the key changes when a later run moves it again.
    rows = [(runs[0].id, runs[0].period, moved["class"])]
    if len(runs) > 1:
        rows.append((runs[1].id, runs[1].period, moved["previous"]))
    parts = []
    for run_id, period, classes in rows:
        keep = pc.is_valid(classes)
        parts.append(
            pa.table(
                {
                    "group": group.filter(keep),
                    "record_type": pa.array(["credit_class"] * n, pa.string()).filter(keep),
                    "natural_key": pa.array([f"run:{run_id}"] * n, pa.string()).filter(keep),
                    "run_id": pa.array([run_id] * n, pa.int64()).filter(keep),
                    "period": pa.array([period] * n, pa.string()).filter(keep),
                    "class": classes.filter(keep),
                }
            )
        )
    return Found(warnings, pa.concat_tables(parts))


def _classes(conn: Connection, run_id: int | None) -> pa.Table:
    stmt = select(credit_class.c.entity_id, credit_class.c["class"]).where(credit_class.c.run_id == run_id)
    ids: list[int] = []
    classes: list[str] = []
    result = conn.execute(stmt)
    while chunk := result.fetchmany(facts.FETCH_ROWS):
        ids.extend(row[0] for row in chunk)
        classes.extend(row[1] for row in chunk)
    return pa.table({"entity_id": pa.array(ids, pa.int64()), "class": pa.array(classes, pa.string())})


DETECTORS: dict[str, Callable[[Rule, Facts], Found]] = {
    "repeated_penalties": repeated_penalties,
    "new_listing": new_listing,
    "new_dishonest_debtor": new_dishonest_debtor,
    "complaint_surge": complaint_surge,
    "licence_expiring": licence_expiring,
    "licence_expired": licence_expired,
    "shared_address": shared_address,
    "shared_representative": shared_representative,
    "related_dishonest": related_dishonest,
    "class_drop": class_drop,
}
