"""Retention and upkeep: what the gateway keeps only for a while is removed once that while is over, the
database is vacuumed, and a daily summary says how the gateway did (the gateway_maintenance DAG and
``gateway maintenance``; docs/operations.md, "Retention and maintenance").

The jobs, each returning a ``JobReport`` of what it removed (with ``dry_run``: what it would remove):

``landing``   a unit's raw rows (its Parquet file in the landing area) once it has been processed and its
              day is more than ``landing_retention_days`` whole local days ago. Kept whatever their age: a
              unit not processed yet (status ``landed``), and the newest processed unit of each pulled
              source — the source's current state, where a replay of a quiet source starts. Days are local
              calendar days, so a replay of any date range inside the retention finds every unit of it.
``outbox``    an acknowledged batch's plaintext XML (every rendering of it) ``plaintext_retention_hours``
              after the acknowledgement, and its sealed envelopes after ``envelope_retention_days`` (kept by
              default). Batches in any other state (built, sealed, sent, rejected, dead) are never touched.
``receipts``  the dated folders of the drop folders' ``processed/`` and ``rejected/`` archives (the archived
              exports with their receipts and hub receipts) older than ``archive_retention_days``, and rows
              of the audit table older than ``audit_retention_days``.
``vacuum``    SQLite: VACUUM, ANALYZE and a WAL checkpoint; PostgreSQL: VACUUM (ANALYZE). Outside a
              transaction, as both require.

Crash safety. The database learns of a removal before the file goes, in a transaction of its own, and every
run first finishes what the database says is to go; so a run killed anywhere leaves no row that offers a
file that is gone, and its rerun removes what is left and nothing else (migration 0008):

* landing: ``landing_purged_at`` marks the units (commit), their files are removed, their ``landing_path``
  is cleared (commit); a unit marked but still naming a path is one whose removal was interrupted.
* outbox: ``plaintext_purged_at`` / ``envelopes_purged_at`` mark the batches (commit); then every plaintext or
  envelope file in the outbox whose batch is marked is removed — which includes an interrupted run's.
* receipts: the rows naming a file of a dated folder are marked ``archive_purged_at`` (commit), then the
  folder is removed; an interrupted removal leaves the folder, still too old, for the rerun.

A report counts what its run removed; a file already gone is not counted again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from gateway.delivery import states
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import (
    audit,
    delivery_batch,
    outbox,
    pulled_units,
    record,
    record_version,
    resolution_queue,
    source_file,
)

log = logging.getLogger(__name__)

JOBS = ("landing", "outbox", "receipts", "vacuum")
PROCESSED = ("accepted", "partial", "rejected")  # a unit in any other state has not been processed yet
ARCHIVES = ("processed", "rejected")  # the drop folders' archive folders (connectors/drop_folder.py)
CHUNK = 500  # rows per transaction and per IN list
_DATED = re.compile(r"\d{4}-\d{2}-\d{2}")
# What the delivery writes into the outbox, by batch id (gateway.delivery.batcher and sealing: the gateway's
# batch ids have no dots): <batch>.xml and a renumbered <batch>.q<seq>.xml, each possibly a .tmp left by a
# killed render, and <batch>.s<n>.gwenv per seal.
_OUTBOX_FILE = re.compile(
    r"(?P<batch>[^.]+)\.(?:(?P<plaintext>(?:q\d+\.)?xml(?:\.tmp)?)|(?P<envelope>s\d+\.gwenv))"
)


@dataclass
class JobReport:
    """What one job removed (or, with ``dry_run``, would remove), for logs, the CLI and the DAG's XCom."""

    job: str
    dry_run: bool = False
    files: int = 0  # files removed
    folders: int = 0  # dated archive folders removed (their files are counted in ``files``)
    bytes: int = 0  # bytes of the files removed
    rows: int = 0  # database rows marked as purged, or deleted (audit)
    detail: dict[str, int] = field(default_factory=dict)  # the counts above by kind, and what was kept
    cutoffs: dict[str, str] = field(default_factory=dict)  # what counts as old, as local times

    def count(self, key: str, amount: int = 1) -> None:
        self.detail[key] = self.detail.get(key, 0) + amount

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        parts = [f"{self.job}: {verb} {self.files} files ({_size(self.bytes)})"]
        if self.folders:
            parts.append(f"{self.folders} folders")
        parts.append(f"{self.rows} rows")
        parts.extend(f"{key} {value}" for key, value in sorted(self.detail.items()))
        parts.extend(f"{key} before {value}" for key, value in sorted(self.cutoffs.items()))
        return "; ".join(parts)


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    amount = float(count)
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024 or unit == "GiB":
            break
    return f"{amount:.1f} {unit}"


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def first_kept_day(settings: Settings, now: datetime, days: float) -> date:
    """The oldest local calendar day still kept by a retention of ``days`` (rounded up to whole days)."""
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    return today - timedelta(days=math.ceil(days))


