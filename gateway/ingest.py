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
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, delete, insert, select, update

from gateway.entities import attach
from gateway.ids.resident_id import mask_in_text
from gateway.intake import DEFAULT_LIMITS, ReadError, ReadLimits
from gateway.intake.source import WorkbookFile, open_any
from gateway.mapping.engine import Plan, UnknownHeaders, apply_plan, plan_by_id, plan_for
from gateway.mapping.header_rows import header_note, locate_header
from gateway.mapping.non_data import KindRule, SkippedRow, load_row_rules, split_non_data
from gateway.mapping.spec import MappingError, MappingSpec, choose_specs, load_mappings
from gateway.receipts import MAX_ERRORS, IntakeReceipt
from gateway.row_errors import RowError
from gateway.schema import load_record_types
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.records import Prepared, StoreCounts, prepare, store_batch
from gateway.store.tables import audit, rows_of_file, source_file
from gateway.transfer.private_files import create_private_file, private_dir
from gateway.validation import Validated, validate

log = logging.getLogger(__name__)
BATCH_ROWS = 16_384
T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _ThresholdExceeded(Exception):
    """Raised inside the transaction to roll back everything the file wrote."""


EARLY_STOP_MIN_BAD_ROWS = 1000
"""Bad rows before an early stop is considered: a small file is read to its end and every error listed."""


def _rejection_certain(source: RowSource, bad_rows: int, rows: int, threshold: float) -> bool:
    """Whether the file is rejected whatever its unread rows hold: even if all of them were good, the share
    of bad rows would stay above the threshold. The source bounds how many good rows can still come
    (gateway.intake.source.SourceFile.max_good_rows); without a bound the file is read to its end."""
    if bad_rows < EARLY_STOP_MIN_BAD_ROWS:
        return False
    most_good = source.max_good_rows(bad_rows)
    if most_good is None:
        return False
    return bad_rows / (max(most_good, rows - bad_rows) + bad_rows) > threshold


def _stop_early(receipt: IntakeReceipt, errors: _Errors, threshold: float) -> None:
    receipt.rejected, receipt.accepted = errors.bad_rows, receipt.rows - errors.bad_rows
    receipt.set_errors(errors.kept)
    receipt.error_count = errors.count
    receipt.fail(
        "E_THRESHOLD",
        f"已读取的 {receipt.rows} 行中有 {errors.bad_rows} 行错误；按文件大小，其余各行即使全部正确，"
        f"错误比例也将超过拒收阈值 {threshold:.0%}，因此停止读取，整份文件未接收，请修改后重新报送",
    )


@dataclass(frozen=True)
class IngestResult:
    receipt: IntakeReceipt
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


def _outcome(receipt: IntakeReceipt) -> str:
    return "rejected" if receipt.status == "rejected" else "processed"


def _previous(conn: Connection, department: str, sha256: str) -> list[dict[str, object]]:
    """The rows of a file with these bytes from this department: one, or one per sheet of a workbook."""
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
    return [row._asdict() for row in rows]


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
        return IngestResult(original, _outcome(original), int(previous["id"]), replayed=True)  # type: ignore[call-overload]
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
    """Write the raw batches once, as Parquet; the file appears under its final name only when complete.

    The raw rows are personal data: the folder is made owner-only and the temporary file is created 0600
    before pyarrow opens it (pyarrow truncates an existing file and keeps its mode; left to itself it would
    create the file with the umask's 0644), so no copy is ever readable by others."""
    holder: list[pq.ParquetWriter | None] = [None]
    tmp = path.with_suffix(".parquet.tmp") if path else None
    try:
        if path and tmp:
            private_dir(path.parent)
            os.close(create_private_file(tmp, exclusive=False))
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
        if (
            previous
            and all(row["status"] == "rejected" for row in previous)
            and all(row["archived_at"] is not None for row in previous)
        ):
            # A rejected file stored nothing; dropped again (say after a mapping fix) it gets a fresh look.
            conn.execute(delete(source_file).where(source_file.c.id.in_([row["id"] for row in previous])))
            previous = []
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
        record_types = load_record_types(settings.schemas_dir)
        specs = load_mappings(settings.mappings_dir)
        # Only non-default limits are passed, so what open_any defaults to stays in one place.
        opened = open_any(path) if limits is DEFAULT_LIMITS else open_any(path, limits=limits)
        if isinstance(opened, WorkbookFile):
            # Imported here: gateway.workbook_ingest builds on this module's process_rows.
            from gateway.workbook_ingest import ingest_workbook

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
            if source.preamble:  # a CSV: its header may sit below a title, or over two rows
                candidates, ranked_for = choose_specs(specs, department, mapping_id)
                choice = locate_header(source.preamble, candidates, record_types, ranked_for)
                if (choice.row, choice.depth, choice.headers) != (source.header_row, 1, list(source.headers)):
                    source.use_header(choice.row, choice.depth, choice.headers)
                receipt.header_row, receipt.header_rows = choice.row, choice.depth
                if note := header_note(choice):
                    receipt.warnings.append(note)
                plan = choice.plan
            else:
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


