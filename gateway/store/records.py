"""Versioned records by natural key, with the outbox written in the same transaction.

An unchanged re-send (same natural key, same content hash) is a no-op; a changed one is a new version and
an update for the hub; a new key is an insert. Only attached records (or natural persons, who are not market
entities) go to the outbox; the others wait in the resolution queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from itertools import pairwise
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, DateTime, bindparam, func, literal, select, update

from gateway.arrow_bytes import JSON_ESCAPED, may_hold, offsets_and_data
from gateway.row_errors import RowError
from gateway.schema.conditions import condition_mask
from gateway.schema.model import RecordType
from gateway.store.bulk import fetch_all, in_condition, insert_columns, reserved_ids, select_matching
from gateway.store.references import checked_set_wise, verify
from gateway.store.tables import (
    GATEWAY_WITHDRAWN,
    entity,
    outbox,
    record,
    record_hold,
    record_version,
    resolution_queue,
    source_file,
)

CHUNK = 500
ROW = "__row__"
PAYLOAD_SLICE = 8192
T = TypeVar("T")
PRIOR_COLUMNS = ("natural_key", "id", "content_hash", "version", "status", "source_file_id", "source_row")
UNATTACHED_REASON = "无有效统一社会信用代码，且工商注册号、组织机构代码、名称均未匹配到已登记主体"
"""Why a record waits in the resolution queue, as the queue stores it."""


@dataclass(frozen=True)
class Attachment:
    """Each row's market entity and how it was found (None: no entity, the record waits), as
    gateway.entities.attach finds them and the store records them; and how many entities the batch created
    and matched."""

    entity_id: list[int | None]
    entity_uscc: list[str | None]
    method: list[str | None]
    created: int
    matched: int


@dataclass
class StoreCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    queued: int = 0
    withdrawn: int = 0
    duplicates: list[RowError] = field(default_factory=list)
    superseded: int = 0  # a replay's rows whose records a later unit changed since (counted as unchanged too)
    # changed rows of records the gateway withdrew (publicity ended, repaired): stored, not sent (in updated)
    kept_out: int = 0
    held: int = 0  # changed rows of records an objection holds: stored, sent once the hold ends (in updated)

    def add(self, other: StoreCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.queued += other.queued
        self.withdrawn += other.withdrawn
        self.duplicates.extend(other.duplicates)
        self.superseded += other.superseded
        self.kept_out += other.kept_out
        self.held += other.held


def natural_keys(rtype: RecordType, table: pa.Table) -> pa.Array:
    parts = [pc.fill_null(table.column(code), "") for code in rtype.natural_key]
    return pc.binary_join_element_wise(*parts, "|")


_ESCAPED = r'[\\"\n\r\t]'


def _json_text(values: pa.Array) -> pa.Array:
    """JSON string literals for a text column. Validation has already refused every control character but
    tab, newline and carriage return, so these five escapes give exactly what json.dumps would. Most columns
    hold none of them; those are checked in one pass instead of rewritten in five."""
    if not may_hold(values, JSON_ESCAPED) or not pc.any(pc.match_substring_regex(values, _ESCAPED)).as_py():
        return values
    text = pc.replace_substring(values, "\\", "\\\\")
    for raw, escaped in (('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = pc.replace_substring(text, raw, escaped)
    return text


def canonical_payloads(rtype: RecordType, table: pa.Table) -> tuple[list[str], list[str]]:
    """Sorted-key compact JSON of the non-null fields, and its sha256: what decides "unchanged".

    Built column by column with Arrow (the same bytes json.dumps(sort_keys=True, ensure_ascii=False,
    separators=(",", ":")) gives; a test holds the two together); only the hashing loops per row.
    """
    payloads = canonical_payload_array(rtype, table)
    return payloads.to_pylist(), sha256_hex(payloads).to_pylist()


def canonical_payload_array(rtype: RecordType, table: pa.Table) -> pa.Array:
    """canonical_payloads' JSON texts as one Arrow array. A slice of rows at a time, because each field's
    piece is a copy of its column: a whole batch's pieces at once took more memory than everything else in
    the batch together."""
    slices = [
        _payload_slice(rtype, table.slice(start, PAYLOAD_SLICE))
        for start in range(0, table.num_rows, PAYLOAD_SLICE)
    ]
    if not slices:
        return pa.array([], pa.string())
    return pa.chunked_array(slices, pa.string()).combine_chunks()  # a chunked table gives chunked slices


def sha256_hex(texts: pa.Array) -> pa.Array:
    """The sha256 of each value's UTF-8 bytes, in hex. Hashed straight from the array's data buffer: no
    Python string is made (and encoded back) per value."""
    offsets, buffer = offsets_and_data(texts)
    data = memoryview(buffer or b"")
    sha256 = hashlib.sha256
    return pa.array([sha256(data[a:b]).hexdigest() for a, b in pairwise(offsets.tolist())], pa.string())


def _payload_slice(rtype: RecordType, table: pa.Table) -> pa.Array:
    # Each present field becomes '"CODE":"value",' and an absent one ''; the trailing comma is cut at the end.
    # (binary_join_element_wise's null_handling="skip" drops all-null rows in pyarrow 26, so it is avoided.)
    pieces = [
        pc.fill_null(pc.binary_join_element_wise(f'"{code}":"', _json_text(column), '",', ""), "")
        for code in sorted(rtype.codes)
        if (column := table.column(code)).null_count < len(column)
    ]
    if not pieces:
        return pa.array(["{}"] * table.num_rows, pa.string())
    body = pc.binary_join_element_wise(*pieces, "")
    return pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 0, -1), "}", "")


def _existing(conn: Connection, rtype: RecordType, keys: Sequence[str]) -> dict[str, dict[str, object]]:
    rows = select_matching(
        conn, record, PRIOR_COLUMNS, "natural_key", keys, equal={"record_type": rtype.name}
    )
    return {row[0]: dict(zip(PRIOR_COLUMNS, row, strict=True)) for row in rows}


def ever_sent(conn: Connection, record_ids: Sequence[int]) -> set[int]:
    """Of ``record_ids``, the records the hub has or will have: some version of theirs reached the outbox."""
    if not record_ids:
        return set()
    condition, value = in_condition(conn, "v.record_id", record_ids)
    statement = (
        f"SELECT DISTINCT v.record_id FROM record_version v JOIN outbox o ON o.record_version_id = v.id "
        f"WHERE {condition}"
    )
    return {row[0] for row in fetch_all(conn, statement, (value,))}


def _superseded(
    conn: Connection, existing: dict[str, dict[str, object]], keys: Sequence[str], replay_of: int
) -> set[str]:
    """Of ``keys``, those whose stored content came from a unit taken after ``replay_of`` (or from a replay
    of one): a replay does not put older data back over newer. Units are ordered by their ids, the order the
    store took them in; a replay stands for the unit it replayed (source_file.replay_of)."""
    file_ids = sorted({int(existing[key]["source_file_id"]) for key in keys})  # type: ignore[call-overload]
    newer: set[int] = set()
    for start in range(0, len(file_ids), CHUNK):
        origin = func.coalesce(source_file.c.replay_of, source_file.c.id)
        newer.update(
            conn.execute(
                select(source_file.c.id).where(
                    source_file.c.id.in_(file_ids[start : start + CHUNK]), origin > replay_of
                )
            ).scalars()
        )
    return {key for key in keys if existing[key]["source_file_id"] in newer}


@dataclass(frozen=True)
class _Plan:
    """What one accepted row whose key is already stored does to it."""

    index: int
    prior: dict[str, object]  # the stored record
    operation: str  # u | d | i (i: the hub never had the record), as the hub will see it
    status: str  # active | unattached | withdrawn


@dataclass(frozen=True)
class Prepared:
    """One batch's accepted rows as the store needs them, aligned with the table's rows: natural key, row
    number, subject name, canonical payload, its hash and whether the row withdraws its record.

    Computing this needs no database, so ingest builds it ahead, on another core, while the previous batch
    is being written (gateway.processing). It is held as Arrow columns, which cross to another process as
    their buffers (gateway.read_process); the Python lists the database driver binds are made from them
    on first use, on whichever side uses them (``materialize`` makes them where it is called)."""

    columns: pa.RecordBatch

    def __reduce__(self) -> tuple[type[Prepared], tuple[pa.RecordBatch]]:
        return Prepared, (self.columns,)  # the Arrow columns only, not the lists made from them

    @property
    def key_array(self) -> pa.Array:
        return self.columns.column("key")

    @cached_property
    def keys(self) -> list[str]:
        return self.key_array.to_pylist()

    @cached_property
    def rows(self) -> list[int]:
        return self.columns.column("row").to_pylist()

    @cached_property
    def names(self) -> list[str | None]:
        return self.columns.column("name").to_pylist()

    @cached_property
    def payloads(self) -> list[str]:
        return self.columns.column("payload").to_pylist()

    @cached_property
    def hashes(self) -> list[str]:
        return self.columns.column("hash").to_pylist()

    @cached_property
    def withdraws(self) -> list[bool]:
        return self.columns.column("withdraw").to_pylist()

    def materialize(self) -> Prepared:
        """Make every list now (a reading thread does, so the storing thread does not)."""
        for name in ("keys", "rows", "names", "payloads", "hashes", "withdraws"):
            getattr(self, name)
        return self


def prepare(rtype: RecordType, table: pa.Table) -> Prepared:
    payloads = canonical_payload_array(rtype, table)
    withdraws = (
        condition_mask(rtype.withdrawal, table)
        if rtype.withdrawal
        else pa.array(np.zeros(table.num_rows, dtype=bool))
    )
    names = table.column(rtype.subject.name)
    columns = {
        "key": natural_keys(rtype, table).combine_chunks(),
        "row": table.column(ROW).combine_chunks(),
        "name": names.combine_chunks() if isinstance(names, pa.ChunkedArray) else names,
        "payload": payloads,
        "hash": sha256_hex(payloads),
        "withdraw": withdraws.combine_chunks() if isinstance(withdraws, pa.ChunkedArray) else withdraws,
    }
    return Prepared(pa.RecordBatch.from_pydict(columns))


def _classify(
    batch: Prepared,
    attachment: Attachment,
    known: Sequence[int],
    existing: dict[str, dict[str, object]],
    sent: set[int],
    counts: StoreCounts,
) -> list[_Plan]:
    """Decide for the rows whose key is stored already: update, withdraw, re-list or nothing (unchanged)."""
    plans: list[_Plan] = []
    for i in known:
        prior = existing[batch.keys[i]]
        live = "active" if attachment.method[i] is not None else "unattached"
        was_sent = int(prior["id"]) in sent  # type: ignore[call-overload]
        if prior["status"] in GATEWAY_WITHDRAWN:
            # The gateway took it out (publicity ended, repaired): the source sending it again does not put
            # it back. Changed content is kept as a version the hub is not sent, and the receipt says so.
            if batch.withdraws[i] or prior["content_hash"] == batch.hashes[i]:
                counts.unchanged += 1
            else:
                plans.append(_Plan(i, prior, "u", str(prior["status"])))
                counts.kept_out += 1
        elif batch.withdraws[i]:
            if prior["status"] == "withdrawn":
                counts.unchanged += 1
            else:
                plans.append(_Plan(i, prior, "d", "withdrawn"))
        elif prior["status"] == "withdrawn":
            plans.append(_Plan(i, prior, "u" if was_sent else "i", live))  # listed again
        elif prior["content_hash"] == batch.hashes[i]:
            counts.unchanged += 1
        else:
            plans.append(_Plan(i, prior, "u" if was_sent else "i", live))
    return plans


def _split(
    keys: pa.Array, existing: dict[str, dict[str, object]], source_file_id: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row positions that are new keys, stored keys, and repeats, with the position each repeat repeats.

    The first row of a key in a file counts; a later one is a repeat, also across batches of one large file
    (the stored record then came from this very file). ``first[i]`` is -1 for a key stored by an earlier
    batch of this file, whose row is in ``existing``.
    """
    n = len(keys)
    first = pc.index_in(keys, value_set=keys).to_numpy(zero_copy_only=False)
    repeat = first != np.arange(n)
    stored = np.zeros(n, dtype=bool)
    if existing:
        stored = pc.is_in(keys, value_set=pa.array(list(existing), pa.string())).to_numpy(
            zero_copy_only=False
        )
        ours = [k for k, prior in existing.items() if prior["source_file_id"] == source_file_id]
        if ours:
            again = pc.is_in(keys, value_set=pa.array(ours, pa.string())).to_numpy(zero_copy_only=False)
            first = np.where(again, -1, first)
            repeat |= again
    return (
        np.flatnonzero(~repeat & ~stored),
        np.flatnonzero(~repeat & stored),
        np.flatnonzero(repeat),
        first,
    )