def day_cutoff(settings: Settings, now: datetime, days: float) -> datetime:
    """Local midnight of ``first_kept_day``, in UTC: what is older goes, the whole of that day stays."""
    zone = ZoneInfo(settings.timezone)
    return datetime.combine(first_kept_day(settings, now, days), time(), zone).astimezone(UTC)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _remove_file(path: Path) -> int | None:
    """Remove one file (a link itself, never what it points to); its size, or None when it was gone.

    The one place files are removed, so that the tests can make a run die half-way through."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{path} is a folder, not a file to remove")
    path.unlink(missing_ok=True)
    return info.st_size


def _audit(conn: Connection, now: datetime, action: str, subject: str, detail: dict[str, object]) -> None:
    conn.execute(
        insert(audit),
        [
            {
                "at": now,
                "actor": "maintenance",
                "action": action,
                "subject_type": "maintenance",
                "subject_id": subject,
                "detail": json.dumps(detail, ensure_ascii=False),
            }
        ],
    )


def _local(settings: Settings, moment: datetime) -> str:
    return settings.local_time(moment)


# ------------------------------------------------------------------------------------------------ landing


def purge_landing(settings: Settings, *, now: datetime | None = None, dry_run: bool = False) -> JobReport:
    """Remove processed units' raw rows past ``landing_retention_days`` (see the module docstring)."""
    report = JobReport("landing", dry_run)
    engine = engine_for(settings.database_url)
    if not dry_run:
        _finish_landing(engine, report)
    days = settings.landing_retention_days
    if days is None:
        log.info("%s", report.describe())
        return report
    at = _now(now)
    cutoff = day_cutoff(settings, at, days)
    report.cutoffs["received"] = _local(settings, cutoff)
    # The newest processed unit of each pulled source stays: the current state of a source that may stay
    # quiet for longer than the retention.
    newest = (
        select(func.max(source_file.c.id))
        .where(pulled_units(), source_file.c.status.in_(PROCESSED))
        .group_by(source_file.c.source_id)
    )
    old = and_(
        source_file.c.landing_path.is_not(None),
        source_file.c.landing_purged_at.is_(None),
        source_file.c.received_at < cutoff,
    )
    due = and_(old, source_file.c.status.in_(PROCESSED), source_file.c.id.not_in(newest))
    with engine.connect() as conn:
        report.count(
            "kept_unprocessed", _count(conn, source_file, old, source_file.c.status.not_in(PROCESSED))
        )
        report.count(
            "kept_newest_of_source",
            _count(conn, source_file, old, source_file.c.status.in_(PROCESSED), source_file.c.id.in_(newest)),
        )
        units = conn.execute(select(source_file.c.id, source_file.c.landing_path).where(due)).all()
        interrupted = conn.execute(
            select(source_file.c.landing_path).where(
                source_file.c.landing_purged_at.is_not(None), source_file.c.landing_path.is_not(None)
            )
        ).scalars()
        if dry_run:
            for path in [*(unit.landing_path for unit in units), *interrupted]:
                _count_existing(report, Path(path))
    if dry_run:
        report.rows += len(units)
        log.info("%s", report.describe())
        return report
    for chunk in _chunks([unit.id for unit in units]):
        with engine.begin() as conn:
            marked = conn.execute(
                update(source_file)
                .where(source_file.c.id.in_(list(chunk)), due)
                .values(landing_purged_at=at)
                .returning(source_file.c.id)
            ).all()
            if marked:
                _audit(conn, at, "landing.purged", "landing", {"units": len(marked), "before": str(cutoff)})
        report.rows += len(marked)
    _finish_landing(engine, report)
    log.info("%s", report.describe())
    return report


