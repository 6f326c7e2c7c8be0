"""Attach records to market entities: by valid USCC, then legacy registration number or organisation code,
then exact normalised name; what still has no entity goes to the resolution queue.

Lookups are one query per distinct key set per batch, not per row. A record that names a new valid USCC
creates the entity (the registry grows from what departments report); a record carrying both a USCC and a
legacy code teaches the registry that code, so later records naming only the legacy code find the entity.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, bindparam, func, update

from gateway.schema.model import RecordType
from gateway.store.bulk import bulk_insert, merge_columns, select_matching
from gateway.store.records import Attachment
from gateway.store.tables import entity


def normalize_names(values: pa.Array) -> pa.Array:
    """Full-width to half-width, no whitespace, ASCII upper-case.

    So '忻州市 某某（有限）公司' and '忻州市某某(有限)公司' are the same name.
    """
    text = pc.utf8_normalize(values, "NFKC")
    text = pc.replace_substring_regex(text, r"\s+", "")
    return pc.utf8_upper(text)


def normalize_name(value: str) -> str:
    return normalize_names(pa.array([value], pa.string()))[0].as_py() or ""


def _lookup(conn: Connection, column: str, keys: Iterable[str]) -> dict[str, tuple[int, str | None]]:
    found: dict[str, tuple[int, str | None]] = {}
    for key, entity_id, uscc in select_matching(conn, entity, (column, "id", "uscc"), column, keys):
        found.setdefault(key, (entity_id, uscc))
    return found


def _lookup_unique_names(conn: Connection, names: Iterable[str]) -> dict[str, tuple[int, str | None]]:
    """Only names that identify exactly one entity: two entities called the same are never guessed between."""
    counts: dict[str, list[tuple[int, str | None]]] = {}
    columns = ("name_norm", "id", "uscc")
    for name, entity_id, uscc in select_matching(conn, entity, columns, "name_norm", names):
        counts.setdefault(name, []).append((entity_id, uscc))
    return {name: hits[0] for name, hits in counts.items() if len(hits) == 1}


def _distinct(values: pa.Array | pa.ChunkedArray) -> list[str]:
    return [v for v in pc.unique(values.drop_null()).to_pylist() if v]


class _Found:
    """Entities found for some keys, as Arrow arrays, so each row's entity is one vectorised lookup."""

    def __init__(self, found: dict[str, tuple[int, str | None]]) -> None:
        self.keys = pa.array(list(found), pa.string())
        self.ids = pa.array([hit[0] for hit in found.values()], pa.int64())
        self.usccs = pa.array([hit[1] for hit in found.values()], pa.string())

    def rows(self, values: pa.Array) -> pa.Array:
        """For each value, the index of its entity in ``ids``/``usccs``, or null."""
        return pc.index_in(values, value_set=self.keys)


ENTITY_COLUMNS = ("uscc", "name", "name_norm", "org_code", "reg_no", "origin", "created_at", "updated_at")


def ensure_entities(
    conn: Connection, rows: dict[str, dict[str, str | None]], now: datetime
) -> tuple[int, dict[str, tuple[int, str | None]]]:
    """Create the entities for USCCs not yet registered; a concurrent creator of one is tolerated. Returns
    how many were created and each USCC's entity (id, uscc): on PostgreSQL the created ones come back from
    the insert itself, and only the rest (created meanwhile by someone else) are looked up."""
    usccs = list(rows)
    created, returned = merge_columns(
        conn,
        entity,
        {
            "uscc": usccs,
            "name": [r["name"] or uscc for uscc, r in rows.items()],
            "name_norm": [r["name_norm"] or uscc for uscc, r in rows.items()],
            "org_code": [uscc[8:17] for uscc in usccs],
            "reg_no": [r.get("reg_no") for r in rows.values()],
        },
        {"origin": "record", "created_at": now, "updated_at": now},
        ("uscc",),
        returning=("uscc", "id"),
    )
    found = {uscc: (entity_id, uscc) for uscc, entity_id in returned or ()}
    found.update(_lookup(conn, "uscc", (uscc for uscc in usccs if uscc not in found)))
    return created, found