def store_batch(
    conn: Connection,
    rtype: RecordType,
    table: pa.Table,
    attachment: Attachment,
    *,
    source_file_id: int,
    source_sha256: str,
    now: datetime,
    header_of: Callable[[str], str],
    prepared: Prepared | None = None,
    replay_of: int | None = None,
) -> StoreCounts:
    """Store one batch of accepted rows; returns what happened to them. ``prepared``: prepare(rtype, table),
    when the caller computed it already. ``replay_of``: the rows are a replay of that unit (gateway.replay),
    and records a later unit changed since are left as they are (``superseded``).

    New keys (all of them, on a first load) take the bulk path: their records, then their versions, each in
    one bulk insert (executemany on SQLite, COPY on PostgreSQL), their outbox rows by INSERT … SELECT from
    the versions just written, so no row of theirs makes a round trip of its own. Rows whose key is stored
    already are decided one by one (_classify), which a re-sent file needs and a first load does not.
    """
    counts = StoreCounts()
    if table.num_rows == 0:
        return counts
    batch = prepared if prepared is not None else prepare(rtype, table)
    existing = _existing(conn, rtype, batch.keys)
    fresh, known, repeats, first = _split(batch.key_array, existing, source_file_id)
    if replay_of is not None and len(known):
        newer = _superseded(conn, existing, [batch.keys[i] for i in known], replay_of)
        if newer:
            later = np.array([batch.keys[i] in newer for i in known], dtype=bool)
            counts.superseded = int(later.sum())
            counts.unchanged += counts.superseded
            known = known[~later]

    key_field = header_of(rtype.natural_key[-1])
    key_labels = "+".join(rtype.field(c).label for c in rtype.natural_key)
    for i in repeats:
        earlier = existing[batch.keys[i]]["source_row"] if first[i] < 0 else batch.rows[first[i]]
        counts.duplicates.append(
            RowError(
                batch.rows[i],
                key_field,
                "E_DUPLICATE_KEY",
                f"与第 {earlier} 行的「{key_labels}」重复，同一文件中只保留第一次出现",
            )
        )

    sent = ever_sent(conn, [int(existing[batch.keys[i]]["id"]) for i in known])  # type: ignore[call-overload]
    plans = _classify(batch, attachment, known, existing, sent, counts)
    _insert_fresh(
        conn,
        rtype,
        batch,
        attachment,
        fresh,
        counts,
        source_file_id=source_file_id,
        source_sha256=source_sha256,
        now=now,
    )
    _apply_known(
        conn,
        rtype,
        batch,
        attachment,
        plans,
        sent,
        counts,
        source_file_id=source_file_id,
        source_sha256=source_sha256,
        now=now,
    )
    return counts