def landing_name(sha256: str, part: str = "") -> str:
    """The landing file of a file (or of one sheet of a workbook: sheet names are not safe in paths)."""
    if not part:
        return f"{sha256}.parquet"
    return f"{sha256}-{hashlib.sha256(part.encode()).hexdigest()[:12]}.parquet"


def queued_rows(
    rtype: RecordType, good: pa.Table, methods: Sequence[str | None], header_of: Callable[[str], str]
) -> list[dict[str, object]]:
    """The rows no entity was found for, each with the identifier it gave (the registry does not know it
    yet) or, without one, its name — for the receipt, so the department can see which and why."""
    waiting = [index for index, method in enumerate(methods) if method is None]
    if not waiting:
        return []
    subject = rtype.subject
    codes = [code for code in (subject.reg_no, subject.org_code, subject.uscc, subject.name) if code]
    taken = good.take(pa.array(waiting))
    values = {code: taken.column(code).to_pylist() for code in codes}
    rows = taken.column("__row__").to_pylist()
    found = []
    for i, row in enumerate(rows):
        code = next((c for c in codes if values[c][i]), codes[-1])
        value = mask_in_text(str(values[code][i] or ""))
        if code == subject.name:
            reason = f"主体库中暂无名称为「{value}」的唯一主体"
        else:
            reason = f"主体库中尚未登记该{header_of(code)}"
        found.append({"row": row, "field": header_of(code), "value": value, "message": reason})
    return found


# Formats people edit by hand, where example rows, notes and footers occur; system exports (XML, JSON) and
# pulled units carry records only.
EDITED_FORMATS = frozenset({"csv", "xlsx", "xls", "ods"})


class RowSource(Protocol):
    """What the processing needs of a source: a department's file (SourceFile) or a landed pull."""

    format: str
    encoding: str | None
    batch_errors: Sequence[tuple[int, str]]
    """The reader's errors for the rows of the batch just yielded (row, message)."""

    def batches(self, batch_rows: int = ...) -> Iterator[pa.RecordBatch]: ...

    def max_good_rows(self, bad_rows: int) -> int | None:
        """At most how many good rows the source can hold, given ``bad_rows`` bad ones; None: unknown."""
        ...


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

    rows: int  # data rows: the batch's rows less the skipped ones
    checked: Validated
    prepared: Prepared
    skipped: list[SkippedRow]


