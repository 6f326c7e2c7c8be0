"""A department's file, from its bytes to a result: recognised again by its content, opened, its header and
mapping found, then processed (gateway.processing; a workbook sheet by sheet, gateway.workbook_ingest).

The same bytes dropped again are answered from the first run's row: its receipt is re-issued when that run
committed but the file was never archived (a crash in between), and a receipt saying "duplicate" answers
bytes that were archived already. A file that was rejected stored nothing and is looked at afresh. A file
that cannot be read, or whose header matches no mapping, is rejected whole (gateway.source_units).
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from gateway.intake import DEFAULT_LIMITS, ReadError, ReadLimits
from gateway.intake.source import SourceFile, WorkbookFile, open_any
from gateway.mapping.engine import Plan, UnknownHeaders, plan_by_id, plan_for
from gateway.mapping.header_rows import header_note, locate_header
from gateway.mapping.spec import MappingError, MappingSpec, choose_specs, load_mappings
from gateway.processing import BATCH_ROWS, process_rows
from gateway.receipts import IntakeReceipt
from gateway.schema import load_record_types
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.source_units import IngestResult, forget_units, mark_archived, record_rejection
from gateway.store.db import engine_for, migrate
from gateway.store.tables import rows_of_file, source_file
from gateway.workbook_ingest import ingest_workbook

# What connectors, tests and benchmarks use of a department file's path, wherever it is defined.
__all__ = ["BATCH_ROWS", "IngestResult", "file_sha256", "ingest_file", "mark_archived"]

log = logging.getLogger(__name__)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def ingest_file(
    settings: Settings,
    path: Path,
    department: str,
    *,
    display_name: str | None = None,
    mapping_id: str | None = None,
    dry_run: bool = False,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> IngestResult:
    """Process one file. With ``dry_run`` the same code runs against a throw-away database and lands
    nothing, which is how ``gateway check`` previews a receipt. ``limits``: what intake accepts (file size,
    record size, …); the defaults suit a drop folder."""
    if dry_run:
        with tempfile.TemporaryDirectory(prefix="gateway-check-") as scratch:
            url = f"sqlite:///{Path(scratch) / 'check.db'}"
            migrate(url)
            try:
                return _ingest(
                    settings.with_overrides(database_url=url),
                    path,
                    department,
                    display_name or path.name,
                    mapping_id,
                    land=False,
                    limits=limits,
                )
            finally:
                engine_for(url).dispose()
    return _ingest(
        settings, path, department, display_name or path.name, mapping_id, land=True, limits=limits
    )


def _ingest(
    settings: Settings,
    path: Path,
    department: str,
    display_name: str,
    mapping_id: str | None,
    *,
    land: bool,
    limits: ReadLimits,
) -> IngestResult:
    # Names come from outside (file systems, connectors): no control character reaches receipts or the DB.
    display_name = _CONTROL.sub("", display_name) or "（无名文件）"
    now = datetime.now(UTC).replace(microsecond=0)
    sha256, size = file_sha256(path)
    engine = engine_for(settings.database_url)
    previous = _earlier(engine, department, sha256)
    done = _unfinished_parts(previous)
    if previous and done is None:
        log.info("%s/%s: same content as an earlier file (sha256 %s…)", department, display_name, sha256[:12])
        return _replay(settings, previous[0], display_name, now)

    receipt = IntakeReceipt(
        department=department,
        file=display_name,
        sha256=sha256,
        size=size,
        received_at=settings.local_time(now),
    )
    try:
        return _read(settings, engine, path, receipt, now, mapping_id, land=land, limits=limits, done=done)
    except ReadError as exc:
        receipt.fail(exc.code, exc.message)
    except UnknownHeaders as exc:
        receipt.fail("E_HEADERS", exc.message)
    except MappingError as exc:
        receipt.fail("E_MAPPING", f"映射文件有误，请联系平台管理员：{exc}")
    return record_rejection(engine, receipt, now)


def _earlier(engine: Engine, department: str, sha256: str) -> list[dict[str, object]]:
    """The rows of a file with these bytes from this department: one, or one per sheet of a workbook.

    A rejected file stored nothing: dropped again (say after a mapping fix) it gets a fresh look, so the
    rows of a rejected and archived file are forgotten and none returned."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                source_file.c.id,
                source_file.c.status,
                source_file.c.receipt,
                source_file.c.archived_at,
                source_file.c.part,
            )
            .where(rows_of_file(department, sha256))
            .order_by(source_file.c.id)
        ).all()
        previous = [row._asdict() for row in rows]
        if previous and all(r["status"] == "rejected" and r["archived_at"] is not None for r in previous):
            forget_units(conn, [int(r["id"]) for r in previous])  # type: ignore[call-overload]
            return []
    return previous


