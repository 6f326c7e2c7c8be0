"""Versioned records by natural key, with the outbox written in the same transaction.

An unchanged re-send (same natural key, same content hash) is a no-op; a changed one is a new version and
an update for the hub; a new key is an insert. Only attached records (or natural persons, who are not market
entities) go to the outbox; the others wait in the resolution queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, DateTime, bindparam, func, literal, select, update

from gateway.entities import UNATTACHED_REASON, Attachment
from gateway.row_errors import RowError
from gateway.schema.model import RecordType
from gateway.store.bulk import bulk_insert
from gateway.store.tables import outbox, record, record_version, resolution_queue
from gateway.validation.rules import condition_mask

CHUNK = 500
ROW = "__row__"
RECORD_COLUMNS = (
    "record_type",
    "natural_key",
    "entity_id",
    "attach_method",
    "subject_name",
    "status",
    "version",
    "content_hash",
    "payload",
    "source_file_id",
    "source_row",
    "created_at",
    "updated_at",
)
VERSION_COLUMNS = (
    "record_id",
    "version",
    "operation",
    "content_hash",
    "payload",
    "entity_uscc",
    "attach_method",
    "source_file_id",
    "source_sha256",
    "source_row",
    "outbound",
    "created_at",
)


@dataclass
class StoreCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    queued: int = 0
    withdrawn: int = 0
    duplicates: list[RowError] = field(default_factory=list)

    def add(self, other: StoreCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.queued += other.queued
        self.withdrawn += other.withdrawn
        self.duplicates.extend(other.duplicates)


def natural_keys(rtype: RecordType, table: pa.Table) -> pa.Array:
    parts = [pc.fill_null(table.column(code), "") for code in rtype.natural_key]
    return pc.binary_join_element_wise(*parts, "|")


def _json_text(values: pa.Array) -> pa.Array:
    """JSON string literals for a text column. Validation has already refused every control character but
    tab, newline and carriage return, so these five escapes give exactly what json.dumps would."""
    text = pc.replace_substring(values, "\\", "\\\\")
    for raw, escaped in (('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = pc.replace_substring(text, raw, escaped)
    return text


def canonical_payloads(rtype: RecordType, table: pa.Table) -> tuple[list[str], list[str]]:
    """Sorted-key compact JSON of the non-null fields, and its sha256: what decides "unchanged".

    Built column by column with Arrow (the same bytes json.dumps(sort_keys=True, ensure_ascii=False,
    separators=(",", ":")) gives; a test holds the two together); only the hashing loops per row.
    """
    # Each present field becomes '"CODE":"value",' and an absent one ''; the trailing comma is cut at the end.
    # (binary_join_element_wise's null_handling="skip" drops all-null rows in pyarrow 26, so it is avoided.)
    pieces = [
        pc.fill_null(pc.binary_join_element_wise(f'"{code}":"', _json_text(table.column(code)), '",', ""), "")
        for code in sorted(rtype.codes)
    ]
    body = pc.binary_join_element_wise(*pieces, "")  # a record type always has fields
    joined = pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 0, -1), "}", "")
    payloads = joined.to_pylist()
    return payloads, [hashlib.sha256(p.encode()).hexdigest() for p in payloads]


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _existing(conn: Connection, rtype: RecordType, keys: Sequence[str]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    cols = (
        record.c.natural_key,
        record.c.id,
        record.c.content_hash,
        record.c.version,
        record.c.status,
        record.c.source_file_id,
        record.c.source_row,
    )
    for chunk in _chunks(sorted(set(keys))):
        stmt = select(*cols).where(record.c.record_type == rtype.name, record.c.natural_key.in_(chunk))
        for row in conn.execute(stmt):
            found[row.natural_key] = row._asdict()
    return found


def _ids(conn: Connection, rtype: RecordType, keys: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(keys):
        stmt = select(record.c.natural_key, record.c.id).where(
            record.c.record_type == rtype.name, record.c.natural_key.in_(chunk)
        )
        found.update({key: rid for key, rid in conn.execute(stmt)})
    return found


def _ever_sent(conn: Connection, record_ids: Sequence[int]) -> set[int]:
    sent: set[int] = set()
    for start in range(0, len(record_ids), CHUNK):
        chunk = record_ids[start : start + CHUNK]
        stmt = (
            select(record_version.c.record_id)
            .distinct()
            .join(outbox, outbox.c.record_version_id == record_version.c.id)
            .where(record_version.c.record_id.in_(chunk))
        )
        sent.update(conn.execute(stmt).scalars())
    return sent


@dataclass(frozen=True)
class _Plan:
    """What one accepted row does to the store."""

    index: int
    prior: dict[str, object] | None  # the stored record, if any
    operation: str  # i | u | d, as the hub will see it
    status: str  # active | unattached | withdrawn


def _classify(
    keys: list[str],
    hashes: list[str],
    rows: list[int],
    withdraws: list[bool],
    attached: list[bool],
    existing: dict[str, dict[str, object]],
    sent: set[int],
    source_file_id: int,
    counts: StoreCounts,
    duplicate: Callable[[int, int], RowError],
) -> list[_Plan]:
    """Decide per row: insert, update, withdraw, re-list or nothing (unchanged); refuse repeats in a file."""
    first_row_of: dict[str, int] = {}
    plans: list[_Plan] = []
    for i, key in enumerate(keys):
        prior = existing.get(key)
        if key in first_row_of or (prior is not None and prior["source_file_id"] == source_file_id):
            first = first_row_of.get(key, prior["source_row"] if prior else rows[i])
            counts.duplicates.append(duplicate(rows[i], int(first)))  # type: ignore[call-overload]
            continue
        first_row_of[key] = rows[i]
        live = "active" if attached[i] else "unattached"
        if prior is None:
            plans.append(_Plan(i, None, "d" if withdraws[i] else "i", "withdrawn" if withdraws[i] else live))
            continue
        was_sent = int(prior["id"]) in sent  # type: ignore[call-overload]
        if withdraws[i]:
            if prior["status"] == "withdrawn":
                counts.unchanged += 1
            else:
                plans.append(_Plan(i, prior, "d", "withdrawn"))
        elif prior["status"] == "withdrawn":
            plans.append(_Plan(i, prior, "u" if was_sent else "i", live))  # listed again
        elif prior["content_hash"] == hashes[i]:
            counts.unchanged += 1
        else:
            plans.append(_Plan(i, prior, "u" if was_sent else "i", live))
    return plans


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
) -> StoreCounts:
    counts = StoreCounts()
    if table.num_rows == 0:
        return counts
    keys = natural_keys(rtype, table).to_pylist()
    rows = table.column(ROW).to_pylist()
    names = table.column(rtype.subject.name).to_pylist()
    payloads, hashes = canonical_payloads(rtype, table)
    withdraws = (
        condition_mask(rtype.withdrawal, table).to_pylist() if rtype.withdrawal else [False] * table.num_rows
    )
    attached = [m is not None for m in attachment.method]
    existing = _existing(conn, rtype, keys)
    sent = _ever_sent(conn, [int(p["id"]) for p in existing.values()])  # type: ignore[call-overload]
    key_field = header_of(rtype.natural_key[-1])
    key_labels = "+".join(rtype.field(c).label for c in rtype.natural_key)

    def duplicate(row: int, first: int) -> RowError:
        return RowError(
            row,
            key_field,
            "E_DUPLICATE_KEY",
            f"与第 {first} 行的「{key_labels}」重复，同一文件中只保留第一次出现",
        )

    plans = _classify(
        keys, hashes, rows, withdraws, attached, existing, sent, source_file_id, counts, duplicate
    )
    new = [p for p in plans if p.prior is None]
    changed = [p for p in plans if p.prior is not None]
    counts.inserted = sum(1 for p in new if p.status != "withdrawn")
    counts.updated = sum(1 for p in changed if p.operation != "d")
    counts.withdrawn = sum(1 for p in plans if p.operation == "d")

    # Inserts: plain executemany (RETURNING with row order would make SQLite insert one row at a time),
    # then the new ids by natural key.
    record_ids: dict[int, int] = {}
    if new:
        bulk_insert(
            conn,
            record,
            RECORD_COLUMNS,
            [
                (
                    rtype.name,
                    keys[p.index],
                    attachment.entity_id[p.index],
                    attachment.method[p.index],
                    names[p.index],
                    p.status,
                    1,
                    hashes[p.index],
                    payloads[p.index],
                    source_file_id,
                    rows[p.index],
                    now,
                    now,
                )
                for p in new
            ],
        )
        ids = _ids(conn, rtype, [keys[p.index] for p in new])
        record_ids.update({p.index: ids[keys[p.index]] for p in new})

    # Updates: bump the version in place; the old content stays in record_version.
    if changed:
        conn.execute(
            update(record)
            .where(record.c.id == bindparam("rid"))
            .values(
                version=bindparam("new_version"),
                content_hash=bindparam("new_hash"),
                payload=bindparam("new_payload"),
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
                    "new_version": int(p.prior["version"]) + 1,  # type: ignore[call-overload,index]
                    "new_hash": hashes[p.index],
                    "new_payload": payloads[p.index],
                    "new_entity": attachment.entity_id[p.index],
                    "new_method": attachment.method[p.index],
                    "new_status": p.status,
                    "new_name": names[p.index],
                    "new_row": rows[p.index],
                }
                for p in changed
            ],
        )
        record_ids.update({p.index: int(p.prior["id"]) for p in changed})  # type: ignore[call-overload,index]
    if not plans:
        return counts

    def outbound(p: _Plan) -> bool:
        """Live attached versions go to the hub; a withdrawal only if the hub has or will have the record."""
        if p.operation == "d":
            return p.prior is not None and int(p.prior["id"]) in sent  # type: ignore[call-overload,index]
        return p.status == "active"

    # Versions in bulk, then their outbox rows by one INSERT … SELECT of the outbound versions this file just
    # wrote (one per record: repeats within a file were refused above).
    before = conn.execute(select(func.coalesce(func.max(record_version.c.id), 0))).scalar_one()
    bulk_insert(
        conn,
        record_version,
        VERSION_COLUMNS,
        [
            (
                record_ids[p.index],
                1 if p.prior is None else int(p.prior["version"]) + 1,  # type: ignore[call-overload]
                p.operation,
                hashes[p.index],
                payloads[p.index],
                attachment.entity_uscc[p.index],
                attachment.method[p.index],
                source_file_id,
                source_sha256,
                rows[p.index],
                outbound(p),
                now,
            )
            for p in plans
        ],
    )
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
    counts.queued = _enqueue(conn, [record_ids[p.index] for p in plans if p.status == "unattached"], now)
    _settle(conn, [record_ids[p.index] for p in plans if p.status == "active"], now)
    return counts


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
