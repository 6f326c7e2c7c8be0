"""Each indicator kind of the risk model as a computation over Arrow columns.

An indicator yields evidence: one row per record that costs an entity points (entity, indicator, record,
points after time decay and the cap). The class, the score per dimension and the explanation are all sums of
these rows (gateway.credit.risk.classify), so whatever a class shows can be traced to its records. A city's
records make tens of millions of such rows, so a row names its indicator by a small number (its position in
the model, ``code``) rather than by text: 25 bytes a row instead of 60.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from gateway.credit import facts
from gateway.credit.risk.model import Indicator

EVIDENCE = pa.schema(
    [
        ("entity_id", pa.int64()),
        ("code", pa.int16()),  # the indicator's position in the model (vetoes follow the indicators)
        ("record_id", pa.int64()),
        ("points", pa.float64()),
    ]
)
_EPOCH = date(1970, 1, 1)


@dataclass
class Counted:
    """What the indicators saw, for the run's report: nothing is left out without saying so."""

    records: dict[str, int] = field(default_factory=dict)  # evidence rows per indicator
    undated: dict[str, int] = field(default_factory=dict)  # records whose date could not be read


def days(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """'YYYY-MM-DD' (or a longer timestamp text starting with it) as days since 1970; null if unreadable."""
    text = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(column), 0, 10)
    stamps = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    return pc.cast(pc.cast(stamps, pa.date32()), pa.int32())


def _day_number(day: date) -> int:
    return (day - _EPOCH).days


def evidence_rows(code: int, entity_ids: pa.Array, record_ids: pa.Array, points: pa.Array) -> pa.Table:
    n = len(entity_ids)
    return pa.table(
        {
            "entity_id": entity_ids,
            "code": pa.array([code] * n, pa.int16()) if n else pa.array([], pa.int16()),
            "record_id": record_ids,
            "points": points,
        },
        schema=EVIDENCE,
    )


def _evidence(indicator: Indicator, entity_ids: pa.Array, record_ids: pa.Array, points: pa.Array) -> pa.Table:
    """Rows of evidence with the indicator's cap applied per entity: where an entity's points pass the cap,
    each record's points are scaled so that they add up to the cap (the records stay named)."""
    table = pa.table(
        {"entity_id": entity_ids, "record_id": record_ids, "points": pc.cast(points, pa.float64())}
    ).filter(pc.greater(pc.cast(points, pa.float64()), 0))
    if table.num_rows == 0:
        return EVIDENCE.empty_table()
    totals = table.group_by("entity_id").aggregate([("points", "sum")])
    joined = table.join(totals, "entity_id")
    total = joined["points_sum"]
    scale = pc.if_else(pc.greater(total, indicator.cap), pc.divide(indicator.cap, total), 1.0)
    return evidence_rows(
        indicator.code,
        joined["entity_id"],
        joined["record_id"],
        pc.round(pc.multiply(joined["points"], scale), 4),
    )


def _dated(indicator: Indicator, table: pa.Table, as_of: date, counted: Counted) -> tuple[pa.Table, pa.Array]:
    """The records of a dated indicator within its window (never those dated after as_of), and each one's
    decay factor. A record whose date cannot be read counts at full weight and is reported as undated."""
    if indicator.date_field is None:
        return table, pa.array([1.0] * table.num_rows, pa.float64())
    age = pc.subtract(_day_number(as_of), days(table[indicator.date_field]))
    undated = pc.is_null(age)
    counted.undated[indicator.id] = int(pc.sum(pc.cast(undated, pa.int64())).as_py() or 0)
    age = pc.fill_null(age, 0)
    keep = pc.greater_equal(age, 0)
    if indicator.window_days is not None:
        keep = pc.and_(keep, pc.less_equal(age, indicator.window_days))
    table, age = table.filter(keep), age.filter(keep)
    if indicator.half_life_days is None:
        return table, pa.array([1.0] * table.num_rows, pa.float64())
    return table, pc.power(0.5, pc.divide(pc.cast(age, pa.float64()), indicator.half_life_days))