def _insert_fresh(
    conn: Connection,
    rtype: RecordType,
    batch: Prepared,
    attachment: Attachment,
    fresh: np.ndarray,
    counts: StoreCounts,
    *,
    source_file_id: int,
    source_sha256: str,
    now: datetime,
) -> None:
    """Records for keys never stored: one bulk insert for the records, one for their first versions."""
    if not len(fresh):
        return
    at = fresh.tolist()

    def pick(values: list[T]) -> list[T]:
        return values if len(at) == len(values) else [values[i] for i in at]  # a first load: every row

    withdrawn = pick(batch.withdraws)
    methods = pick(attachment.method)
    hashes, rows = pick(batch.hashes), pick(batch.rows)
    statuses = [
        "withdrawn" if gone else ("active" if method is not None else "unattached")
        for gone, method in zip(withdrawn, methods, strict=True)
    ]
    counts.withdrawn += sum(withdrawn)
    counts.inserted += len(at) - sum(withdrawn)
    counts.queued += statuses.count("unattached")
    with checked_set_wise(conn) as set_wise:
        ids = _write_fresh(
            conn,
            rtype,
            batch,
            pick,
            statuses,
            methods,
            hashes,
            rows,
            withdrawn,
            attachment,
            source_file_id=source_file_id,
            source_sha256=source_sha256,
            now=now,
        )
    if set_wise:  # the keys PostgreSQL did not check row by row (gateway.store.references)
        verify(conn, entity, pick(attachment.entity_id), column="record.entity_id")
        verify(conn, source_file, [source_file_id], column="record_version.source_file_id")
    waiting = [rid for rid, status in zip(ids, statuses, strict=True) if status == "unattached"]
    if waiting:
        insert_columns(
            conn,
            resolution_queue,
            {"record_id": waiting},
            {"reason": UNATTACHED_REASON, "created_at": now},
        )


