"""Withdrawals the gateway decides itself: a record whose publicity period ended, or that a credit repair
took out of use, leaves the hub as a version with operation d and the reason, exactly as a source's own
withdrawal would (gateway.store.records), but with the record's current content and lineage.

The caller's transaction holds the whole step: the record's new status and version, the version row with
its reason, the outbox row and an audit row commit together, so a crash withdraws everything or nothing and
a rerun finds only the records still active. A record the hub never had (nothing of it ever reached the
outbox) gets its version but no outbox row: there is nothing at the hub to withdraw.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, DateTime, literal, select, update

from gateway.store.bulk import insert_columns
from gateway.store.records import CHUNK, ever_sent
from gateway.store.tables import GATEWAY_WITHDRAWN, audit, outbox, record, record_version

REASONS = {"expired": "publicity_expired", "repaired": "credit_repaired"}
"""The record status a gateway withdrawal leaves, and the reason its version and the hub carry."""


@dataclass(frozen=True)
class Withdrawn:
    record_id: int
    record_type: str
    version: int  # the withdrawal's version
    sent: bool  # an outbox row was written: the hub has (or will have) the record and is told


def withdraw(
    conn: Connection,
    record_ids: Sequence[int],
    *,
    status: str,
    actor: str,
    now: datetime,
    details: Mapping[int, Mapping[str, object]] | None = None,
) -> list[Withdrawn]:
    """Withdraw those of ``record_ids`` that are still active; returns what was withdrawn.

    ``status`` is expired or repaired (GATEWAY_WITHDRAWN); ``details`` adds, per record, what the audit row
    should say (the publicity end, the repair that decided). Records no longer active — withdrawn by their
    source, already expired or repaired, waiting for an entity — are left as they are."""
    if status not in GATEWAY_WITHDRAWN:
        allowed = " or ".join(GATEWAY_WITHDRAWN)
        raise ValueError(f"a gateway withdrawal leaves a record {allowed}, not {status!r}")
    reason = REASONS[status]
    done: list[Withdrawn] = []
    for start in range(0, len(record_ids), CHUNK):
        chunk = record_ids[start : start + CHUNK]
        done.extend(_chunk(conn, chunk, status, reason, actor, now, details or {}))
    return done


def _chunk(
    conn: Connection,
    record_ids: Sequence[int],
    status: str,
    reason: str,
    actor: str,
    now: datetime,
    details: Mapping[int, Mapping[str, object]],
) -> list[Withdrawn]:
    current = conn.execute(
        select(
            record.c.id,
            record.c.record_type,
            record.c.version,
            record_version.c.content_hash,
            record_version.c.payload,
            record_version.c.entity_uscc,
            record_version.c.attach_method,
            record_version.c.source_file_id,
            record_version.c.source_sha256,
            record_version.c.source_row,
        )
        .select_from(
            record.join(
                record_version,
                (record_version.c.record_id == record.c.id) & (record_version.c.version == record.c.version),
            )
        )
        .where(record.c.id.in_(list(record_ids)), record.c.status == "active")
        .order_by(record.c.id)
    ).all()
    if not current:
        return []
    # Claimed one by one by an UPDATE that re-checks status and version: of two runs withdrawing the same
    # record at once, one sees no row changed and leaves the record to the other. A statement per record
    # is affordable here (a day's expiries, a repair's few records) and is what makes the claim exact.
    claimed = []
    for row in current:
        changed = conn.execute(
            update(record)
            .where(record.c.id == row.id, record.c.status == "active", record.c.version == row.version)
            .values(status=status, version=row.version + 1, updated_at=now)
        ).rowcount
        if changed:
            claimed.append(row)
    sent = ever_sent(conn, [row.id for row in claimed])
    insert_columns(
        conn,
        record_version,
        {
            "record_id": [row.id for row in claimed],
            "version": [row.version + 1 for row in claimed],
            "content_hash": [row.content_hash for row in claimed],
            "payload": [row.payload for row in claimed],
            "entity_uscc": [row.entity_uscc for row in claimed],
            "attach_method": [row.attach_method for row in claimed],
            "source_file_id": [row.source_file_id for row in claimed],
            "source_sha256": [row.source_sha256 for row in claimed],
            "source_row": [row.source_row for row in claimed],
            "outbound": [row.id in sent for row in claimed],
        },
        {"operation": "d", "reason": reason, "created_at": now},
    )
    outbound = [row for row in claimed if row.id in sent]
    if outbound:
        versions = (
            select(record_version.c.id, record.c.record_type, literal(now, DateTime(timezone=True)))
            .select_from(record_version.join(record, record.c.id == record_version.c.record_id))
            .where(
                record_version.c.record_id.in_([row.id for row in outbound]),
                record_version.c.version == record.c.version,
                record_version.c.reason == reason,
            )
            .order_by(record_version.c.record_id)
        )
        columns = ["record_version_id", "record_type", "created_at"]
        conn.execute(outbox.insert().from_select(columns, versions))
    conn.execute(
        audit.insert(),
        [
            {
                "at": now,
                "actor": actor,
                "action": f"record.{status}",
                "subject_type": "record",
                "subject_id": str(row.id),
                "detail": json.dumps(
                    {"reason": reason, "version": row.version + 1, "sent": row.id in sent}
                    | dict(details.get(row.id, {})),
                    ensure_ascii=False,
                    default=str,
                ),
            }
            for row in claimed
        ],
    )
    return [Withdrawn(row.id, row.record_type, row.version + 1, row.id in sent) for row in claimed]
