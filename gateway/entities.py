"""Attach records to market entities: by valid USCC, then legacy registration number or organisation code,
then exact normalised name; what still has no entity goes to the resolution queue.

Lookups are one query per distinct key set per batch, not per row. A record that names a new valid USCC
creates the entity (the registry grows from what departments report); a record carrying both a USCC and a
legacy code teaches the registry that code, so later records naming only the legacy code find the entity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, bindparam, func, select, update

from gateway.schema.model import RecordType
from gateway.store.bulk import bulk_insert
from gateway.store.tables import entity

CHUNK = 500
UNATTACHED_REASON = "无有效统一社会信用代码，且工商注册号、组织机构代码、名称均未匹配到已登记主体"


def normalize_names(values: pa.Array) -> pa.Array:
    """Full-width to half-width, no whitespace, ASCII upper-case.

    So '忻州市 某某（有限）公司' and '忻州市某某(有限)公司' are the same name.
    """
    text = pc.utf8_normalize(values, "NFKC")
    text = pc.replace_substring_regex(text, r"\s+", "")
    return pc.utf8_upper(text)


def normalize_name(value: str) -> str:
    return normalize_names(pa.array([value], pa.string()))[0].as_py() or ""


@dataclass(frozen=True)
class Attachment:
    entity_id: list[int | None]
    entity_uscc: list[str | None]
    method: list[str | None]
    created: int
    matched: int


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _lookup(conn: Connection, column: str, keys: Iterable[str]) -> dict[str, tuple[int, str | None]]:
    wanted = sorted({k for k in keys if k})
    found: dict[str, tuple[int, str | None]] = {}
    col = entity.c[column]
    for chunk in _chunks(wanted):
        for row in conn.execute(select(col, entity.c.id, entity.c.uscc).where(col.in_(chunk))):
            found.setdefault(row[0], (row[1], row[2]))
    return found


def _lookup_unique_names(conn: Connection, names: Iterable[str]) -> dict[str, tuple[int, str | None]]:
    """Only names that identify exactly one entity: two entities called the same are never guessed between."""
    wanted = sorted({n for n in names if n})
    counts: dict[str, list[tuple[int, str | None]]] = {}
    for chunk in _chunks(wanted):
        stmt = select(entity.c.name_norm, entity.c.id, entity.c.uscc).where(entity.c.name_norm.in_(chunk))
        for name, entity_id, uscc in conn.execute(stmt):
            counts.setdefault(name, []).append((entity_id, uscc))
    return {name: hits[0] for name, hits in counts.items() if len(hits) == 1}


ENTITY_COLUMNS = ("uscc", "name", "name_norm", "org_code", "reg_no", "origin", "created_at", "updated_at")


def ensure_entities(conn: Connection, rows: dict[str, dict[str, str | None]], now: datetime) -> int:
    """Create the entities for USCCs not yet registered; a concurrent creator of one is tolerated."""
    return bulk_insert(
        conn,
        entity,
        ENTITY_COLUMNS,
        [
            (uscc, r["name"] or uscc, r["name_norm"] or uscc, uscc[8:17], r.get("reg_no"), "record", now, now)
            for uscc, r in rows.items()
        ],
        ignore_conflicts_on=("uscc",),
    )


def attach(conn: Connection, rtype: RecordType, table: pa.Table, now: datetime) -> Attachment:
    subject = rtype.subject
    n = table.num_rows

    def column(code: str | None) -> list[str | None]:
        return table.column(code).to_pylist() if code else [None] * n

    names = column(subject.name)
    names_norm = normalize_names(table.column(subject.name)).to_pylist() if subject.name else [None] * n
    usccs = column(subject.uscc)
    reg_nos = column(subject.reg_no)
    org_codes = column(subject.org_code)
    if subject.kind and subject.natural_person_values:
        persons = pc.fill_null(
            pc.is_in(table.column(subject.kind), value_set=pa.array(subject.natural_person_values)), False
        ).to_pylist()
    else:
        persons = [False] * n
    # A natural person is never an entity, whatever the subject's code field holds: in some record types
    # that one field is a USCC for organisations and an ID number for persons (互联网+监管 行政相对人编码).
    usccs = [None if person else code for code, person in zip(usccs, persons, strict=True)]

    # 1. valid USCC (validation has already rejected malformed ones): find or create.
    by_uscc = _lookup(conn, "uscc", (u for u in usccs if u))
    new: dict[str, dict[str, str | None]] = {}
    for i, uscc in enumerate(usccs):
        if uscc and uscc not in by_uscc and uscc not in new:
            new[uscc] = {"name": names[i], "name_norm": names_norm[i], "reg_no": reg_nos[i]}
    created = ensure_entities(conn, new, now)
    if new:
        by_uscc.update(_lookup(conn, "uscc", new))
    _learn_reg_nos(conn, usccs, reg_nos, by_uscc, now)

    if rtype.registry:
        created += _register_facts(conn, usccs, names, names_norm, reg_nos, org_codes, persons, by_uscc, now)

    # 2./3. legacy codes and names, only for rows still without an entity.
    rest = [i for i in range(n) if not usccs[i] and not persons[i]]
    by_reg = _lookup(conn, "reg_no", (reg_nos[i] for i in rest if reg_nos[i]))
    by_org = _lookup(conn, "org_code", (org_codes[i] for i in rest if org_codes[i]))
    by_name = _lookup_unique_names(conn, (names_norm[i] for i in rest if names_norm[i]))

    ids: list[int | None] = [None] * n
    found_uscc: list[str | None] = [None] * n
    methods: list[str | None] = [None] * n
    for i in range(n):
        if usccs[i]:
            ids[i], found_uscc[i] = by_uscc[usccs[i]]
            methods[i] = "uscc"
        elif persons[i]:
            methods[i] = "natural_person"
        else:
            for method, table_, key in (
                ("reg_no", by_reg, reg_nos[i]),
                ("org_code", by_org, org_codes[i]),
                ("name", by_name, names_norm[i]),
            ):
                if key and key in table_:
                    ids[i], found_uscc[i] = table_[key]
                    methods[i] = method
                    break
    matched = sum(1 for m in methods if m in {"uscc", "reg_no", "org_code", "name"})
    return Attachment(ids, found_uscc, methods, created, matched)


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