def _write_fresh(
    conn: Connection,
    rtype: RecordType,
    batch: Prepared,
    pick: Callable[[list[T]], list[T]],
    statuses: list[str],
    methods: list[str | None],
    hashes: list[str],
    rows: list[int],
    withdrawn: list[bool],
    attachment: Attachment,
    *,
    source_file_id: int,
    source_sha256: str,
    now: datetime,
) -> list[int]:
    """The fresh keys' records, first versions and outbox rows; returns the records' ids."""
    at_count = len(statuses)
    reserved = reserved_ids(conn, record, at_count)  # PostgreSQL; SQLite reads the ids back below
    before = 0 if reserved else conn.execute(select(func.coalesce(func.max(record.c.id), 0))).scalar_one()
    insert_columns(
        conn,
        record,
        {
            **({"id": reserved} if reserved else {}),
            "natural_key": pick(batch.keys),
            "entity_id": pick(attachment.entity_id),
            "attach_method": methods,
            "subject_name": pick(batch.names),
            "status": statuses,
            "content_hash": hashes,
            "source_row": rows,
        },
        {
            "record_type": rtype.name,
            "version": 1,
            "source_file_id": source_file_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    ids = reserved or _ids_since(conn, before, source_file_id)
    if len(ids) != at_count:
        raise RuntimeError(f"wrote {at_count} records for file {source_file_id} but found {len(ids)}")
    # A new record's first version: withdrawn already (d) or inserted (i); only a live attached one is sent,
    # since the hub never had the others. The payload is written here only (record holds none).
    version_ids = reserved_ids(conn, record_version, at_count)
    version_before = 0 if version_ids else _max_version_id(conn)
    insert_columns(
        conn,
        record_version,
        {
            **({"id": version_ids} if version_ids else {}),
            "record_id": ids,
            "operation": ["d" if gone else "i" for gone in withdrawn],
            "content_hash": hashes,
            "payload": pick(batch.payloads),
            "entity_uscc": pick(attachment.entity_uscc),
            "attach_method": methods,
            "source_row": rows,
            "outbound": [status == "active" for status in statuses],
        },
        {"version": 1, "source_file_id": source_file_id, "source_sha256": source_sha256, "created_at": now},
    )
    _outbox(conn, rtype, version_before, source_file_id, now, version_ids, [s == "active" for s in statuses])
    return ids


def _ids_since(conn: Connection, before: int, source_file_id: int) -> list[int]:
    """The ids of the records this file inserted after ``before``, in insertion order.

    Neither sqlite3's executemany nor COPY returns ids. Ids only grow, and while this transaction writes no
    other one can add records of this file, so these are exactly the rows just inserted, in their order."""
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = f"SELECT id FROM record WHERE id > {marker} AND source_file_id = {marker} ORDER BY id"
    return [row[0] for row in fetch_all(conn, statement, (before, source_file_id))]


def _max_version_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(record_version.c.id), 0))).scalar_one())