def _count_existing(report: JobReport, path: Path) -> None:
    try:
        size = path.lstat().st_size
    except FileNotFoundError:
        return
    report.files += 1
    report.bytes += size


def _finish_landing(engine: Engine, report: JobReport) -> None:
    """Remove the files of units marked purged that still name one, then clear the name: the second half of
    a purge, this run's or an interrupted one's."""
    pending = and_(source_file.c.landing_purged_at.is_not(None), source_file.c.landing_path.is_not(None))
    while True:
        with engine.connect() as conn:
            units = conn.execute(
                select(source_file.c.id, source_file.c.landing_path)
                .where(pending)
                .order_by(source_file.c.id)
                .limit(CHUNK)
            ).all()
            if not units:
                return
            # A path a live unit names too is not ours to remove (a defence: landing names are unique).
            live = set(
                conn.execute(
                    select(source_file.c.landing_path).where(
                        source_file.c.landing_path.in_([u.landing_path for u in units]),
                        source_file.c.landing_purged_at.is_(None),
                    )
                ).scalars()
            )
        for unit in units:
            if unit.landing_path in live:
                report.count("shared_path_kept")
                continue
            size = _remove_file(Path(unit.landing_path))
            if size is not None:
                report.files += 1
                report.bytes += size
        with engine.begin() as conn:
            conn.execute(
                update(source_file)
                .where(source_file.c.id.in_([u.id for u in units]), pending)
                .values(landing_path=None)
            )


# ------------------------------------------------------------------------------------------------- outbox


def purge_outbox(settings: Settings, *, now: datetime | None = None, dry_run: bool = False) -> JobReport:
    """Remove acknowledged batches' plaintext XML and, if a retention is set, their envelopes."""
    report = JobReport("outbox", dry_run)
    engine = engine_for(settings.database_url)
    at = _now(now)
    cutoffs: dict[str, datetime] = {}
    if settings.plaintext_retention_hours is not None:
        cutoffs["plaintext"] = at - timedelta(hours=settings.plaintext_retention_hours)
    if settings.envelope_retention_days is not None:
        cutoffs["envelope"] = day_cutoff(settings, at, settings.envelope_retention_days)
    marks = {
        "plaintext": delivery_batch.c.plaintext_purged_at,
        "envelope": delivery_batch.c.envelopes_purged_at,
    }
    would: dict[str, set[str]] = {"plaintext": set(), "envelope": set()}
    for kind, cutoff in cutoffs.items():
        report.cutoffs[f"{kind}_acknowledged"] = _local(settings, cutoff)
        # An acknowledged batch changes no more: its updated_at is the time of the acknowledgement.
        due = and_(
            delivery_batch.c.status == states.ACKNOWLEDGED,
            marks[kind].is_(None),
            delivery_batch.c.updated_at < cutoff,
        )
        with engine.connect() as conn:
            batch_ids = list(conn.execute(select(delivery_batch.c.batch_id).where(due)).scalars())
        if dry_run:
            would[kind].update(batch_ids)
            report.rows += len(batch_ids)
            continue
        for chunk in _chunks(batch_ids):
            with engine.begin() as conn:
                marked = conn.execute(
                    update(delivery_batch)
                    .where(delivery_batch.c.batch_id.in_(list(chunk)), due)
                    .values({marks[kind]: at})
                    .returning(delivery_batch.c.batch_id)
                ).all()
                if marked:
                    _audit(conn, at, f"outbox.{kind}_purged", "outbox", {"batches": len(marked)})
            report.rows += len(marked)
            report.count(f"{kind}_batches_marked", len(marked))
    _remove_outbox_files(engine, settings.outbox_dir, report, would if dry_run else None)
    log.info("%s", report.describe())
    return report


