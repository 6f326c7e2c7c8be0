"""What the credit package reads of the store, as Arrow tables: the current content of the records
attached to entities, and which of them a credit repair took out of use.

Every reader here is a SELECT; nothing in gateway.credit writes the store's tables. Record content lives in
the current version's payload (flat JSON of field code → text, gateway.store.records), so fields are taken
out with the database's own JSON function and the rows arrive in chunks that become Arrow columns: the
risk classes and the warnings then compute over columns, never entity by entity in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from sqlalchemy import ColumnElement, Connection, Select, String, cast, func, select, true
from sqlalchemy.dialects.postgresql import JSONB

from gateway.store.tables import CURRENT_VERSION, entity, record, record_version, source_file

FETCH_ROWS = 50_000
IN_USE = ("active", "expired")
"""Record statuses the credit computations read. A record whose publicity period ended is still a fact
about the entity (a penalty of two years ago counts for the internal risk class, published or not); one
its source withdrew or a credit repair took out of use is not."""
_CODE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BASE_COLUMNS = ("entity_id", "record_id", "record_type", "natural_key", "version", "department")


def payload_field(code: str, dialect: str) -> ColumnElement[str]:
    """The text of one field of a record's current payload (NULL where the field is absent)."""
    if not _CODE.match(code):  # field codes are identifiers; anything else is a configuration mistake
        raise ValueError(f"not a field code: {code!r}")
    if dialect == "postgresql":
        return cast(record_version.c.payload, JSONB)[code].astext
    return cast(func.json_extract(record_version.c.payload, f"$.{code}"), String)


def _schema(fields: Sequence[str], origin: bool) -> pa.Schema:
    described = [
        ("record_type", pa.string()),
        ("natural_key", pa.string()),
        ("version", pa.int32()),
        ("department", pa.string()),
    ]
    return pa.schema(
        [
            ("entity_id", pa.int64()),
            ("record_id", pa.int64()),
            *(described if origin else []),
            *((code, pa.string()) for code in fields),
        ]
    )


def records(
    conn: Connection,
    record_types: Iterable[str],
    fields: Sequence[str] = (),
    *,
    entity_ids: Sequence[int] | None = None,
    origin: bool = True,
    statuses: Sequence[str] = IN_USE,
) -> pa.Table:
    """The records of these types in use (IN_USE) that are attached to an entity, with the given payload
    fields.

    ``department`` is where the record came from: the inbox of the department that dropped it, or the
    pulled source. Records their source withdrew, repaired records and records waiting for an entity are
    not included.
    ``origin=False`` leaves out the columns that describe a record (type, key, version, department) and
    keeps entity_id, record_id and the fields: what a computation over millions of records needs.
    ``statuses`` widens the statuses read (repairs look for repaired records too)."""
    types = sorted(set(record_types))
    fields = list(dict.fromkeys(fields))
    dialect = conn.dialect.name
    wanted = (record.c.record_type.in_(types)) & record.c.status.in_(IN_USE) & record.c.entity_id.isnot(None)
    if entity_ids is not None:
        wanted = wanted & record.c.entity_id.in_(list(entity_ids))
    stmt = (
        select(
            record.c.entity_id,
            record.c.id,
            *(
                (record.c.record_type, record.c.natural_key, record.c.version, source_file.c.source_id)
                if origin
                else ()
            ),
            *(payload_field(code, dialect).label(code) for code in fields),
        )
        .where(wanted if types else ~true())
        .order_by(record.c.entity_id, record.c.id)
    )
    joined = record.join(record_version, CURRENT_VERSION) if fields else record
    if origin:
        joined = joined.join(source_file, source_file.c.id == record.c.source_file_id)
    stmt = stmt.select_from(joined)
    return read_arrow(conn, stmt, _schema(fields, origin))


