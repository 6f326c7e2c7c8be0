"""The object directory (检查对象名录库) a task draws from, built from the store as one Arrow table.

The entities come from the registry (gateway.credit.facts.entities); what a 定向 task filters on comes from
each entity's latest market_entity record (type ENTTYPE_CN, registration state REGSTATE_CN, area
DOMDISTRICT); the stratum is the entity's current risk class, the class of its row in the latest finished
credit run (latest period, then latest run), or the configured stratum for an entity without one.

Filters a 定向 task may use, and why only these: the store holds what the market_entity records carry.
``type`` (市场主体类型, any of the given words appears in ENTTYPE_CN) and ``area`` (行政区划,
DOMDISTRICT starts with any of the given codes: 1409 is the city, 140902 one district). There is no
industry (行业) or size (规模) in those records, so ``industry`` and ``scale`` are refused with that
reason rather than ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from gateway.credit.draws.algorithm import DrawError
from gateway.credit.draws.config import DrawConfig
from gateway.credit.draws.tables import draw_object
from gateway.credit.facts import entities, records
from gateway.credit.risk.tables import credit_class, credit_run

FIELDS = ("ENTTYPE_CN", "REGSTATE_CN", "DOMDISTRICT")
FILTERS = {"type": "ENTTYPE_CN", "area": "DOMDISTRICT"}
UNSUPPORTED = {
    "industry": "市场主体登记信息（market_entity）中没有行业字段",
    "scale": "市场主体登记信息（market_entity）中没有企业规模字段",
}


def check_filters(filters: Mapping[str, object]) -> dict[str, list[str]]:
    """A 定向 task's filters as {name: [values]}; unknown or unsupported names are refused."""
    clean: dict[str, list[str]] = {}
    for name, value in filters.items():
        if name in UNSUPPORTED:
            raise DrawError(f"定向条件 {name} 暂不支持：{UNSUPPORTED[name]}；可用条件：{'、'.join(FILTERS)}")
        if name not in FILTERS:
            raise DrawError(f"未知的定向条件 {name!r}；可用条件：{'、'.join(FILTERS)}")
        values = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        values = [str(v).strip() for v in values if str(v).strip()]
        if not values:
            raise DrawError(f"定向条件 {name} 没有取值")
        clean[name] = sorted(set(values))
    return clean


def current_classes(conn: Connection) -> pa.Table:
    """entity_id, class: the rows of the latest finished credit run (empty if there is none)."""
    run_id = conn.execute(
        select(credit_run.c.id)
        .where(credit_run.c.status == "finished")
        .order_by(credit_run.c.period.desc(), credit_run.c.id.desc())
        .limit(1)
    ).scalar()
    rows = (
        conn.execute(
            select(credit_class.c.entity_id, credit_class.c["class"]).where(credit_class.c.run_id == run_id)
        ).all()
        if run_id is not None
        else []
    )
    return pa.table(
        {
            "entity_id": pa.array([r[0] for r in rows], pa.int64()),
            "class": pa.array([r[1] for r in rows], pa.string()),
        }
    )


def _latest_market_entity(conn: Connection) -> pa.Table:
    found = records(conn, ["market_entity"], FIELDS)
    if found.num_rows == 0:
        return pa.table(
            {"entity_id": pa.array([], pa.int64()), **{f: pa.array([], pa.string()) for f in FIELDS}}
        )
    latest = (
        found.group_by("entity_id")
        .aggregate([("record_id", "max")])
        .rename_columns(["entity_id", "record_id"])
    )
    return found.join(latest, ["entity_id", "record_id"], join_type="inner").select(["entity_id", *FIELDS])


def _any_prefix(column: pa.ChunkedArray, prefixes: Sequence[str]) -> pa.ChunkedArray:
    hit = pc.starts_with(column, prefixes[0])
    for prefix in prefixes[1:]:
        hit = pc.or_(hit, pc.starts_with(column, prefix))
    return pc.fill_null(hit, False)


def _any_substring(column: pa.ChunkedArray, words: Sequence[str]) -> pa.ChunkedArray:
    hit = pc.match_substring(column, words[0])
    for word in words[1:]:
        hit = pc.or_(hit, pc.match_substring(column, word))
    return pc.fill_null(hit, False)


def directory(conn: Connection, config: DrawConfig) -> pa.Table:
    """Every entity in scope: entity_id, uscc, name, ENTTYPE_CN, REGSTATE_CN, DOMDISTRICT, stratum."""
    table = entities(conn)
    table = table.filter(_any_prefix(table["uscc"], config.uscc_prefixes))
    table = table.join(_latest_market_entity(conn), "entity_id", join_type="left outer")
    if config.exclude_states:
        table = table.filter(pc.invert(_any_substring(table["REGSTATE_CN"], config.exclude_states)))
    table = table.join(current_classes(conn), "entity_id", join_type="left outer")
    stratum = pc.coalesce(table["class"], pa.scalar(config.unclassified_stratum))
    table = table.drop_columns(["class"]).append_column("stratum", stratum)
    return table.take(pc.sort_indices(table, sort_keys=[("uscc", "ascending")]))


def apply_filters(table: pa.Table, filters: Mapping[str, Sequence[str]]) -> pa.Table:
    """A 定向 task's objects: every filter must match (and, between filters; or, within one)."""
    for name, values in filters.items():
        column = table[FILTERS[name]]
        hit = _any_prefix(column, values) if name == "area" else _any_substring(column, values)
        table = table.filter(hit)
    return table


def drawn_this_year(conn: Connection, year: int) -> pa.Array:
    """The entity ids another task already drew in ``year`` (the draw_object year index)."""
    ids = conn.execute(select(draw_object.c.entity_id).where(draw_object.c.year == year).distinct()).scalars()
    return pa.array(list(ids), pa.int64())


__all__ = [
    "FILTERS",
    "UNSUPPORTED",
    "apply_filters",
    "check_filters",
    "current_classes",
    "directory",
    "drawn_this_year",
]