def _outbox_files(folder: Path) -> dict[str, dict[str, list[Path]]]:
    """The outbox's files by batch id and kind (plaintext, envelope); anything else is not listed."""
    found: dict[str, dict[str, list[Path]]] = {}
    if not folder.is_dir():
        return found
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _OUTBOX_FILE.fullmatch(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            kind = "plaintext" if match.group("plaintext") else "envelope"
            found.setdefault(match.group("batch"), {}).setdefault(kind, []).append(Path(entry.path))
    return found


def _remove_outbox_files(
    engine: Engine, folder: Path, report: JobReport, would: dict[str, set[str]] | None
) -> None:
    """Remove the plaintext and envelope files of marked batches (``would``: with a dry run, the batches
    that would be marked, whose files are only counted)."""
    on_disk = _outbox_files(folder)
    for chunk in _chunks(sorted(on_disk)):
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    delivery_batch.c.batch_id,
                    delivery_batch.c.status,
                    delivery_batch.c.plaintext_purged_at,
                    delivery_batch.c.envelopes_purged_at,
                ).where(delivery_batch.c.batch_id.in_(list(chunk)))
            ).all()
        for row in rows:
            if row.status != states.ACKNOWLEDGED:  # marks are only ever set on acknowledged batches
                continue
            for kind, mark in (("plaintext", row.plaintext_purged_at), ("envelope", row.envelopes_purged_at)):
                wanted = mark is not None or (would is not None and row.batch_id in would[kind])
                if not wanted:
                    continue
                for path in sorted(on_disk[row.batch_id].get(kind, [])):
                    if would is not None:
                        _count_existing(report, path)
                        report.count(f"{kind}_files")
                        continue
                    size = _remove_file(path)
                    if size is not None:
                        report.files += 1
                        report.bytes += size
                        report.count(f"{kind}_files")


# ----------------------------------------------------------------------------------------------- receipts


def purge_receipts(settings: Settings, *, now: datetime | None = None, dry_run: bool = False) -> JobReport:
    """Remove the drop folders' dated archive folders and audit rows past their retentions."""
    report = JobReport("receipts", dry_run)
    engine = engine_for(settings.database_url)
    at = _now(now)
    if settings.archive_retention_days is not None:
        first_kept = first_kept_day(settings, at, settings.archive_retention_days)
        report.cutoffs["archive_folder"] = first_kept.isoformat()
        for folder in _expired_archive_folders(settings.dropzone, first_kept):
            _purge_archive_folder(engine, folder, at, report, dry_run)
    if settings.audit_retention_days is not None:
        cutoff = day_cutoff(settings, at, settings.audit_retention_days)
        report.cutoffs["audit"] = _local(settings, cutoff)
        old = audit.c.at < cutoff
        with engine.begin() as conn:
            if dry_run:
                removed = conn.execute(select(func.count()).select_from(audit).where(old)).scalar_one()
            else:
                removed = conn.execute(delete(audit).where(old)).rowcount
        report.rows += removed
        report.count("audit_rows", removed)
    log.info("%s", report.describe())
    return report


def _real_dirs(folder: Path) -> Iterator[Path]:
    """The folders directly in ``folder``, never through a link."""
    if not folder.is_dir() or folder.is_symlink():
        return
    with os.scandir(folder) as entries:
        listed = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries)
    for name, is_dir in listed:
        if is_dir:
            yield folder / name


def _expired_archive_folders(dropzone: Path, first_kept: date) -> Iterator[Path]:
    """Every ``<department>/<processed|rejected>/<YYYY-MM-DD>`` folder dated before ``first_kept``."""
    for department in _real_dirs(dropzone):
        for archive in ARCHIVES:
            for folder in _real_dirs(department / archive):
                if _DATED.fullmatch(folder.name) is None:
                    continue
                try:
                    day = date.fromisoformat(folder.name)
                except ValueError:
                    continue
                if day < first_kept:
                    yield folder