def _outbox(
    conn: Connection,
    rtype: RecordType,
    before: int,
    source_file_id: int,
    now: datetime,
    version_ids: Sequence[int] | None = None,
    outbound: Sequence[bool] = (),
) -> None:
    """Outbox rows for the outbound versions this file just wrote (one per record: repeats were refused):
    those of ``version_ids`` marked ``outbound`` when the ids are known (bulk.reserved_ids), else read
    back from the versions written after ``before``."""
    if version_ids is not None:
        sent = [vid for vid, out in zip(version_ids, outbound, strict=True) if out]
        insert_columns(
            conn, outbox, {"record_version_id": sent}, {"record_type": rtype.name, "created_at": now}
        )
        return
    fresh = (
        select(record_version.c.id, literal(rtype.name), literal(now, DateTime(timezone=True)))
        .where(
            record_version.c.id > before,
            record_version.c.source_file_id == source_file_id,
            record_version.c.outbound.is_(True),
        )
        .order_by(record_version.c.id)
    )
    conn.execute(outbox.insert().from_select(["record_version_id", "record_type", "created_at"], fresh))


def _apply_known(
    conn: Connection,
    rtype: RecordType,
    batch: Prepared,
    attachment: Attachment,
    plans: list[_Plan],
    sent: set[int],
    counts: StoreCounts,
    *,
    source_file_id: int,
    source_sha256: str,
    now: datetime,
) -> None:
    """Stored records that change: bump the version in place (the old content stays in record_version)."""
    if not plans:
        return
    counts.updated += sum(1 for p in plans if p.operation != "d")
    counts.withdrawn += sum(1 for p in plans if p.operation == "d")
    conn.execute(
        update(record)
        .where(record.c.id == bindparam("rid"))
        .values(
            version=bindparam("new_version"),
            content_hash=bindparam("new_hash"),
            entity_id=bindparam("new_entity"),
            attach_method=bindparam("new_method"),
            status=bindparam("new_status"),
            subject_name=bindparam("new_name"),
            source_file_id=source_file_id,
            source_row=bindparam("new_row"),
            updated_at=now,
        ),
        [
            {
                "rid": p.prior["id"],
                "new_version": int(p.prior["version"]) + 1,  # type: ignore[call-overload]
                "new_hash": batch.hashes[p.index],
                "new_entity": attachment.entity_id[p.index],
                "new_method": attachment.method[p.index],
                "new_status": p.status,
                "new_name": batch.names[p.index],
                "new_row": batch.rows[p.index],
            }
            for p in plans
        ],
    )

    def outbound(p: _Plan) -> bool:
        """Live attached versions go to the hub; a withdrawal only if the hub has or will have the record."""
        if p.operation == "d":
            return int(p.prior["id"]) in sent  # type: ignore[call-overload]
        return p.status == "active"  # not unattached, nor withdrawn by the gateway (GATEWAY_WITHDRAWN)

    version_ids = reserved_ids(conn, record_version, len(plans))
    version_before = 0 if version_ids else _max_version_id(conn)
    insert_columns(
        conn,
        record_version,
        {
            **({"id": version_ids} if version_ids else {}),
            "record_id": [int(p.prior["id"]) for p in plans],  # type: ignore[call-overload]
            "version": [int(p.prior["version"]) + 1 for p in plans],  # type: ignore[call-overload]
            "operation": [p.operation for p in plans],
            "content_hash": [batch.hashes[p.index] for p in plans],
            "payload": [batch.payloads[p.index] for p in plans],
            "entity_uscc": [attachment.entity_uscc[p.index] for p in plans],
            "attach_method": [attachment.method[p.index] for p in plans],
            "source_row": [batch.rows[p.index] for p in plans],
            "outbound": [outbound(p) for p in plans],
        },
        {"source_file_id": source_file_id, "source_sha256": source_sha256, "created_at": now},
    )
    _outbox(conn, rtype, version_before, source_file_id, now, version_ids, [outbound(p) for p in plans])
    ids = [int(p.prior["id"]) for p in plans]  # type: ignore[call-overload]
    counts.queued += _enqueue(
        conn, [rid for rid, p in zip(ids, plans, strict=True) if p.status == "unattached"], now
    )
    _settle(conn, [rid for rid, p in zip(ids, plans, strict=True) if p.status == "active"], now)
    counts.held += _held(conn, ids)