def read_arrow(conn: Connection, stmt: Select[Any], schema: pa.Schema) -> pa.Table:
    """The rows of ``stmt`` as an Arrow table of ``schema``, fetched a chunk at a time into record batches:
    the rows of a million-record result never sit in memory as Python tuples at once. psycopg's default
    cursor transfers the whole result to the client at execute, so on PostgreSQL a server-side cursor
    (stream_results) hands them over FETCH_ROWS at a time; SQLite steps through its result lazily anyway."""
    if conn.dialect.name == "postgresql":
        stmt = stmt.execution_options(stream_results=True, yield_per=FETCH_ROWS)
    result = conn.execute(stmt)
    batches = []
    while chunk := result.fetchmany(FETCH_ROWS):
        columns = list(zip(*chunk, strict=True))
        batches.append(
            pa.record_batch(
                [pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
        )
    return pa.Table.from_batches(batches, schema=schema)


def entities(conn: Connection) -> pa.Table:
    """Every entity with its USCC (NULL for one known only by a legacy code) and name."""
    stmt = select(entity.c.id, entity.c.uscc, entity.c.name).order_by(entity.c.id)
    schema = pa.schema([("entity_id", pa.int64()), ("uscc", pa.string()), ("name", pa.string())])
    return read_arrow(conn, stmt, schema)


# ------------------------------------------------------------------------------------------------ repairs
@dataclass(frozen=True)
class RepairRule:
    names: tuple[str, ...]  # what a repair's repaired_type may say
    record_type: str
    key_field: str
    refused: tuple[str, ...] = ()  # a repair_result containing one of these was a refusal


def load_repair_rules(path: Path) -> list[RepairRule]:
    """config/repairs.yaml: which record a repair names (docs/credit.md, "Repairs")."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    refused = tuple(str(text) for text in data.get("refused_results_contain") or ())
    rules = []
    for n, item in enumerate(data.get("repairs") or [], 1):
        try:
            rules.append(RepairRule(tuple(item["names"]), item["record_type"], item["key_field"], refused))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: repairs[{n}] needs names, record_type and key_field ({exc})") from exc
    return rules


def repaired(conn: Connection, rules: Sequence[RepairRule]) -> pa.Table:
    """The records in use an effective credit repair names: record_id and the repair's record_id and
    repair_date.

    A repair whose result says it was refused (``refused_results_contain``) repairs nothing. Matched in
    Arrow: the repairs (few) against the key field of the named type's records of the same entity.
    """
    return _matched(conn, rules, _effective_repairs(conn, rules), IN_USE)


def repair_targets(conn: Connection, rules: Sequence[RepairRule]) -> tuple[pa.Table, pa.Table]:
    """What applying repairs needs, read once: the records an effective repair names, in use *or* repaired
    already (record_id, repair_record_id, repair_date), and the effective repairs that name no stored record
    at all — the record has not arrived (yet), or the decision names it differently from its source; reported,
    never dropped (record_id, entity_id, repaired_type, repaired_key)."""
    effective = _effective_repairs(conn, rules)
    named = _matched(conn, rules, effective, (*IN_USE, "repaired"))
    left = effective.filter(pc.invert(pc.is_in(effective["record_id"], named["repair_record_id"])))
    return named, left.select(["record_id", "entity_id", "repaired_type", "repaired_key"])


def _effective_repairs(conn: Connection, rules: Sequence[RepairRule]) -> pa.Table:
    repairs = records(
        conn, ["credit_repair"], ["repaired_type", "repaired_key", "repair_date", "repair_result"]
    )
    result = pc.fill_null(repairs["repair_result"], "")
    for text in {text for rule in rules for text in rule.refused}:
        repairs = repairs.filter(pc.invert(pc.match_substring(result, text)))
        result = pc.fill_null(repairs["repair_result"], "")
    return repairs


def _matched(
    conn: Connection, rules: Sequence[RepairRule], repairs: pa.Table, statuses: Sequence[str]
) -> pa.Table:
    found = []
    for rule in rules:
        mine = repairs.filter(pc.is_in(repairs["repaired_type"], pa.array(rule.names, pa.string())))
        if mine.num_rows == 0:
            continue
        targets = records(conn, [rule.record_type], [rule.key_field], statuses=statuses)
        left = targets.select(["entity_id", "record_id", rule.key_field]).rename_columns(
            ["entity_id", "record_id", "key"]
        )
        right = mine.select(["entity_id", "record_id", "repaired_key", "repair_date"]).rename_columns(
            ["entity_id", "repair_record_id", "key", "repair_date"]
        )
        found.append(
            left.join(right, ["entity_id", "key"], join_type="inner").select(
                ["record_id", "repair_record_id", "repair_date"]
            )
        )
    if not found:
        return pa.table(
            {
                "record_id": pa.array([], pa.int64()),
                "repair_record_id": pa.array([], pa.int64()),
                "repair_date": pa.array([], pa.string()),
            }
        )
    return pa.concat_tables(found)


def without(table: pa.Table, record_ids: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``table`` less the rows whose record_id is in ``record_ids``."""
    if len(record_ids) == 0:
        return table
    return table.filter(pc.invert(pc.is_in(table["record_id"], record_ids)))


__all__ = [
    "BASE_COLUMNS",
    "IN_USE",
    "RepairRule",
    "changes",
    "entities",
    "load_repair_rules",
    "payload_field",
    "read_arrow",
    "records",
    "repair_targets",
    "repaired",
    "without",
]


def changes(conn: Connection, record_type: str, since: datetime, until: datetime) -> pa.Table:
    """Updates (versions after the first) of attached active records of a type stored in [since, until): how
    often an entity's registration facts changed, for instance."""
    stmt = (
        select(record.c.entity_id, record.c.id, record_version.c.version)
        .join(record_version, record_version.c.record_id == record.c.id)
        .where(
            (record.c.record_type == record_type)
            & record.c.status.in_(IN_USE)
            & record.c.entity_id.isnot(None)
            & (record_version.c.version > 1)
            & (record_version.c.created_at >= since)
            & (record_version.c.created_at < until)
        )
        .order_by(record.c.entity_id, record.c.id, record_version.c.version)
    )
    schema = pa.schema([("entity_id", pa.int64()), ("record_id", pa.int64()), ("version", pa.int32())])
    return read_arrow(conn, stmt, schema)