def _measure(folder: Path) -> tuple[int, int]:
    """Files (links included, never followed) and their bytes under ``folder``."""
    files = size = 0
    for root, dirs, names in os.walk(folder, followlinks=False):
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(root, d)))]:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
            files += 1
    return files, size


def _purge_archive_folder(
    engine: Engine, folder: Path, at: datetime, report: JobReport, dry_run: bool
) -> None:
    """Mark the rows naming a file in ``folder``, then remove it: files one by one, and whatever folder a
    refused entry brought along (connectors/drop_folder.py ``discard``) as a tree, never following a link."""
    files, size = _measure(folder)
    if dry_run:
        report.files += files
        report.bytes += size
        report.folders += 1
        return
    prefix = f"{folder}{os.sep}"
    with engine.begin() as conn:
        marked = conn.execute(
            update(source_file)
            .where(
                source_file.c.archive_purged_at.is_(None),
                func.substr(source_file.c.archived_path, 1, len(prefix)) == prefix,
            )
            .values(archive_purged_at=at)
            .returning(source_file.c.id)
        ).all()
        _audit(
            conn,
            at,
            "archive.purged",
            "archive",
            {"folder": str(folder), "units": len(marked), "files": files},
        )
    report.rows += len(marked)
    report.count("archive_rows_marked", len(marked))
    with os.scandir(folder) as entries:
        listed = sorted((Path(entry.path), entry.is_dir(follow_symlinks=False)) for entry in entries)
    for path, is_dir in listed:
        if is_dir:
            inner_files, inner_size = _measure(path)
            shutil.rmtree(path)  # fd-based on Linux: links inside are removed, never followed
            report.files += inner_files
            report.bytes += inner_size
            continue
        removed = _remove_file(path)
        if removed is not None:
            report.files += 1
            report.bytes += removed
    try:
        folder.rmdir()
    except OSError as exc:  # something was written into it meanwhile (a hub receipt): the next run removes it
        log.warning("archive folder %s not removed (%s); the next run tries again", folder, exc.strerror)
        return
    report.folders += 1


# ------------------------------------------------------------------------------------------------- vacuum


