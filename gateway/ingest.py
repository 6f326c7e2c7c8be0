"""One department file, from bytes to stored versions and outbox rows, in one transaction.

read → land (Parquet) → map → validate → attach → store. Nothing is committed unless the whole file is
through; a file whose share of bad rows passes the threshold is rejected whole and stores nothing. The file
row, the records, their versions and the outbox rows commit together, so a crash means the file is simply
processed again on the next run, and a file already committed is recognised by its content hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, delete, insert, select, update

from gateway.entities import attach
from gateway.intake import DEFAULT_LIMITS, ReadError, ReadLimits, open_source
from gateway.mapping.engine import Plan, UnknownHeaders, apply_plan, plan_by_id, plan_for
from gateway.mapping.spec import MappingError, MappingSpec, load_mappings
from gateway.receipts import MAX_ERRORS, Receipt
from gateway.row_errors import RowError
from gateway.schema import load_record_types
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.records import Prepared, StoreCounts, prepare, store_batch
from gateway.store.tables import audit, source_file
from gateway.validation import Validated, validate

log = logging.getLogger(__name__)
BATCH_ROWS = 16_384
T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _ThresholdExceeded(Exception):
    """Raised inside the transaction to roll back everything the file wrote."""


@dataclass(frozen=True)
class IngestResult:
    receipt: Receipt
    outcome: str  # processed | rejected: which folder the file belongs in
    source_file_id: int | None
    replayed: bool = False  # the receipt comes from an earlier run (duplicate or crash recovery)


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _outcome(receipt: Receipt) -> str:
    return "rejected" if receipt.status == "rejected" else "processed"


def _previous(conn: Connection, department: str, sha256: str) -> dict[str, object] | None:
    row = conn.execute(
        select(
            source_file.c.id, source_file.c.status, source_file.c.receipt, source_file.c.archived_at
        ).where(
            source_file.c.kind == "file",
            source_file.c.department == department,
            source_file.c.sha256 == sha256,
        )
    ).first()
    return row._asdict() if row else None


def _replay(
    settings: Settings, previous: dict[str, object], display_name: str, now: datetime
) -> IngestResult:
    """Same content again. Not yet archived: a crash after commit, so re-issue the original receipt.
    Archived: a genuine duplicate drop, answered with a receipt that says so and stores nothing."""
    original = Receipt.from_json(str(previous["receipt"]))
    if previous["archived_at"] is None:
        return IngestResult(original, _outcome(original), int(previous["id"]), replayed=True)  # type: ignore[call-overload]
    duplicate = Receipt(
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


def _choose_plan(
    headers: list[str],
    department: str,
    mapping_id: str | None,
    specs: dict[str, MappingSpec],
    record_types: dict[str, RecordType],
) -> Plan:
    if mapping_id is not None:
        if mapping_id not in specs:
            raise UnknownHeaders(f"未知的映射 {mapping_id}；可用：{'、'.join(sorted(specs))}")
        return plan_by_id(headers, specs[mapping_id], record_types)
    return plan_for(headers, specs, record_types, source=department)


@contextmanager
def _landing_writer(path: Path | None) -> Iterator[list[pq.ParquetWriter | None]]:
    """Write the raw batches once, as Parquet; the file appears under its final name only when complete."""
    holder: list[pq.ParquetWriter | None] = [None]
    tmp = path.with_suffix(".parquet.tmp") if path else None
    try:
        yield holder
        if holder[0] is not None and path and tmp:
            holder[0].close()
            holder[0] = None
            os.replace(tmp, path)
    finally:
        if holder[0] is not None:
            holder[0].close()
        if tmp and tmp.exists():
            tmp.unlink()


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
    now = _now()
    sha256, size = file_sha256(path)
    engine = engine_for(settings.database_url)
    with engine.begin() as conn:
        previous = _previous(conn, department, sha256)
        if previous is not None and previous["status"] == "rejected" and previous["archived_at"] is not None:
            # A rejected file stored nothing; dropped again (say after a mapping fix) it gets a fresh look.
            conn.execute(delete(source_file).where(source_file.c.id == previous["id"]))
            previous = None
    if previous is not None:
        log.info("%s/%s: same content as an earlier file (sha256 %s…)", department, display_name, sha256[:12])
        return _replay(settings, previous, display_name, now)

    receipt = Receipt(
        department=department,
        file=display_name,
        sha256=sha256,
        size=size,
        received_at=settings.local_time(now),
    )
    try:
        record_types = load_record_types(settings.schemas_dir)
        specs = load_mappings(settings.mappings_dir)
        # Only non-default limits are passed, so what open_source defaults to stays in one place.
        opened = open_source(path) if limits is DEFAULT_LIMITS else open_source(path, limits=limits)
        with opened as source:
            receipt.format, receipt.encoding = source.format, source.encoding
            plan = _choose_plan(list(source.headers), department, mapping_id, specs, record_types)
            return process_rows(settings, engine, source, plan, receipt, now, land=land)
    except ReadError as exc:
        receipt.fail(exc.code, exc.message)
    except UnknownHeaders as exc:
        receipt.fail("E_HEADERS", exc.message)
    except MappingError as exc:
        receipt.fail("E_MAPPING", f"映射文件有误，请联系平台管理员：{exc}")
    receipt.accepted = receipt.new = receipt.updated = receipt.unchanged = receipt.queued = (
        receipt.withdrawn
    ) = 0
    receipt.rejected = receipt.rows
    return record_rejection(engine, receipt, now)


class RowSource(Protocol):
    """What the processing needs of a source: a department's file (SourceFile) or a landed pull."""

    format: str
    encoding: str | None
    row_errors: Sequence[tuple[int, str]]

    def batches(self, batch_rows: int = ...) -> Iterator[pa.RecordBatch]: ...