def attach(conn: Connection, rtype: RecordType, table: pa.Table, now: datetime) -> Attachment:
    """Each row's entity, how it was found, and how many entities this batch created.

    Whole columns at a time: one lookup statement per kind of key for the batch's distinct keys, and each
    row's entity is then an Arrow ``index_in`` into what was found; only new entities become Python rows.
    """
    subject = rtype.subject
    n = table.num_rows
    empty = pa.nulls(n, pa.string())

    def column(code: str | None) -> pa.Array:
        return table.column(code).combine_chunks() if code else empty

    names, usccs, reg_nos, org_codes = (
        column(subject.name),
        column(subject.uscc),
        column(subject.reg_no),
        column(subject.org_code),
    )
    names_norm = normalize_names(names) if subject.name else empty
    if subject.kind and subject.natural_person_values:
        persons = pc.fill_null(
            pc.is_in(column(subject.kind), value_set=pa.array(subject.natural_person_values)), False
        )
    else:
        persons = pa.array(np.zeros(n, dtype=bool))
    # A natural person is never an entity, whatever the subject's code field holds: in some record types
    # that one field is a USCC for organisations and an ID number for persons (互联网+监管 行政相对人编码).
    usccs = pc.if_else(persons, pa.scalar(None, pa.string()), usccs)

    # 1. valid USCC (validation has already rejected malformed ones): find or create.
    wanted = _distinct(usccs)
    by_uscc = _lookup(conn, "uscc", wanted)
    missing = pa.array([u for u in wanted if u not in by_uscc], pa.string())
    created = 0
    if len(missing):
        first = pc.index_in(missing, value_set=usccs)  # the first row naming each new USCC describes it
        new = {
            u: {"name": name, "name_norm": norm, "reg_no": reg}
            for u, name, norm, reg in zip(
                missing.to_pylist(),
                names.take(first).to_pylist(),
                names_norm.take(first).to_pylist(),
                reg_nos.take(first).to_pylist(),
                strict=True,
            )
        }
        created, made = ensure_entities(conn, new, now)
        by_uscc.update(made)
    both = pc.and_(pc.is_valid(usccs), pc.is_valid(reg_nos))
    if pc.any(both).as_py():
        _learn_reg_nos(conn, usccs.filter(both).to_pylist(), reg_nos.filter(both).to_pylist(), by_uscc, now)

    if rtype.registry:
        created += _register_facts(
            conn,
            usccs.to_pylist(),
            names.to_pylist(),
            names_norm.to_pylist(),
            reg_nos.to_pylist(),
            org_codes.to_pylist(),
            persons.to_pylist(),
            by_uscc,
            now,
        )

    # 2./3. legacy codes and names, only for rows still without an entity, in this order of preference.
    found = _Found(by_uscc)
    at = found.rows(usccs)
    ids, entity_usccs = found.ids.take(at), found.usccs.take(at)
    method = pc.if_else(pc.is_valid(at), pa.scalar("uscc"), pa.scalar(None, pa.string()))
    method = pc.if_else(persons, pa.scalar("natural_person"), method)
    rest = pc.and_(pc.is_null(usccs), pc.invert(persons))
    fallbacks = (
        ("reg_no", reg_nos, lambda keys: _lookup(conn, "reg_no", keys)),
        ("org_code", org_codes, lambda keys: _lookup(conn, "org_code", keys)),
        ("name", names_norm, lambda keys: _lookup_unique_names(conn, keys)),
    )
    for label, values, lookup in fallbacks:
        waiting = pc.and_(rest, pc.is_null(ids))
        if not pc.any(waiting).as_py():
            break
        keys = pc.if_else(waiting, values, pa.scalar(None, pa.string()))
        hits = _Found(lookup(_distinct(keys)))
        at = hits.rows(keys)
        hit = pc.is_valid(at)
        ids = pc.if_else(hit, hits.ids.take(at), ids)
        entity_usccs = pc.if_else(hit, hits.usccs.take(at), entity_usccs)
        method = pc.if_else(hit, pa.scalar(label), method)
    matched = pc.sum(pc.is_valid(ids)).as_py() or 0
    return Attachment(ids.to_pylist(), entity_usccs.to_pylist(), method.to_pylist(), created, matched)


def _register_facts(
    conn: Connection,
    usccs: list[str | None],
    names: list[str | None],
    names_norm: list[str | None],
    reg_nos: list[str | None],
    org_codes: list[str | None],
    persons: list[bool],
    by_uscc: dict[str, tuple[int, str | None]],
    now: datetime,
) -> int:
    """A registry source (the disclosure system's market entities) is authoritative: its name and legacy
    codes overwrite what records taught us, and an entity known only by a legacy code is registered too,
    so later records naming just that code attach to it. Returns how many entities it created."""
    facts = [
        {
            "eid": by_uscc[u][0],
            "new_name": names[i] or u,
            "new_norm": names_norm[i] or u,
            "new_reg": reg_nos[i],
            "new_org": org_codes[i] or u[8:17],
        }
        for i, u in enumerate(usccs)
        if u
    ]
    if facts:
        conn.execute(
            update(entity)
            .where(entity.c.id == bindparam("eid"))
            .values(
                name=bindparam("new_name"),
                name_norm=bindparam("new_norm"),
                reg_no=func.coalesce(bindparam("new_reg"), entity.c.reg_no),
                org_code=bindparam("new_org"),
                origin="registry",
                updated_at=now,
            ),
            facts,
        )
    legacy = [i for i, u in enumerate(usccs) if not u and not persons[i] and (reg_nos[i] or org_codes[i])]
    known_reg = _lookup(conn, "reg_no", (reg_nos[i] for i in legacy if reg_nos[i]))
    known_org = _lookup(conn, "org_code", (org_codes[i] for i in legacy if org_codes[i]))
    fresh = {}
    for i in legacy:
        if (reg_nos[i] and reg_nos[i] in known_reg) or (org_codes[i] and org_codes[i] in known_org):
            continue
        fresh[reg_nos[i] or org_codes[i]] = (
            None,
            names[i] or "",
            names_norm[i] or "",
            org_codes[i],
            reg_nos[i],
            "registry",
            now,
            now,
        )
    return bulk_insert(conn, entity, ENTITY_COLUMNS, list(fresh.values()))


def _learn_reg_nos(
    conn: Connection,
    usccs: list[str | None],
    reg_nos: list[str | None],
    by_uscc: dict[str, tuple[int, str | None]],
    now: datetime,
) -> None:
    pairs = {u: r for u, r in zip(usccs, reg_nos, strict=True) if u and r and u in by_uscc}
    if not pairs:
        return
    stmt = (
        update(entity)
        .where(entity.c.id == bindparam("eid"), entity.c.reg_no.is_(None))
        .values(reg_no=bindparam("new_reg_no"), updated_at=now)
    )
    conn.execute(stmt, [{"eid": by_uscc[u][0], "new_reg_no": r} for u, r in pairs.items()])
