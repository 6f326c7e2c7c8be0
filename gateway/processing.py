"""A unit's rows into the store: map → validate → attach → store, in one transaction.

The unit is a department's file (gateway.ingest), one sheet of a workbook (gateway.workbook_ingest) or a
pulled source's landed unit (gateway.landing). Its batches are read, mapped, validated and prepared one
batch ahead on a second thread (gateway.read_ahead), or for a large unit in a forked process of its own
(gateway.read_process), while the batch before is attached and stored; a file read for the first time is
landed as Parquet on the way (gateway.parquet_landing), by whichever side reads. Nothing is committed
unless the whole unit is through: the unit's row, its records, their versions and the outbox rows commit
together, and a unit whose share of bad rows passes the threshold is rejected whole and stores nothing.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

import pyarrow as pa
from sqlalchemy import Connection, Engine

from gateway.entities import attach
from gateway.ids.resident_id import mask_in_text
from gateway.mapping.engine import Plan, apply_plan
from gateway.mapping.non_data import KindRule, SkippedRow, load_row_rules, split_non_data
from gateway.parquet_landing import ParquetLanding, headed_schema, landing_name
from gateway.progress import ROWS, advance
from gateway.read_ahead import ahead
from gateway.read_process import in_child
from gateway.receipts import MAX_ERRORS, IntakeReceipt
from gateway.row_errors import RowError
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.source_units import IngestResult, record_file, record_outcome, record_rejection
from gateway.store.records import ROW, Prepared, StoreCounts, prepare, store_batch
from gateway.validation import Validated, validate

log = logging.getLogger(__name__)
BATCH_ROWS = 16_384
FORKED_BATCH_ROWS = 8_192
"""Batches of a unit read in its own process are half as large: both processes then hold a batch being
made or stored, a pickled copy and the lists made from it, and 16,384 rows took the pair to about 1 GB on
a 1M-row file; 8,192 costs some 5 % of the speed (docs/performance.md)."""
EARLY_STOP_MIN_BAD_ROWS = 1000
"""Bad rows before an early stop is considered: a small file is read to its end and every error listed."""
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


class _Rejected(Exception):
    """Raised inside the transaction to roll back everything the unit wrote."""


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


@dataclass
class _Tally:
    """What the batches stored so far add up to."""

    errors: _Errors = field(default_factory=_Errors)
    counts: StoreCounts = field(default_factory=StoreCounts)
    normalised: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Checked:
    """One batch read, landed, mapped and validated, with its accepted rows prepared for the store."""

    rows: int  # data rows: the batch's rows less the skipped ones
    checked: Validated
    prepared: Prepared
    skipped: list[SkippedRow]


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
    replay_of: int | None = None,
) -> IngestResult:
    """Map, validate, attach and store every row in one transaction. ``unit_id``: an already landed unit of
    a pulled source (its row exists and its raw rows are on disk); otherwise the file's row is recorded here
    and, with ``land``, its raw rows are landed as they are read. ``part``: the sheet of a workbook this is
    (each sheet is its own row and its own transaction). ``replay_of``: the unit whose landed rows these
    are, processed again (gateway.replay): the row recorded here is the replay's."""
    threshold = _describe(receipt, plan, settings)
    landing = settings.landing_dir / receipt.department / landing_name(receipt.sha256, part) if land else None
    # The landing copy names its columns as the plan read them, so a replay can bind today's mapping to them.
    landed: AbstractContextManager[ParquetLanding | None] = (
        ParquetLanding(landing, headed_schema(plan.headers)) if landing else nullcontext()
    )
    row_rules = load_row_rules(settings.mappings_dir) if source.format in EDITED_FORMATS else ()
    tally = _Tally()
    try:
        # The landing copy outlives the block only when the transaction that records it commits.
        with landed as copy, engine.begin() as conn:
            file_id = unit_id
            if file_id is None:
                path = str(landing) if landing else None
                file_id = record_file(
                    conn, receipt, now, status="processing", part=part, landing_path=path, replay_of=replay_of
                )
            forked = _reads_in_child(settings, source)
            if forked:
                log.info("%s/%s: read in a process of its own", receipt.department, receipt.file)
            raw_rows = 0
            # Closed on leaving, whatever the way out: the reading thread or process ends before the
            # landing copy is removed or kept.
            with closing(_reading(source, plan, copy, row_rules, forked)) as batches:
                for ready in batches:
                    _store(conn, plan, ready, receipt, tally, file_id, now, replay_of)
                    raw_rows += ready.rows + len(ready.skipped)
                    advance(ROWS, ready.rows + len(ready.skipped))
                    if _rejection_certain(source, tally.errors.bad_rows, receipt.rows, threshold):
                        _stop_early(receipt, tally.errors, threshold)
                        raise _Rejected
            _conclude(receipt, plan, tally, threshold)
            record_outcome(conn, file_id, receipt, now, replay_of)
            if copy is not None:
                if forked:
                    copy.adopt(raw_rows)
                copy.keep()
    except _Rejected:
        return record_rejection(engine, receipt, now, unit_id, part, replay_of)
    log.info(
        "%s/%s: %s, %d rows, %d accepted (%d new, %d updated, %d unchanged), %d rejected",
        receipt.department,
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


def _describe(receipt: IntakeReceipt, plan: Plan, settings: Settings) -> float:
    """Put the plan in the receipt (mapping, record type, the columns it ignores); returns the threshold."""
    rtype = plan.record_type
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
    return threshold


def _reads_in_child(settings: Settings, source: RowSource) -> bool:
    """Whether this unit's reading side runs in a process of its own (gateway.read_process): for units of
    at least ``read_process_min_bytes``, where the fork pays for itself, and only where there is fork."""
    threshold = settings.read_process_min_bytes
    if threshold is None or not hasattr(os, "fork"):
        return False
    return _unit_bytes(source) >= threshold


def _unit_bytes(source: RowSource) -> int:
    """The unit's size on disk: a department's file (SourceFile.size) or a landed unit's Parquet file."""
    size = getattr(source, "size", None)
    if isinstance(size, int):
        return size
    path = getattr(source, "path", None)
    return os.stat(path).st_size if isinstance(path, (str, os.PathLike)) else 0


def _reading(
    source: RowSource,
    plan: Plan,
    landing: ParquetLanding | None,
    row_rules: Sequence[tuple[str, KindRule]],
    forked: bool,
) -> Iterator[_Checked]:
    """The checked batches, one ahead of the store: made on a second thread, or with ``forked`` in a
    child process that also writes the landing copy and closes it (the parent then adopts the file)."""
    if not forked:
        return ahead(_on_thread(_checked_batches(source, plan, landing, row_rules)))

    def produce() -> Iterator[_Checked]:
        rows = min(BATCH_ROWS, FORKED_BATCH_ROWS)  # BATCH_ROWS when a test makes it smaller
        batches = _checked_batches(source, plan, landing, row_rules, rows)
        yield from _for_parent(batches, plan.record_type)
        if landing is not None:
            landing.finish()

    return in_child(produce)


def _checked_batches(
    source: RowSource,
    plan: Plan,
    landing: ParquetLanding | None,
    row_rules: Sequence[tuple[str, KindRule]] = (),
    batch_rows: int | None = None,
) -> Iterator[_Checked]:
    """Everything per batch that needs no database; process_rows runs it one batch ahead on another thread,
    or in a process of its own for a large unit.
    ``row_rules``: how to recognise rows that are not records (example, notes, footers) in files people
    edit; the landing copy keeps them, as it keeps the file's every row."""
    rtype = plan.record_type
    for raw in source.batches(batch_rows or BATCH_ROWS):
        if landing is not None:
            landing.write(raw)
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


def _on_thread(batches: Iterator[_Checked]) -> Iterator[_Checked]:
    """The reading thread also makes the lists the driver binds, so the storing thread does not."""
    for ready in batches:
        ready.prepared.materialize()
        yield ready


def _for_parent(batches: Iterator[_Checked], rtype: RecordType) -> Iterator[_Checked]:
    """What crosses from the reading process: of the accepted rows' table, only the columns storing reads
    (the subject's, for attaching and the receipt's waiting rows, and the row numbers); the rest of the
    record is in the prepared payloads. Less to copy, and less held on either side."""
    subject = rtype.subject
    wanted = [
        code
        for code in dict.fromkeys(
            (subject.name, subject.uscc, subject.reg_no, subject.org_code, subject.kind, ROW)
        )
        if code
    ]
    for ready in batches:
        good = ready.checked.good.select(wanted)
        yield replace(ready, checked=replace(ready.checked, good=good))


def _store(
    conn: Connection,
    plan: Plan,
    ready: _Checked,
    receipt: IntakeReceipt,
    tally: _Tally,
    file_id: int,
    now: datetime,
    replay_of: int | None = None,
) -> None:
    """Attach and store one checked batch; its rows, skipped rows and waiting rows go into the receipt."""
    rtype = plan.record_type
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
        source_sha256=receipt.sha256,
        now=now,
        header_of=plan.header_of,
        prepared=ready.prepared,
        replay_of=replay_of,
    )
    tally.errors.add([*ready.checked.errors, *stored.duplicates])
    tally.counts.add(replace(stored, duplicates=[]))
    tally.normalised.update(ready.checked.normalised)


