"""The source_file table's one writer: every unit of source data the gateway takes is recorded here.

A unit is a department's file (one row per sheet of a workbook) or a pulled source's landed unit; its row
says where it came from (``source_id``: the department, or the pulled source), what became of it and its
receipt. Every path writes it the same way. ``record_unit`` is the one INSERT: a file being processed
(``record_file``, described by its receipt), a pulled unit just landed (gateway.landing), a file rejected
before it could be read, a unit replayed from its landed rows (gateway.replay). ``record_outcome``
settles a unit together with its audit row, and ``record_rejection`` does both for a unit rejected whole.
``share_receipt`` gives a workbook's parts the file's receipt, ``forget_units`` drops a rejected file that
is to be looked at afresh, and ``mark_archived`` notes where the drop folder put a file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select, update

from gateway.receipts import IntakeReceipt
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import REPLAY, audit, rows_of_file, source_file

log = logging.getLogger(__name__)
# What the audit row of a unit keeps of its receipt.
_AUDITED = (
    "department",
    "file",
    "sha256",
    "status",
    "rows",
    "accepted",
    "rejected",
    "new",
    "updated",
    "unchanged",
    "queued",
)


@dataclass(frozen=True)
class IngestResult:
    """What became of one unit: its receipt, the folder a dropped file belongs in, and its row."""

    receipt: IntakeReceipt
    outcome: str  # processed | rejected: which folder the file belongs in
    source_file_id: int | None
    replayed: bool = False  # the receipt comes from an earlier run (duplicate or crash recovery)


def record_unit(
    conn: Connection,
    *,
    source_id: str,
    file_name: str,
    sha256: str,
    size: int,
    status: str,
    received_at: datetime,
    kind: str = "file",
    part: str = "",
    format: str | None = None,
    encoding: str | None = None,
    mapping_id: str | None = None,
    record_type: str | None = None,
    landing_path: str | None = None,
    cursor_from: str | None = None,
    cursor_to: str | None = None,
    rows_total: int = 0,
    replay_of: int | None = None,
) -> int:
    """Insert a unit's row in the caller's transaction; returns its id.

    ``status``: processing (a file processed in this very transaction), landed (a pulled unit, processed
    later) or rejected (``record_rejection``). ``kind``: file, the pull kind (api, sql, xml), or replay (a
    unit processed again from its landed rows, ``replay_of`` naming it: gateway.replay); ``part``: the
    sheet of a workbook. The receipt is written when the unit is settled (``record_outcome``)."""
    return int(
        conn.execute(
            insert(source_file).returning(source_file.c.id),
            [
                {
                    "source_id": source_id,
                    "kind": kind,
                    "file_name": file_name[:255],
                    "sha256": sha256,
                    "size": size,
                    "format": format,
                    "encoding": encoding,
                    "mapping_id": mapping_id,
                    "record_type": record_type,
                    "status": status,
                    "receipt": "{}",
                    "landing_path": landing_path,
                    "cursor_from": cursor_from,
                    "cursor_to": cursor_to,
                    "rows_total": rows_total,
                    "received_at": received_at,
                    "part": part,
                    "replay_of": replay_of,
                }
            ],
        ).scalar_one()
    )


def record_file(
    conn: Connection,
    receipt: IntakeReceipt,
    now: datetime,
    *,
    status: str,
    part: str = "",
    landing_path: str | None = None,
    replay_of: int | None = None,
) -> int:
    """``record_unit`` for a department's file (``part``: one sheet of a workbook), described by its receipt:
    the department, the file's name, bytes and format, and the mapping when one was chosen. With
    ``replay_of``, the row of a replay of that unit (kind replay; the unit may be a pulled one too)."""
    return record_unit(
        conn,
        kind="file" if replay_of is None else REPLAY,
        replay_of=replay_of,
        source_id=receipt.department,
        file_name=receipt.file,
        sha256=receipt.sha256,
        size=receipt.size,
        status=status,
        received_at=now,
        part=part,
        format=receipt.format,
        encoding=receipt.encoding,
        mapping_id=receipt.mapping,
        record_type=receipt.record_type,
        landing_path=landing_path,
    )


def record_outcome(
    conn: Connection, unit_id: int, receipt: IntakeReceipt, now: datetime, replay_of: int | None = None
) -> None:
    """Settle a unit as its receipt says (status, counts, mapping, the receipt itself: re-issued after a
    crash, and the answer to the same bytes dropped again), with an audit row, in the caller's transaction.
    A replay's audit row is the replay's (actor replay) and names the unit replayed."""
    conn.execute(
        update(source_file)
        .where(source_file.c.id == unit_id)
        .values(
            status=receipt.status,
            rows_total=receipt.rows,
            rows_accepted=receipt.accepted,
            rows_rejected=receipt.rejected,
            rows_unchanged=receipt.unchanged,
            receipt=receipt.to_json().decode(),
            mapping_id=receipt.mapping,
            record_type=receipt.record_type,
        )
    )
    action = "file.rejected" if receipt.status == "rejected" else "file.ingested"
    detail: dict[str, object] = {key: getattr(receipt, key) for key in _AUDITED}
    if replay_of is not None:
        action = "unit.replay_rejected" if receipt.status == "rejected" else "unit.replayed"
        detail["replay_of"] = replay_of
    conn.execute(
        insert(audit),
        [
            {
                "at": now,
                "actor": "ingest" if replay_of is None else REPLAY,
                "action": action,
                "subject_type": "source_file",
                "subject_id": str(unit_id),
                "detail": json.dumps(detail, ensure_ascii=False),
            }
        ],
    )


def record_rejection(
    engine: Engine,
    receipt: IntakeReceipt,
    now: datetime,
    unit_id: int | None = None,
    part: str = "",
    replay_of: int | None = None,
) -> IngestResult:
    """A unit rejected whole, in a transaction of its own (whatever its processing wrote was rolled back).

    A rejected file is remembered too, so the same broken bytes dropped again get the same answer. A
    rejected landed unit (``unit_id``) keeps its row and its raw rows, so it can be processed again later.
    A rejected replay (``replay_of``) is recorded as the replay's row; the unit replayed is untouched."""
    receipt.reject_whole()
    with engine.begin() as conn:
        if unit_id is None:
            unit_id = record_file(conn, receipt, now, status="rejected", part=part, replay_of=replay_of)
        record_outcome(conn, unit_id, receipt, now, replay_of)
    log.warning(
        "%s/%s: rejected: %s",
        receipt.department,
        receipt.file,
        receipt.file_error["message"] if receipt.file_error else "",
    )
    return IngestResult(receipt, "rejected", unit_id)


def share_receipt(conn: Connection, source_id: str, sha256: str, receipt: IntakeReceipt) -> None:
    """Every row of a file (a workbook has one per sheet) answers with the file's receipt from now on."""
    conn.execute(
        update(source_file).where(rows_of_file(source_id, sha256)).values(receipt=receipt.to_json().decode())
    )


def forget_units(conn: Connection, unit_ids: Sequence[int]) -> None:
    """Remove the rows of units that stored nothing (a rejected file, to be looked at afresh)."""
    conn.execute(delete(source_file).where(source_file.c.id.in_(list(unit_ids))))


def mark_archived(settings: Settings, source_file_id: int, archived_path: Path) -> None:
    """Called after the drop folder moved the file: from now on the same bytes are a duplicate. Every row
    of the file is marked (a workbook has one per sheet)."""
    with engine_for(settings.database_url).begin() as conn:
        key = conn.execute(
            select(source_file.c.source_id, source_file.c.sha256).where(source_file.c.id == source_file_id)
        ).one()
        conn.execute(
            update(source_file)
            .where(rows_of_file(key.source_id, key.sha256))
            .values(archived_path=str(archived_path), archived_at=datetime.now(UTC).replace(microsecond=0))
        )
