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
from gateway.store.tables import outbox, record, record_version, resolution_queue

CHUNK = 500
ROW = "__row__"


@dataclass
class StoreCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    queued: int = 0
    duplicates: list[RowError] = field(default_factory=list)

    def add(self, other: StoreCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.queued += other.queued
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
    existing = _existing(conn, rtype, keys)
    key_field = header_of(rtype.natural_key[-1])
    key_labels = "+".join(rtype.field(c).label for c in rtype.natural_key)

    first_row_of: dict[str, int] = {}
    new_rows: list[int] = []
    changed: list[tuple[int, dict[str, object]]] = []
    for i, key in enumerate(keys):
        prior = existing.get(key)
        if key in first_row_of or (prior is not None and prior["source_file_id"] == source_file_id):
            first = first_row_of.get(key, prior["source_row"] if prior else rows[i])
            counts.duplicates.append(
                RowError(
                    rows[i],
                    key_field,
                    "E_DUPLICATE_KEY",
                    f"与第 {first} 行的「{key_labels}」重复，同一文件中只保留第一次出现",
                )
            )
            continue
        first_row_of[key] = rows[i]
        if prior is None:
            new_rows.append(i)
        elif prior["content_hash"] == hashes[i]:
            counts.unchanged += 1
        else:
            changed.append((i, prior))

    def status_of(i: int) -> str:
        return "active" if attachment.method[i] is not None else "unattached"

    # Inserts: plain executemany (RETURNING with row order would make SQLite insert one row at a time),
    # then the new ids by natural key.
    inserted_ids: dict[int, int] = {}
    if new_rows:
        conn.execute(
            record.insert(),
            [
                {
                    "record_type": rtype.name,
                    "natural_key": keys[i],
                    "entity_id": attachment.entity_id[i],
                    "attach_method": attachment.method[i],
                    "subject_name": names[i],
                    "status": status_of(i),
                    "version": 1,
                    "content_hash": hashes[i],
                    "payload": payloads[i],
                    "source_file_id": source_file_id,
                    "source_row": rows[i],
                    "created_at": now,
                    "updated_at": now,
                }
                for i in new_rows
            ],
        )
        ids = _ids(conn, rtype, [keys[i] for i in new_rows])
        inserted_ids = {i: ids[keys[i]] for i in new_rows}
    counts.inserted = len(new_rows)

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
                    "rid": prior["id"],
                    "new_version": int(prior["version"]) + 1,  # type: ignore[call-overload]
                    "new_hash": hashes[i],
                    "new_payload": payloads[i],
                    "new_entity": attachment.entity_id[i],
                    "new_method": attachment.method[i],
                    "new_status": status_of(i),
                    "new_name": names[i],
                    "new_row": rows[i],
                }
                for i, prior in changed
            ],
        )
    counts.updated = len(changed)
    sent = _ever_sent(conn, [int(prior["id"]) for _, prior in changed])  # type: ignore[call-overload]

    versions: list[tuple[int, int, int, str]] = []  # (row index, record id, version, op)
    versions += [(i, rid, 1, "i") for i, rid in inserted_ids.items()]
    versions += [
        (i, int(p["id"]), int(p["version"]) + 1, "u" if int(p["id"]) in sent else "i")  # type: ignore[call-overload]
        for i, p in changed
    ]
    if not versions:
        return counts
    # Versions are inserted in bulk, then their outbox rows copied by one INSERT … SELECT: the versions this
    # file just wrote for attached records (one per record: duplicates within a file were refused above).
    before = conn.execute(select(func.coalesce(func.max(record_version.c.id), 0))).scalar_one()
    conn.execute(
        record_version.insert(),
        [
            {
                "record_id": rid,
                "version": version,
                "operation": op,
                "content_hash": hashes[i],
                "payload": payloads[i],
                "entity_uscc": attachment.entity_uscc[i],
                "attach_method": attachment.method[i],
                "source_file_id": source_file_id,
                "source_sha256": source_sha256,
                "source_row": rows[i],
                "created_at": now,
            }
            for i, rid, version, op in versions
        ],
    )
    fresh = (
        select(record_version.c.id, literal(rtype.name), literal(now, DateTime(timezone=True)))
        .join(record, record.c.id == record_version.c.record_id)
        .where(
            record_version.c.id > before,
            record_version.c.source_file_id == source_file_id,
            record.c.status == "active",
        )
        .order_by(record_version.c.id)
    )
    conn.execute(outbox.insert().from_select(["record_version_id", "record_type", "created_at"], fresh))
    waiting = [rid for i, rid, _, _ in versions if status_of(i) == "unattached"]
    counts.queued = _enqueue(conn, waiting, now)
    attached_again = [rid for i, rid, _, _ in versions if status_of(i) == "active"]
    _settle(conn, attached_again, now)
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
