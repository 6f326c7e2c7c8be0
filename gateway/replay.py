"""Replaying units from the landing area: what was landed is processed again with today's mappings and
schemas — after a mapping fix, or when a department asks — without the department dropping its file again
and without pulling the source again.

A unit can be replayed once it has been processed (accepted, partial or rejected; a landed unit is the
normal path's) while its raw rows are still in the landing area (the retention job has not removed them).
A department's file lands only when it is accepted, so a rejected file is never replayed: dropped again, it
is looked at afresh anyway. A replay is a unit of its own: a ``source_file`` row of kind ``replay`` naming
the unit (``replay_of``), with no landing path of its own — the Parquet stays the unit's, so the retention
job removes it once, with the unit — its own receipt, and an audit row with actor ``replay``. The
department's original receipt and archive are left as they are.

The rows go through the same path as the first time (gateway.processing.process_rows, one transaction per
unit): the mapping is chosen afresh for the landed file's column names, which the landing copy keeps in its
metadata; a department's file is read with its original format, so the rules for example, note and footer
rows skip exactly the rows they skipped then; and the rows the reader found malformed the first time (more
cells than headers, cells cut short), which the landing copy holds in their shaped form, are refused again
with the first receipt's words. So a replay of unchanged data stores nothing (every row unchanged, no new
version, no outbox row), and a replay after a mapping change updates exactly the records whose mapped
content changed. A crash rolls the replay back; run again, it replays again.

A replay never puts older data back over newer: a record whose stored content came from a unit taken after
the one replayed is left as it is (gateway.store.records, ``replay_of``). So replaying a source's units,
oldest first, ends with its newest data read with today's mappings, and replaying one old unit changes only
what no later unit has changed since.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from gateway.ids.resident_id import mask_in_text
from gateway.landing import LandedSource
from gateway.mapping.engine import UnknownHeaders, plan_for
from gateway.mapping.spec import MappingError, load_mappings
from gateway.parquet_landing import HEADERS_KEY
from gateway.processing import BATCH_ROWS, process_rows
from gateway.receipts import IntakeReceipt
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.source_units import IngestResult, record_rejection
from gateway.store.db import engine_for
from gateway.store.tables import REPLAY, source_file

log = logging.getLogger(__name__)
PROCESSED = ("accepted", "partial", "rejected")
SHAPE_ERROR = "E_ROW_SHAPE"  # the code gateway.processing gives the reader's errors of a row


class ReplayError(Exception):
    """A unit that cannot be replayed, or a selection that cannot be made; the message says which and why."""


@dataclass(frozen=True)
class UnitRef:
    """A processed unit whose landed rows are still there: what a replay takes."""

    id: int
    source_id: str
    kind: str  # file, or the pull kind
    file_name: str
    part: str  # the sheet of a workbook, else ""
    status: str  # accepted | partial | rejected
    rows: int
    received_at: datetime  # UTC
    landing_path: str

    @property
    def label(self) -> str:
        """The unit as people read it: source, file (ID numbers masked) and sheet."""
        sheet = f"「{self.part}」" if self.part else ""
        return f"{self.source_id}/{mask_in_text(self.file_name)}{sheet}"

    def as_dict(self, settings: Settings) -> dict[str, Any]:
        return {
            "unit": self.id,
            "source": self.source_id,
            "kind": self.kind,
            "file": mask_in_text(self.file_name),
            "part": self.part,
            "status": self.status,
            "rows": self.rows,
            "received_at": settings.local_time(self.received_at),
        }


def _utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; everything the gateway writes is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_day(text: str, what: str = "date") -> date:
    """A day as the CLI and the DAG take it, YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReplayError(f"{what} {text!r} is not a date written YYYY-MM-DD") from None


def day_bounds(
    settings: Settings, since: date | None, until: date | None
) -> tuple[datetime | None, datetime | None]:
    """The UTC instants a local day range spans: from local midnight of ``since`` to local midnight after
    ``until`` (both days included)."""
    zone = ZoneInfo(settings.timezone)
    low = datetime.combine(since, time(), zone).astimezone(UTC) if since else None
    high = datetime.combine(until + timedelta(days=1), time(), zone).astimezone(UTC) if until else None
    if low is not None and high is not None and low >= high:
        raise ReplayError(f"the date range is empty: {since} is after {until}")
    return low, high