class _Errors:
    """A file's row errors, kept in memory only up to what the receipt lists (receipts.MAX_ERRORS).

    Batches arrive in row order and each holds the errors of its own rows only, so the errors of a batch,
    sorted, follow those of the batches before it, and its bad rows are counted once.
    """

    def __init__(self) -> None:
        self.kept: list[RowError] = []
        self.count = 0
        self.bad_rows = 0

    def add(self, errors: list[RowError]) -> None:
        self.count += len(errors)
        self.bad_rows += len({e.row for e in errors})
        room = MAX_ERRORS - len(self.kept)
        if room > 0:
            self.kept.extend(sorted(errors, key=lambda e: (e.row, e.field))[:room])


@dataclass(frozen=True)
class _Checked:
    """One batch read, landed, mapped and validated, with its accepted rows prepared for the store."""

    rows: int
    checked: Validated
    prepared: Prepared


def _checked_batches(
    source: RowSource, plan: Plan, landing: Path | None, writer: list[pq.ParquetWriter | None]
) -> Iterator[_Checked]:
    """Everything per batch that needs no database; ingest runs it one batch ahead on another thread."""
    rtype = plan.record_type
    seen_row_errors = 0
    for batch in source.batches(BATCH_ROWS):
        if landing:
            if writer[0] is None:
                writer[0] = pq.ParquetWriter(landing.with_suffix(".parquet.tmp"), batch.schema)
            writer[0].write_batch(batch)
        shape_errors = [
            RowError(row, "（整行）", "E_ROW_SHAPE", message)
            for row, message in source.row_errors[seen_row_errors:]
        ]
        seen_row_errors = len(source.row_errors)
        mapped = apply_plan(plan, batch)
        checked = validate(rtype, mapped.table, plan.header_of, earlier=[*shape_errors, *mapped.errors])
        yield _Checked(batch.num_rows, checked, prepare(rtype, checked.good))


_DONE = object()