def database_size(engine: Engine) -> int:
    """Bytes the database takes: SQLite's pages, PostgreSQL's pg_database_size."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int(pages) * int(page_size)
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())


def vacuum(settings: Settings, *, now: datetime | None = None, dry_run: bool = False) -> JobReport:
    """Give the space of removed rows back and refresh the planner's statistics.

    VACUUM cannot run inside a transaction on either database, hence the autocommit connection. On SQLite it
    rewrites the whole file (it needs as much free disk again, and waits for other writers up to the busy
    timeout); the WAL checkpoint afterwards shrinks the -wal file back. PostgreSQL's plain VACUUM marks the
    space reusable without locking out writers; the file rarely shrinks, so ``bytes`` there is often 0."""
    report = JobReport("vacuum", dry_run)
    engine = engine_for(settings.database_url)
    before = database_size(engine)
    report.detail["size_before"] = before
    if not dry_run:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("VACUUM")
                conn.exec_driver_sql("ANALYZE")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                conn.exec_driver_sql("VACUUM (ANALYZE)")
    after = database_size(engine)
    report.detail["size_after"] = after
    report.bytes = max(0, before - after)
    log.info("%s", report.describe())
    return report


# -------------------------------------------------------------------------------------------------- jobs

_RUNNERS = {"landing": purge_landing, "outbox": purge_outbox, "receipts": purge_receipts, "vacuum": vacuum}


def run_job(settings: Settings, job: str, *, now: datetime | None = None, dry_run: bool = False) -> JobReport:
    if job not in _RUNNERS:
        raise ValueError(f"unknown maintenance job {job!r}; one of {', '.join(JOBS)}")
    return _RUNNERS[job](settings, now=now, dry_run=dry_run)


def run_all(
    settings: Settings,
    only: Iterable[str] = (),
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[JobReport]:
    """The jobs in their order (vacuum last, after the removals it compacts), or only those named."""
    wanted = list(only) or list(JOBS)
    unknown = sorted(set(wanted) - set(JOBS))
    if unknown:
        raise ValueError(f"unknown maintenance job {unknown}; one of {', '.join(JOBS)}")
    return [run_job(settings, job, now=now, dry_run=dry_run) for job in JOBS if job in wanted]


# ------------------------------------------------------------------------------------------------ summary


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything the gateway writes is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _files_by_department(conn: Connection, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Dropped files recorded in the window, per department; a workbook (one row per sheet) is one file:
    accepted if every sheet was, rejected if every sheet was, partial otherwise."""
    rows = conn.execute(
        select(
            source_file.c.source_id,
            source_file.c.sha256,
            source_file.c.status,
            source_file.c.rows_accepted,
            source_file.c.rows_rejected,
        ).where(
            source_file.c.kind == "file",
            source_file.c.received_at >= since,
            source_file.c.received_at < until,
        )
    ).all()
    files: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        files.setdefault((row.source_id, row.sha256), []).append(row)
    out: dict[str, dict[str, Any]] = {}
    for (department, _sha), parts in sorted(files.items()):
        entry = out.setdefault(
            department,
            {
                "department": department,
                "received": 0,
                "accepted": 0,
                "partial": 0,
                "rejected": 0,
                "rows_accepted": 0,
                "rows_rejected": 0,
            },
        )
        statuses = {part.status for part in parts}
        verdict = (
            "rejected" if statuses == {"rejected"} else "accepted" if statuses == {"accepted"} else "partial"
        )
        entry["received"] += 1
        entry[verdict] += 1
        entry["rows_accepted"] += sum(part.rows_accepted for part in parts)
        entry["rows_rejected"] += sum(part.rows_rejected for part in parts)
    return list(out.values())


def _pulled_units(conn: Connection, since: datetime, until: datetime) -> list[dict[str, Any]]:
    stmt = (
        select(
            source_file.c.source_id.label("source"),
            func.count().label("units"),
            func.coalesce(func.sum(source_file.c.rows_total), 0).label("rows"),
            func.coalesce(func.sum(source_file.c.rows_rejected), 0).label("rows_rejected"),
        )
        .where(
            pulled_units(),
            source_file.c.received_at >= since,
            source_file.c.received_at < until,
        )
        .group_by(source_file.c.source_id)
        .order_by(source_file.c.source_id)
    )
    return [
        {key: (value if key == "source" else int(value)) for key, value in row._asdict().items()}
        for row in conn.execute(stmt)
    ]


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def daily_summary(
    settings: Settings, *, now: datetime | None = None, period: timedelta = timedelta(days=1)
) -> dict[str, Any]:
    """How the gateway did in the ``period`` up to ``now``, and what waits now."""
    until = _now(now)
    since = until - period
    window = (since, until)
    with engine_for(settings.database_url).connect() as conn:
        operations = dict(
            conn.execute(
                select(record_version.c.operation, func.count())
                .where(record_version.c.created_at >= since, record_version.c.created_at < until)
                .group_by(record_version.c.operation)
            ).all()
        )

        def in_window(column: Any) -> Any:
            return and_(column >= window[0], column < window[1])

        batches = {
            "sent": _count(conn, delivery_batch, in_window(delivery_batch.c.sent_at)),
            "acknowledged": _count(
                conn,
                delivery_batch,
                delivery_batch.c.status == states.ACKNOWLEDGED,
                in_window(delivery_batch.c.updated_at),
            ),
            "rejected": _count(
                conn,
                delivery_batch,
                delivery_batch.c.status == states.REJECTED,
                in_window(delivery_batch.c.updated_at),
            ),
            "dead": _count(
                conn,
                delivery_batch,
                delivery_batch.c.status == states.DEAD,
                in_window(delivery_batch.c.dead_at),
            ),
            "open_now": _count(conn, delivery_batch, delivery_batch.c.status.in_(states.OPEN)),
            "dead_now": _count(conn, delivery_batch, delivery_batch.c.status == states.DEAD),
        }
        oldest = conn.execute(
            select(delivery_batch.c.batch_id, delivery_batch.c.status, delivery_batch.c.created_at)
            .where(delivery_batch.c.status.in_((*states.OPEN, states.DEAD)))
            .order_by(delivery_batch.c.created_at, delivery_batch.c.seq)
            .limit(1)
        ).first()
        summary: dict[str, Any] = {
            "since": _local(settings, since),
            "until": _local(settings, until),
            "departments": _files_by_department(conn, since, until),
            "pulled": _pulled_units(conn, since, until),
            "records": {
                "stored": sum(operations.values()),
                "new": int(operations.get("i", 0)),
                "updated": int(operations.get("u", 0)),
                "withdrawn": int(operations.get("d", 0)),
                "held": _count(conn, record),
            },
            "batches": batches,
            "oldest_unacknowledged": None,
            "unresolved_queue": _count(conn, resolution_queue, resolution_queue.c.resolved_at.is_(None)),
            "outbox_waiting": _count(conn, outbox, outbox.c.batch_id.is_(None)),
        }
    if oldest is not None:
        built = _utc(oldest.created_at)
        assert built is not None
        summary["oldest_unacknowledged"] = {
            "batch_id": oldest.batch_id,
            "status": oldest.status,
            "built_at": _local(settings, built),
            "age_hours": round((until - built).total_seconds() / 3600, 1),
        }
    return summary