def _matching(indicator: Indicator, table: pa.Table) -> pa.Table:
    if indicator.where is None:
        return table
    column = pc.fill_null(table[indicator.where.field], "")
    hit = pc.match_substring(column, indicator.where.contains_any[0])
    for text in indicator.where.contains_any[1:]:
        hit = pc.or_(hit, pc.match_substring(column, text))
    return table.filter(hit)


def compute(
    conn: Connection, indicator: Indicator, as_of: date, repaired: pa.Array, counted: Counted
) -> pa.Table:
    """The evidence rows of one indicator as of the day ``as_of``."""
    if indicator.kind == "changes":
        result = _changes(conn, indicator, as_of)
    elif indicator.kind == "related":
        result = _related(conn, indicator, repaired)
    else:
        fields = [f for f in (indicator.date_field, indicator.where.field if indicator.where else None) if f]
        table = facts.without(facts.records(conn, [indicator.record_type], fields, origin=False), repaired)
        table = _matching(indicator, table)
        if indicator.kind == "expired":
            result = _expired(indicator, table, as_of, counted)
        else:
            table, factor = _dated(indicator, table, as_of, counted)
            points = pc.multiply(factor, indicator.points)
            result = _evidence(indicator, table["entity_id"], table["record_id"], points)
    counted.records[indicator.id] = result.num_rows
    return result


def _expired(indicator: Indicator, table: pa.Table, as_of: date, counted: Counted) -> pa.Table:
    """Records whose expiry date (date_field) is before as_of; one with no readable date is not expired."""
    assert indicator.date_field is not None  # checked when the model was loaded
    until = days(table[indicator.date_field])
    counted.undated[indicator.id] = int(pc.sum(pc.cast(pc.is_null(until), pa.int64())).as_py() or 0)
    table = table.filter(pc.fill_null(pc.less(until, _day_number(as_of)), False))
    points = pa.array([indicator.points] * table.num_rows, pa.float64())
    return _evidence(indicator, table["entity_id"], table["record_id"], points)


def _changes(conn: Connection, indicator: Indicator, as_of: date) -> pa.Table:
    until = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    since = until - timedelta(days=indicator.window_days or 365)
    table = facts.changes(conn, indicator.record_type, since, until)
    points = pa.array([indicator.points] * table.num_rows, pa.float64())
    return _evidence(indicator, table["entity_id"], table["record_id"], points)


def _related(conn: Connection, indicator: Indicator, repaired: pa.Array) -> pa.Table:
    """Entities linked by the same value of ``via`` (the legal representative) to an entity with a bad
    record: a point charge per bad record of each other linked entity, the bad record as evidence."""
    assert indicator.via_field is not None  # checked when the model was loaded
    links = facts.records(conn, [indicator.record_type], [indicator.via_field], origin=False)
    link = pc.utf8_trim_whitespace(pc.fill_null(links[indicator.via_field], ""))
    links = pa.table({"entity_id": links["entity_id"], "link": link}).filter(pc.not_equal(link, ""))
    links = links.group_by(["entity_id", "link"]).aggregate([])
    bad = facts.without(facts.records(conn, indicator.bad_record_types, origin=False), repaired)
    bad = pa.table({"bad_entity_id": bad["entity_id"], "record_id": bad["record_id"]})
    bad_links = bad.join(links.rename_columns(["bad_entity_id", "link"]), "bad_entity_id", join_type="inner")
    pairs = links.join(bad_links, "link", join_type="inner")
    pairs = pairs.filter(pc.not_equal(pairs["entity_id"], pairs["bad_entity_id"]))
    pairs = pairs.group_by(["entity_id", "record_id"]).aggregate([])
    points = pa.array([indicator.points] * pairs.num_rows, pa.float64())
    return _evidence(indicator, pairs["entity_id"], pairs["record_id"], points)