def _held(conn: Connection, record_ids: Sequence[int]) -> int:
    """How many of these records an objection holds (their new versions wait in the outbox)."""
    held = 0
    for start in range(0, len(record_ids), CHUNK):
        chunk = record_ids[start : start + CHUNK]
        held += conn.execute(
            select(func.count()).select_from(record_hold).where(record_hold.c.record_id.in_(chunk))
        ).scalar_one()
    return held


def _enqueue(conn: Connection, record_ids: Sequence[int], now: datetime) -> int:
    if not record_ids:
        return 0
    already = set()
    for start in range(0, len(record_ids), CHUNK):
        chunk = record_ids[start : start + CHUNK]
        already.update(
            conn.execute(
                select(resolution_queue.c.record_id).where(resolution_queue.c.record_id.in_(chunk))
            ).scalars()
        )
    fresh = [rid for rid in record_ids if rid not in already]
    if fresh:
        conn.execute(
            resolution_queue.insert(),
            [{"record_id": rid, "reason": UNATTACHED_REASON, "created_at": now} for rid in fresh],
        )
    if already:
        conn.execute(
            update(resolution_queue)
            .where(resolution_queue.c.record_id.in_(list(already)))
            .values(resolved_at=None, resolved_entity_id=None, resolved_by=None)
        )
    return len(record_ids)


def _settle(conn: Connection, record_ids: Sequence[int], now: datetime) -> None:
    """A record that was waiting and now arrives attachable leaves the queue on its own."""
    for start in range(0, len(record_ids), CHUNK):
        chunk = record_ids[start : start + CHUNK]
        conn.execute(
            update(resolution_queue)
            .where(resolution_queue.c.record_id.in_(chunk), resolution_queue.c.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by="resend")
        )