def _ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``items`` on a second thread, up to ``depth`` items ahead of the consumer.

    Ingest is two kinds of work: reading, mapping, validating and preparing a batch (Arrow compute and
    Python, CPU-bound), and writing it (the database, which releases the GIL while it works). Running the
    first for batch n+1 while the second runs for batch n uses the second core; the queue bounds memory to
    a few batches. An exception on the producing side is raised here, where the consumer would have met it.
    """
    handoff: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                handoff.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed over to the consumer, which raises it
            offer(_DONE, exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="ingest-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def process_rows(
    settings: Settings,
    engine: Engine,
    source: RowSource,
    plan: Plan,
    receipt: Receipt,
    now: datetime,
    *,
    land: bool,
    unit_id: int | None = None,
) -> IngestResult:
    """Map, validate, attach and store every row in one transaction. ``unit_id``: an already landed unit of
    a pulled source (its row exists and its raw rows are on disk); otherwise the file row is created here."""
    rtype = plan.record_type
    department, sha256 = receipt.department, receipt.sha256
    threshold = (
        plan.spec.reject_threshold if plan.spec.reject_threshold is not None else settings.reject_threshold
    )
    receipt.mapping, receipt.mapping_label = plan.spec.id, plan.spec.label
    receipt.record_type, receipt.record_type_label, receipt.threshold = rtype.name, rtype.label, threshold
    used = set(plan.columns.values())
    for index, header in enumerate(plan.headers):
        if index not in used:
            receipt.warnings.append(
                f"列「{header}」未对应任何字段，已忽略"
                if header.strip()
                else f"第 {index + 1} 列没有表头，该列内容已忽略"
            )
    landing = settings.landing_dir / department / f"{sha256}.parquet" if land else None
    if landing:
        landing.parent.mkdir(parents=True, exist_ok=True)

    errors = _Errors()
    counts = StoreCounts()
    try:
        with engine.begin() as conn, _landing_writer(landing) as writer:
            file_id = (
                unit_id
                if unit_id is not None
                else conn.execute(
                    insert(source_file).returning(source_file.c.id),
                    [
                        {
                            "department": department,
                            "file_name": receipt.file[:255],
                            "sha256": sha256,
                            "size": receipt.size,
                            "format": source.format,
                            "encoding": source.encoding,
                            "mapping_id": plan.spec.id,
                            "record_type": rtype.name,
                            "status": "processing",
                            "receipt": "{}",
                            "received_at": now,
                            "landing_path": str(landing) if landing else None,
                        }
                    ],
                ).scalar_one()
            )
            for ready in _ahead(_checked_batches(source, plan, landing, writer)):
                receipt.rows += ready.rows
                good = ready.checked.good
                attachment = attach(conn, rtype, good, now)
                stored = store_batch(
                    conn,
                    rtype,
                    good,
                    attachment,
                    source_file_id=file_id,
                    source_sha256=sha256,
                    now=now,
                    header_of=plan.header_of,
                    prepared=ready.prepared,
                )
                errors.add([*ready.checked.errors, *stored.duplicates])
                counts.add(replace(stored, duplicates=[]))
            bad_rows = errors.bad_rows
            receipt.rejected = bad_rows
            receipt.accepted = receipt.rows - bad_rows
            receipt.new, receipt.updated = counts.inserted, counts.updated
            receipt.unchanged, receipt.queued = counts.unchanged, counts.queued
            receipt.withdrawn = counts.withdrawn
            receipt.set_errors(errors.kept)
            receipt.error_count = errors.count
            if receipt.rows == 0:
                receipt.fail("E_NO_ROWS", "文件只有表头，没有数据行")
                raise _ThresholdExceeded
            share = bad_rows / receipt.rows
            if receipt.accepted == 0 or share > threshold:
                receipt.fail(
                    "E_THRESHOLD",
                    f"错误行 {bad_rows} 行，占 {share:.0%}，超过拒收阈值 "
                    f"{threshold:.0%}，整份文件未接收，请修改后重新报送",
                )
                raise _ThresholdExceeded
            receipt.status = "partial" if bad_rows else "accepted"
            conn.execute(
                update(source_file)
                .where(source_file.c.id == file_id)
                .values(
                    status=receipt.status,
                    rows_total=receipt.rows,
                    rows_accepted=receipt.accepted,
                    rows_rejected=receipt.rejected,
                    rows_unchanged=receipt.unchanged,
                    receipt=receipt.to_json().decode(),
                )
            )
            _audit(conn, now, "file.ingested", str(file_id), receipt)
    except _ThresholdExceeded:
        receipt.accepted = receipt.new = receipt.updated = receipt.unchanged = receipt.queued = (
            receipt.withdrawn
        ) = 0
        receipt.rejected = receipt.rows
        return record_rejection(engine, receipt, now, unit_id)
    log.info(
        "%s/%s: %s, %d rows, %d accepted (%d new, %d updated, %d unchanged), %d rejected",
        department,
        receipt.file,
        receipt.status,
        receipt.rows,
        receipt.accepted,
        receipt.new,
        receipt.updated,
        receipt.unchanged,
        receipt.rejected,
    )
    return IngestResult(receipt, "processed", file_id)


def record_rejection(
    engine: Engine, receipt: Receipt, now: datetime, unit_id: int | None = None
) -> IngestResult:
    """A rejected file is remembered too, so the same broken bytes dropped again get the same answer.
    A rejected landed unit keeps its row (and its raw rows), so it can be processed again later."""
    values = {
        "status": "rejected",
        "rows_total": receipt.rows,
        "rows_accepted": 0,
        "rows_rejected": receipt.rows,
        "rows_unchanged": 0,
        "receipt": receipt.to_json().decode(),
        "mapping_id": receipt.mapping,
        "record_type": receipt.record_type,
    }
    with engine.begin() as conn:
        if unit_id is None:
            file_id = conn.execute(
                insert(source_file).returning(source_file.c.id),
                [
                    {
                        "department": receipt.department,
                        "file_name": receipt.file[:255],
                        "sha256": receipt.sha256,
                        "size": receipt.size,
                        "format": receipt.format,
                        "encoding": receipt.encoding,
                        "received_at": now,
                        **values,
                    }
                ],
            ).scalar_one()
        else:
            file_id = unit_id
            conn.execute(update(source_file).where(source_file.c.id == unit_id).values(**values))
        _audit(conn, now, "file.rejected", str(file_id), receipt)
    log.warning(
        "%s/%s: rejected: %s",
        receipt.department,
        receipt.file,
        receipt.file_error["message"] if receipt.file_error else "",
    )
    return IngestResult(receipt, "rejected", file_id)


def _audit(conn: Connection, now: datetime, action: str, subject_id: str, receipt: Receipt) -> None:
    detail = {
        k: getattr(receipt, k)
        for k in (
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
    }
    conn.execute(
        insert(audit),
        [
            {
                "at": now,
                "actor": "ingest",
                "action": action,
                "subject_type": "source_file",
                "subject_id": subject_id,
                "detail": json.dumps(detail, ensure_ascii=False),
            }
        ],
    )


def mark_archived(settings: Settings, source_file_id: int, archived_path: Path) -> None:
    """Called after the drop folder moved the file: from now on the same bytes are a duplicate."""
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            update(source_file)
            .where(source_file.c.id == source_file_id)
            .values(archived_path=str(archived_path), archived_at=_now())
        )


def landed_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """Replays read the landing copy, not the department's file (which has been archived)."""
    yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