def _conclude(receipt: IntakeReceipt, plan: Plan, tally: _Tally, threshold: float) -> None:
    """The unit's counts and verdict into its receipt; raises _Rejected when it is not accepted."""
    for code, changed in tally.normalised.items():
        receipt.warnings.append(
            f"「{plan.header_of(code)}」列有 {changed} 个代码按标准写法入库"
            "（去除空格、连字符和不可见字符，全角转半角，字母转大写）"
        )
    errors, counts = tally.errors, tally.counts
    bad_rows = errors.bad_rows
    receipt.rejected = bad_rows
    receipt.accepted = receipt.rows - bad_rows
    receipt.new, receipt.updated = counts.inserted, counts.updated
    receipt.unchanged, receipt.queued = counts.unchanged, counts.queued
    receipt.withdrawn = counts.withdrawn
    if counts.superseded:
        receipt.warnings.append(
            f"{counts.superseded} 行的记录在该单元之后已被更新的数据改过，本次重新处理未改动（计入未变化）"
        )
    if counts.kept_out:
        receipt.warnings.append(
            f"{counts.kept_out} 行对应的记录已因公示期满或信用修复从省级平台撤下，新内容已入库（计入更新），"
            "但不再报送"
        )
    if counts.held:
        receipt.warnings.append(
            f"{counts.held} 行对应的记录有未处理的异议，新内容已入库（计入更新），异议处理完毕后再报送"
        )
    receipt.set_errors(errors.kept)
    receipt.error_count = errors.count
    if receipt.rows == 0:
        receipt.fail("E_NO_ROWS", "文件只有表头，没有数据行")
        raise _Rejected
    share = bad_rows / receipt.rows
    if receipt.accepted == 0 or share > threshold:
        receipt.fail(
            "E_THRESHOLD",
            f"错误行 {bad_rows} 行，占 {share:.0%}，超过拒收阈值 "
            f"{threshold:.0%}，整份文件未接收，请修改后重新报送",
        )
        raise _Rejected
    receipt.status = "partial" if bad_rows else "accepted"


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
    receipt.set_errors(errors.kept)
    receipt.error_count = errors.count
    receipt.fail(
        "E_THRESHOLD",
        f"已读取的 {receipt.rows} 行中有 {errors.bad_rows} 行错误；按文件大小，其余各行即使全部正确，"
        f"错误比例也将超过拒收阈值 {threshold:.0%}，因此停止读取，整份文件未接收，请修改后重新报送",
    )


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
