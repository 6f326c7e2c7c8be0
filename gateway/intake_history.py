"""What each department has sent: its files, their rows accepted and rejected, and each file's receipt.

Read from ``source_file``, where every dropped file has a row (one per sheet of a workbook) carrying the
receipt the department got (gateway.source_units is the table's one writer). A file is its content: the
same bytes dropped again were answered from the first row as a duplicate and added none, so one entry
here is one distinct file, whose parts are summed. A rejected file dropped again is looked at afresh and
its old rows are forgotten (gateway.ingest), so it appears once, as it stands now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Row, case, func, select

from gateway.local_times import shown
from gateway.paging import DEFAULT_SIZE, Page, window
from gateway.receipts import IntakeReceipt
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import source_file


@dataclass(frozen=True)
class DepartmentTotals:
    department: str
    files: int
    rows: int
    accepted: int
    rejected: int
    last_received: str


@dataclass(frozen=True)
class FileEntry:
    file_id: int  # the row of its first part: the receipt's address
    department: str
    name: str
    sha256: str
    size: int
    received_at: str
    status: str  # processing | accepted | partial | rejected
    parts: int
    rows: int
    accepted: int
    rejected: int
    archived_path: str | None


@dataclass(frozen=True)
class StoredReceipt:
    entry: FileEntry
    receipt: IntakeReceipt | None  # None while the file is still being processed


_FILES = source_file.c.kind == "file"


def _count(status: str) -> object:
    return func.sum(case((source_file.c.status == status, 1), else_=0))


_ENTRY = (
    func.min(source_file.c.id).label("file_id"),
    source_file.c.source_id,
    source_file.c.sha256,
    func.min(source_file.c.file_name).label("name"),
    func.max(source_file.c.size).label("size"),
    func.min(source_file.c.received_at).label("received_at"),
    func.count().label("parts"),
    func.sum(source_file.c.rows_total).label("rows"),
    func.sum(source_file.c.rows_accepted).label("accepted"),
    func.sum(source_file.c.rows_rejected).label("rejected"),
    _count("processing").label("processing_parts"),
    _count("accepted").label("accepted_parts"),
    _count("rejected").label("rejected_parts"),
    func.max(source_file.c.archived_path).label("archived_path"),
)


def _status(row: Row) -> str:
    """A file's status from its parts': rejected or accepted only when every part is."""
    if row.processing_parts:
        return "processing"
    if row.rejected_parts == row.parts:
        return "rejected"
    if row.accepted_parts == row.parts:
        return "accepted"
    return "partial"


def _entry(settings: Settings, row: Row) -> FileEntry:
    return FileEntry(
        file_id=int(row.file_id),
        department=str(row.source_id),
        name=str(row.name),
        sha256=str(row.sha256),
        size=int(row.size or 0),
        received_at=shown(settings, row.received_at),
        status=_status(row),
        parts=int(row.parts),
        rows=int(row.rows or 0),
        accepted=int(row.accepted or 0),
        rejected=int(row.rejected or 0),
        archived_path=row.archived_path,
    )


def department_totals(settings: Settings) -> list[DepartmentTotals]:
    """Every department that has sent a file, with its files and rows summed."""
    stmt = (
        select(
            source_file.c.source_id,
            func.count(func.distinct(source_file.c.sha256)).label("files"),
            func.sum(source_file.c.rows_total).label("rows"),
            func.sum(source_file.c.rows_accepted).label("accepted"),
            func.sum(source_file.c.rows_rejected).label("rejected"),
            func.max(source_file.c.received_at).label("last_received"),
        )
        .where(_FILES)
        .group_by(source_file.c.source_id)
        .order_by(source_file.c.source_id)
    )
    with engine_for(settings.database_url).connect() as conn:
        return [
            DepartmentTotals(
                r.source_id,
                int(r.files),
                int(r.rows or 0),
                int(r.accepted or 0),
                int(r.rejected or 0),
                shown(settings, r.last_received),
            )
            for r in conn.execute(stmt)
        ]


def files_of(
    settings: Settings, department: str, number: int = 1, size: int = DEFAULT_SIZE
) -> Page[FileEntry]:
    """The department's files, newest first."""
    mine = _FILES & (source_file.c.source_id == department)
    with engine_for(settings.database_url).connect() as conn:
        total = conn.execute(select(func.count(func.distinct(source_file.c.sha256))).where(mine)).scalar_one()
        at = window(number, size, int(total))
        stmt = (
            select(*_ENTRY)
            .where(mine)
            .group_by(source_file.c.source_id, source_file.c.sha256)
            .order_by(func.min(source_file.c.received_at).desc(), func.min(source_file.c.id).desc())
            .offset(at.offset)
            .limit(at.size)
        )
        items = [_entry(settings, row) for row in conn.execute(stmt)]
    return Page(items, at.number, at.size, int(total))


def receipt_of(settings: Settings, department: str, file_id: int) -> StoredReceipt | None:
    """The file whose first part is row ``file_id``, if the department sent it, with the receipt it got."""
    with engine_for(settings.database_url).connect() as conn:
        first = conn.execute(
            select(source_file.c.sha256, source_file.c.receipt).where(
                _FILES, source_file.c.id == file_id, source_file.c.source_id == department
            )
        ).first()
        if first is None:
            return None
        row = conn.execute(
            select(*_ENTRY)
            .where(_FILES, source_file.c.source_id == department, source_file.c.sha256 == first.sha256)
            .group_by(source_file.c.source_id, source_file.c.sha256)
        ).one()
    entry = _entry(settings, row)
    if entry.file_id != file_id:
        return None  # a later part's row: files are addressed by their first
    return StoredReceipt(entry, _parsed(first.receipt))


def file_with_content(settings: Settings, department: str, sha256: str) -> FileEntry | None:
    """The department's file with these bytes, if it sent one (how an upload finds its receipt)."""
    with engine_for(settings.database_url).connect() as conn:
        row = conn.execute(
            select(*_ENTRY)
            .where(_FILES, source_file.c.source_id == department, source_file.c.sha256 == sha256)
            .group_by(source_file.c.source_id, source_file.c.sha256)
        ).first()
    return None if row is None else _entry(settings, row)


def _parsed(raw: str | None) -> IntakeReceipt | None:
    """The stored receipt; a part still being processed has none yet (its column is empty until settled)."""
    if not raw:
        return None
    try:
        return IntakeReceipt.from_json(raw)
    except (json.JSONDecodeError, TypeError):
        return None
