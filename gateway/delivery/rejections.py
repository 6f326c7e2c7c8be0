"""The hub's per-record refusals (BatchReceipt.rejected) applied to the record versions they name.

Each entry gives the record's 0-based position in the batch, which is its position in outbox order (the
order the batch was rendered in), and its natural key, which is checked against it. The named versions
are marked with the hub's code and message. When the hub refused the whole batch because of them, the
other records were not stored either and go back to the outbox for a later batch; the named ones stay
with the refused batch until the department sends a corrected version.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from gateway.ids.resident_id import mask
from gateway.store.tables import outbox, record, record_version
from gateway.transfer import Rejection

log = logging.getLogger(__name__)
MAX_MESSAGE = 2000
# A resident ID number inside a hub message (XSD errors quote the value): 18 digits with a birth date, or
# the 15-digit legacy form. Masked before it is stored or shown, like everywhere else in the gateway.
_RESIDENT_ID = re.compile(
    r"(?<![0-9A-Za-z])\d{6}(?:(?:18|19|20)\d{2}|\d{2})(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
    r"[0-9Xx]?(?![0-9A-Za-z])"
)


def safe_message(text: str) -> str:
    return _RESIDENT_ID.sub(lambda m: mask(m.group()), text)[:MAX_MESSAGE]


@dataclass
class Applied:
    marked: int = 0
    source_files: set[int] = field(default_factory=set)
    unmatched: list[Rejection] = field(default_factory=list)


def _by_position(conn: Connection, batch_id: str, wanted: set[int]) -> dict[int, tuple[int, str]]:
    """Position → (record version id, natural key), streaming the batch in its rendered order."""
    stmt = (
        select(outbox.c.record_version_id, record.c.natural_key)
        .select_from(
            outbox.join(record_version, record_version.c.id == outbox.c.record_version_id).join(
                record, record.c.id == record_version.c.record_id
            )
        )
        .where(outbox.c.batch_id == batch_id)
        .order_by(outbox.c.id)
    )
    found: dict[int, tuple[int, str]] = {}
    last = max(wanted)
    result = conn.execute(stmt, execution_options={"yield_per": 1000})
    try:
        for position, row in enumerate(result):
            if position in wanted:
                found[position] = (row.record_version_id, row.natural_key)
            if position >= last:
                break
    finally:
        result.close()
    return found


def _by_key(conn: Connection, batch_id: str, key: str) -> int | None:
    stmt = (
        select(outbox.c.record_version_id)
        .select_from(
            outbox.join(record_version, record_version.c.id == outbox.c.record_version_id).join(
                record, record.c.id == record_version.c.record_id
            )
        )
        .where(outbox.c.batch_id == batch_id, record.c.natural_key == key)
    )
    return conn.execute(stmt).scalars().first()


def apply(conn: Connection, batch_id: str, rejections: Sequence[Rejection], at: datetime) -> Applied:
    """Mark the versions the hub named; an entry whose position and key disagree is matched by key."""
    result = Applied()
    if not rejections:
        return result
    positions = _by_position(conn, batch_id, {r.index for r in rejections})
    marks: dict[int, Rejection] = {}
    for rejection in rejections:
        hit = positions.get(rejection.index)
        version_id = hit[0] if hit and (not rejection.key or hit[1] == rejection.key) else None
        if version_id is None and rejection.key:
            version_id = _by_key(conn, batch_id, rejection.key)
        if version_id is None:
            result.unmatched.append(rejection)
            continue
        marks.setdefault(version_id, rejection)
    if result.unmatched:
        log.warning(
            "batch %s: %d refusals in the hub's receipt match no record of the batch (first: index %d)",
            batch_id,
            len(result.unmatched),
            result.unmatched[0].index,
        )
    if not marks:
        return result
    conn.execute(
        update(record_version)
        .where(record_version.c.id == bindparam("vid"))
        .values(
            hub_code=bindparam("code"),
            hub_message=bindparam("message"),
            hub_batch_id=batch_id,
            hub_rejected_at=at,
        ),
        [
            {"vid": vid, "code": r.code[:64], "message": safe_message(r.message)}
            for vid, r in sorted(marks.items())
        ],
    )
    ids = sorted(marks)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        result.source_files.update(
            conn.execute(
                select(record_version.c.source_file_id).where(record_version.c.id.in_(chunk)).distinct()
            ).scalars()
        )
    result.marked = len(marks)
    return result


def requeue_others(conn: Connection, batch_id: str) -> int:
    """Give the records of a refused batch that the hub did not name back to the outbox."""
    named = select(record_version.c.id).where(record_version.c.hub_batch_id == batch_id)
    return conn.execute(
        update(outbox)
        .where(outbox.c.batch_id == batch_id, outbox.c.record_version_id.not_in(named.scalar_subquery()))
        .values(batch_id=None)
    ).rowcount