def _checked_batches(
    source: RowSource,
    plan: Plan,
    landing: Path | None,
    writer: list[pq.ParquetWriter | None],
    row_rules: Sequence[tuple[str, KindRule]] = (),
) -> Iterator[_Checked]:
    """Everything per batch that needs no database; ingest runs it one batch ahead on another thread.
    ``row_rules``: how to recognise rows that are not records (example, notes, footers) in files people
    edit; the landing copy keeps them, as it keeps the file's every row."""
    rtype = plan.record_type
    for raw in source.batches(BATCH_ROWS):
        if landing:
            if writer[0] is None:
                writer[0] = pq.ParquetWriter(landing.with_suffix(".parquet.tmp"), raw.schema)
            writer[0].write_batch(raw)
        batch, skipped = split_non_data(raw, row_rules)
        # The reader's errors of exactly this batch's rows (SourceFile keeps only a sample of the file's).
        shape_errors = [
            RowError(row, "（整行）", "E_ROW_SHAPE", message) for row, message in source.batch_errors
        ]
        if skipped:  # a footer's short row is not a malformed record
            not_data = {row.row for row in skipped}
            shape_errors = [error for error in shape_errors if error.row not in not_data]
        mapped = apply_plan(plan, batch)
        checked = validate(rtype, mapped.table, plan.header_of, earlier=[*shape_errors, *mapped.errors])
        yield _Checked(batch.num_rows, checked, prepare(rtype, checked.good), skipped)


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
    receipt: IntakeReceipt,
    now: datetime,
    *,
    land: bool,
    unit_id: int | None = None,
    part: str = "",
) -> IngestResult:
    """Map, validate, attach and store every row in one transaction. ``unit_id``: an already landed unit of
    a pulled source (its row exists and its raw rows are on disk); otherwise the file row is created here.
    ``part``: the sheet of a workbook this is (each sheet is its own row and its own transaction)."""
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
    receipt.warnings.extend(plan.notes)
    landing = settings.landing_dir / department / landing_name(sha256, part) if land else None
    if landing:
        landing.parent.mkdir(parents=True, exist_ok=True)
    row_rules = load_row_rules(settings.mappings_dir) if source.format in EDITED_FORMATS else ()

    errors = _Errors()
    counts = StoreCounts()
    normalised: Counter[str] = Counter()
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
                            "part": part,
                        }
                    ],
                ).scalar_one()
            )
            for ready in _ahead(_checked_batches(source, plan, landing, writer, row_rules)):
                receipt.rows += ready.rows
                receipt.skipped += len(ready.skipped)
                room = MAX_ERRORS - len(receipt.skipped_rows)
                receipt.skipped_rows.extend(row.as_dict() for row in ready.skipped[: max(room, 0)])
                good = ready.checked.good
                attachment = attach(conn, rtype, good, now)
                waiting = queued_rows(rtype, good, attachment.method, plan.header_of)
                receipt.queued_rows.extend(waiting[: max(MAX_ERRORS - len(receipt.queued_rows), 0)])
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
                normalised.update(ready.checked.normalised)
                if _rejection_certain(source, errors.bad_rows, receipt.rows, threshold):
                    _stop_early(receipt, errors, threshold)
                    raise _ThresholdExceeded
            for code, changed in normalised.items():
                receipt.warnings.append(
                    f"「{plan.header_of(code)}」列有 {changed} 个代码按标准写法入库"
                    "（去除空格、连字符和不可见字符，全角转半角，字母转大写）"
                )
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
        return record_rejection(engine, receipt, now, unit_id, part)
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
    engine: Engine, receipt: IntakeReceipt, now: datetime, unit_id: int | None = None, part: str = ""
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
                        "part": part,
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


def _audit(conn: Connection, now: datetime, action: str, subject_id: str, receipt: IntakeReceipt) -> None:
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
    """Called after the drop folder moved the file: from now on the same bytes are a duplicate. Every row
    of the file is marked (a workbook has one per sheet)."""
    with engine_for(settings.database_url).begin() as conn:
        key = conn.execute(
            select(source_file.c.department, source_file.c.sha256).where(source_file.c.id == source_file_id)
        ).one()
        conn.execute(
            update(source_file)
            .where(rows_of_file(key.department, key.sha256))
            .values(archived_path=str(archived_path), archived_at=_now())
        )


def landed_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """Replays read the landing copy, not the department's file (which has been archived)."""
    yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