def _unfinished_parts(previous: list[dict[str, object]]) -> dict[str, IntakeReceipt] | None:
    """A workbook an interrupted run left half done: the parts it stored (sheet → receipt), or None when
    ``previous`` is a finished file. Finished workbooks carry the composed receipt (with ``parts``)."""
    if not previous or all(row["part"] == "" for row in previous) or previous[0]["archived_at"] is not None:
        return None
    receipts = {str(row["part"]): IntakeReceipt.from_json(str(row["receipt"])) for row in previous}
    if any(receipt.parts for receipt in receipts.values()):
        return None
    return receipts


def _replay(
    settings: Settings, previous: dict[str, object], display_name: str, now: datetime
) -> IngestResult:
    """Same content again. Not yet archived: a crash after commit, so re-issue the original receipt.
    Archived: a genuine duplicate drop, answered with a receipt that says so and stores nothing."""
    original = IntakeReceipt.from_json(str(previous["receipt"]))
    if previous["archived_at"] is None:
        outcome = "rejected" if original.status == "rejected" else "processed"
        return IngestResult(original, outcome, int(previous["id"]), replayed=True)  # type: ignore[call-overload]
    duplicate = IntakeReceipt(
        department=original.department,
        file=display_name,
        sha256=original.sha256,
        size=original.size,
        received_at=settings.local_time(now),
        status="duplicate",
        format=original.format,
        encoding=original.encoding,
        mapping=original.mapping,
        mapping_label=original.mapping_label,
        record_type=original.record_type,
        record_type_label=original.record_type_label,
        rows=original.rows,
        first_processed_at=str(original.received_at),
        warnings=[f"该文件与 {original.received_at} 提交的「{original.file}」内容完全相同，未重复入库"],
    )
    # Filed under rejected/ (nothing was accepted this time): the original receipt in processed/ stays intact.
    return IngestResult(duplicate, "rejected", int(previous["id"]), replayed=True)  # type: ignore[call-overload]


def _read(
    settings: Settings,
    engine: Engine,
    path: Path,
    receipt: IntakeReceipt,
    now: datetime,
    mapping_id: str | None,
    *,
    land: bool,
    limits: ReadLimits,
    done: dict[str, IntakeReceipt] | None,
) -> IngestResult:
    """Open the file and process it: a workbook sheet by sheet (``done``: the sheets an interrupted run
    stored), any other file as one table under the header and mapping found for it."""
    record_types = load_record_types(settings.schemas_dir)
    specs = load_mappings(settings.mappings_dir)
    # Only non-default limits are passed, so what open_any defaults to stays in one place.
    opened = open_any(path) if limits is DEFAULT_LIMITS else open_any(path, limits=limits)
    if isinstance(opened, WorkbookFile):
        with opened as book:
            return ingest_workbook(
                settings,
                engine,
                book,
                receipt,
                specs,
                record_types,
                now,
                land=land,
                mapping_id=mapping_id,
                done=done,
            )
    with opened as source:
        receipt.format, receipt.encoding = source.format, source.encoding
        plan = _plan(source, receipt, mapping_id, specs, record_types)
        return process_rows(settings, engine, source, plan, receipt, now, land=land)


def _plan(
    source: SourceFile,
    receipt: IntakeReceipt,
    mapping_id: str | None,
    specs: dict[str, MappingSpec],
    record_types: dict[str, RecordType],
) -> Plan:
    """The plan for a file of one table. A CSV's header may sit below a title, or over two rows: it is
    looked for in the rows above the data, and where it was found goes into the receipt."""
    department = receipt.department
    if source.preamble:
        candidates, ranked_for = choose_specs(specs, department, mapping_id)
        choice = locate_header(source.preamble, candidates, record_types, ranked_for)
        if (choice.row, choice.depth, choice.headers) != (source.header_row, 1, list(source.headers)):
            source.use_header(choice.row, choice.depth, choice.headers)
        receipt.header_row, receipt.header_rows = choice.row, choice.depth
        if note := header_note(choice):
            receipt.warnings.append(note)
        return choice.plan
    headers = list(source.headers)
    if mapping_id is not None:
        if mapping_id not in specs:
            raise UnknownHeaders(f"未知的映射 {mapping_id}；可用：{'、'.join(sorted(specs))}")
        return plan_by_id(headers, specs[mapping_id], record_types)
    return plan_for(headers, specs, record_types, source=department)