def _ref(row: Mapping[str, Any]) -> UnitRef:
    return UnitRef(
        id=int(row["id"]),
        source_id=str(row["source_id"]),
        kind=str(row["kind"]),
        file_name=str(row["file_name"]),
        part=str(row["part"] or ""),
        status=str(row["status"]),
        rows=int(row["rows_total"] or 0),
        received_at=_utc(row["received_at"]),
        landing_path=str(row["landing_path"]),
    )


def select_units(
    settings: Settings,
    *,
    source_id: str | None = None,
    unit_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[UnitRef]:
    """The processed units that can be replayed, oldest first: of a source, one unit, and/or received on
    the local days ``since`` to ``until`` (both included). Never a unit not processed yet, never a replay,
    never a unit whose landed rows were removed."""
    low, high = day_bounds(settings, since, until)
    stmt = (
        select(source_file)
        .where(
            source_file.c.kind != REPLAY,
            source_file.c.status.in_(PROCESSED),
            source_file.c.landing_path.is_not(None),
            source_file.c.landing_purged_at.is_(None),
        )
        .order_by(source_file.c.id)
    )
    if source_id is not None:
        stmt = stmt.where(source_file.c.source_id == source_id)
    if unit_id is not None:
        stmt = stmt.where(source_file.c.id == unit_id)
    if low is not None:
        stmt = stmt.where(source_file.c.received_at >= low)
    if high is not None:
        stmt = stmt.where(source_file.c.received_at < high)
    with engine_for(settings.database_url).connect() as conn:
        return [_ref(row._asdict()) for row in conn.execute(stmt)]


def replayable(settings: Settings, unit_id: int) -> tuple[UnitRef, dict[str, Any]]:
    """The unit and its row, or ReplayError saying why it cannot be replayed (what the CLI and the DAG say
    when a unit asked for by its id is not selected)."""
    with engine_for(settings.database_url).connect() as conn:
        found = conn.execute(select(source_file).where(source_file.c.id == unit_id)).first()
    if found is None:
        raise ReplayError(f"unit {unit_id}: there is no such unit")
    row = found._asdict()
    name = f"unit {unit_id} ({row['source_id']}/{mask_in_text(str(row['file_name']))})"
    if row["kind"] == REPLAY:
        raise ReplayError(f"{name} is a replay of unit {row['replay_of']}: replay unit {row['replay_of']}")
    if row["status"] not in PROCESSED:
        raise ReplayError(f"{name} is not processed yet (status {row['status']}): the normal run takes it")
    if row["landing_purged_at"] is not None:
        raise ReplayError(f"{name}: its landed rows were removed by the retention job; it cannot be replayed")
    if not row["landing_path"]:
        raise ReplayError(
            f"{name} has no landed rows: a department's file is landed only when it is accepted (dropped "
            "again, a rejected file is looked at afresh)"
        )
    return _ref(row), row


def _landed_headers(unit: UnitRef) -> list[str]:
    """The column names the landing copy keeps, or ReplayError naming the unit when its file is missing,
    unreadable or does not name its columns."""
    path = Path(unit.landing_path)
    name = f"unit {unit.id} ({unit.label})"
    if not path.is_file():
        raise ReplayError(f"{name}: its landed file {path} is missing")
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise ReplayError(f"{name}: its landed file {path} cannot be read: {exc}") from exc
    raw = (schema.metadata or {}).get(HEADERS_KEY)
    if raw is None:
        raise ReplayError(
            f"{name}: its landed file {path} does not name its columns (it was landed before replays "
            "were possible); the file must be sent again"
        )
    try:
        headers = json.loads(raw)
    except ValueError as exc:
        raise ReplayError(f"{name}: the column names in its landed file {path} cannot be read") from exc
    width = sum(1 for column in schema.names if column != "__row__")
    if not isinstance(headers, list):
        raise ReplayError(f"{name}: the column names in its landed file {path} are not a list")
    if len(headers) != width:
        raise ReplayError(f"{name}: its landed file {path} names {len(headers)} columns but holds {width}")
    return [str(header) for header in headers]


def _first_shape_errors(row: Mapping[str, Any]) -> tuple[dict[int, list[str]], bool]:
    """The reader's row errors of the unit's first run, by row, from the receipt it stored (a workbook's
    rows hold the file's receipt: the part's errors carry its sheet), and whether that list is complete (a
    receipt lists at most receipts.MAX_ERRORS errors)."""
    receipt = IntakeReceipt.from_json(str(row["receipt"]))
    part = str(row["part"] or "")
    found: dict[int, list[str]] = {}
    for error in receipt.errors:
        if error.get("code") == SHAPE_ERROR and (not part or error.get("sheet") == part):
            found.setdefault(int(error["row"]), []).append(str(error["message"]))  # type: ignore[call-overload]
    return found, receipt.error_count <= len(receipt.errors)


@dataclass
class ReplayedRows(LandedSource):
    """A landed unit read again, with the reader's errors of its first run given back for their rows: the
    landing copy holds a malformed row as it was shaped (extra cells dropped, long cells cut), and the
    processing must refuse it again rather than take it for a good one. A file damaged past its footer
    fails only while it is read: that is a ReplayError naming the unit (``name``) too."""

    shape_errors: Mapping[int, Sequence[str]] = field(default_factory=dict)
    name: str = ""

    def batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        landed = super().batches(batch_rows)
        while True:
            try:
                batch = next(landed)
            except StopIteration:
                return
            except (OSError, pa.ArrowException) as exc:
                raise ReplayError(f"{self.name}: its landed file {self.path} cannot be read: {exc}") from exc
            if self.shape_errors:
                rows = batch.column("__row__").to_pylist()
                self.batch_errors = [(r, message) for r in rows for message in self.shape_errors.get(r, ())]
            yield batch


def replay_unit(settings: Settings, unit_id: int) -> IngestResult:
    """Process one unit's landed rows again with today's mappings and schemas, as a replay of its own;
    raises ReplayError (naming the unit) when it cannot be replayed. A replay whose rows today's mappings
    cannot read is recorded as a rejected replay, with its receipt saying why."""
    unit, row = replayable(settings, unit_id)
    headers = _landed_headers(unit)
    now = datetime.now(UTC).replace(microsecond=0)
    engine = engine_for(settings.database_url)
    fmt = str(row["format"] or "parquet")
    receipt = IntakeReceipt(
        department=unit.source_id,
        file=unit.file_name,
        sha256=str(row["sha256"]),
        size=int(row["size"]),
        received_at=settings.local_time(now),
        format=fmt,
        encoding=row["encoding"],
        sheet=unit.part or None,
    )
    receipt.warnings.append(
        f"按当前映射重新处理第 {unit.id} 号单元（{settings.local_time(unit.received_at)} 接收）的落地数据"
    )
    shape_errors, complete = _first_shape_errors(row)
    if not complete:
        receipt.warnings.append(
            "首次处理的回执只列出了部分错误，未列出的行若当时整行格式有误，本次无法再识别"
        )
        log.warning("unit %d: its first receipt lists only part of its errors", unit.id)
    try:
        plan = plan_for(
            headers,
            load_mappings(settings.mappings_dir),
            load_record_types(settings.schemas_dir),
            source=unit.source_id,
        )
    except UnknownHeaders as exc:
        receipt.fail("E_HEADERS", exc.message)
        return record_rejection(engine, receipt, now, part=unit.part, replay_of=unit.id)
    except MappingError as exc:
        receipt.fail("E_MAPPING", f"映射文件有误，请联系平台管理员：{exc}")
        return record_rejection(engine, receipt, now, part=unit.part, replay_of=unit.id)
    source = ReplayedRows(
        Path(unit.landing_path), format=fmt, shape_errors=shape_errors, name=f"unit {unit.id} ({unit.label})"
    )
    log.info("replaying unit %d (%s), %d rows", unit.id, unit.label, unit.rows)
    return process_rows(
        settings, engine, source, plan, receipt, now, land=False, part=unit.part, replay_of=unit.id
    )


def replay_summary(unit_id: int, result: IngestResult) -> dict[str, Any]:
    """One replay in figures (the unit replayed, the replay's own row, what it stored), for the CLI, the
    DAG's XCom and its log."""
    receipt = result.receipt
    return {
        "unit": unit_id,
        "replay": result.source_file_id,
        "source": receipt.department,
        "file": mask_in_text(receipt.file),
        "part": receipt.sheet or "",
        "status": receipt.status,
        "rows": receipt.rows,
        "new": receipt.new,
        "updated": receipt.updated,
        "unchanged": receipt.unchanged,
        "withdrawn": receipt.withdrawn,
        "rejected": receipt.rejected,
        "queued": receipt.queued,
        "error": receipt.file_error["message"] if receipt.file_error else None,
    }