def summary_text(summary: dict[str, Any]) -> str:
    """The summary for people: Chinese first, English after each label."""
    lines = [
        "网关每日摘要 / Gateway daily summary",
        f"时段 / period: {summary['since']} — {summary['until']}",
        "",
        "部门报送文件 / department files:",
    ]
    if not summary["departments"]:
        lines.append("  无 / none")
    for d in summary["departments"]:
        lines.append(
            f"  {d['department']}: 收到 {d['received']} 个 received, 接收 {d['accepted']} accepted, "
            f"部分接收 {d['partial']} partial, 拒收 {d['rejected']} rejected; "
            f"行 rows: 接收 {d['rows_accepted']} accepted, 退回 {d['rows_rejected']} rejected"
        )
    lines.append("拉取数据 / pulled sources:")
    if not summary["pulled"]:
        lines.append("  无 / none")
    for p in summary["pulled"]:
        lines.append(
            f"  {p['source']}: 落地 {p['units']} 批 units landed, {p['rows']} 行 rows, "
            f"退回 {p['rows_rejected']} 行 rejected"
        )
    records = summary["records"]
    lines.append(
        f"入库记录版本 / record versions stored: {records['stored']} "
        f"(新增 new {records['new']}, 更新 updated {records['updated']}, "
        f"撤销 withdrawn {records['withdrawn']}); "
        f"现有记录 / records held: {records['held']}"
    )
    b = summary["batches"]
    lines.append(
        f"报送批次 / batches: 发送 sent {b['sent']}, 确认 acknowledged {b['acknowledged']}, "
        f"拒收 rejected {b['rejected']}, 转为死信 dead {b['dead']}; "
        f"当前未完成 open now {b['open_now']}, 当前死信 dead now {b['dead_now']}"
    )
    oldest = summary["oldest_unacknowledged"]
    if oldest is None:
        lines.append("最早未确认批次 / oldest unacknowledged batch: 无 / none")
    else:
        lines.append(
            f"最早未确认批次 / oldest unacknowledged batch: {oldest['batch_id']} ({oldest['status']}), "
            f"生成于 built {oldest['built_at']}, 已 {oldest['age_hours']} 小时 hours"
        )
    lines.append(
        f"待关联主体 / waiting for an entity: {summary['unresolved_queue']}; "
        f"待分批 / outbox waiting: {summary['outbox_waiting']}"
    )
    return "\n".join(lines) + "\n"
