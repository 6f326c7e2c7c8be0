"""The record_hold row an objection places, shares and lifts.

record_hold has one row per record (the batcher only asks whether a record is held), while a record may
have several open objections. So the first objection places the hold, later ones join it, and resolving one
lifts the hold only when no other objection on the record is still open; otherwise the row is handed to the
oldest one still open, so that its ``reference`` always names an objection that really holds the record.
A hold placed for another reason than an objection is never touched here.

These run inside the caller's transaction, after the caller has locked the record's row (service.py), so
two steps on one record — a raise and a resolution at the same moment — cannot both decide about its hold.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from gateway.credit.objections.states import OPEN
from gateway.credit.objections.tables import credit_objection
from gateway.store.tables import record_hold

REASON = "objection"
PLACED, JOINED, HELD_OTHERWISE = "placed", "joined", "held_otherwise"


def place(conn: Connection, record_id: int, objection_id: int, now: datetime) -> str:
    """Hold the record for this objection: placed (a new hold), joined (another objection already holds
    it) or held_otherwise (held for another reason, which this objection leaves as it is)."""
    existing = conn.execute(select(record_hold.c.reason).where(record_hold.c.record_id == record_id)).first()
    if existing is None:
        conn.execute(
            insert(record_hold).values(
                record_id=record_id, reason=REASON, reference=str(objection_id), since=now
            )
        )
        return PLACED
    return JOINED if existing.reason == REASON else HELD_OTHERWISE


def release(conn: Connection, record_id: int) -> int | None:
    """After an objection on the record closed: lift the hold if no objection on it is still open, and
    return None; otherwise leave it held, in the name of the oldest open objection, and return that id."""
    still = conn.execute(
        select(func.min(credit_objection.c.id)).where(
            credit_objection.c.record_id == record_id, credit_objection.c.state == OPEN
        )
    ).scalar()
    mine = (record_hold.c.record_id == record_id) & (record_hold.c.reason == REASON)
    if still is None:
        conn.execute(delete(record_hold).where(mine))
        return None
    conn.execute(update(record_hold).where(mine).values(reference=str(still)))
    return int(still)
