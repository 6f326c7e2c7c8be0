"""Department drop folders as a source: list what waits in each inbox, ingest one file, archive it with
its receipts. The department_files DAG maps ``process_file`` over ``scan_inboxes``; tests call them directly.

Order of effects for one file, chosen so a crash anywhere loses and duplicates nothing:
0. the database is asked whether it answers: if not, the run stops and the file stays in the inbox;
1. the file is claimed: moved into the department's private work folder and checked there (drop_folder);
2. ingest (one database transaction: records, versions, outbox and the file's own row with its receipt);
3. write the receipts next to the file and move it to processed/ or rejected/ (the drop folder);
4. mark the file archived in the database.
A crash after 1 leaves a claimed file, which the next run lists again. A crash before 2 commits: the file
is processed again. Between 2 and 4: the file is recognised by its sha256 and the stored receipt is written
again. After 4: the same bytes dropped again are answered as a duplicate.

Every file leaves the inbox with a receipt, whatever happens to it: a link, a device or a temporary name is
refused with a receipt saying why; a failure of the gateway itself on one file (a bug, a file that breaks a
reader) gives a rejected receipt with code E_INTERNAL, files the file under rejected/ and logs the error
for the engineers, and the run goes on. Only a failure of the platform — the database down or locked, a
full or failing disk — stops the run, and the file goes back to the inbox for the next run.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import traceback
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from connectors.drop_folder import (
    NOT_FILES,
    UNFINISHED_SUFFIXES,
    DropFolder,
    Outcome,
    Pending,
    is_temporary,
)
from gateway.ids.resident_id import mask_in_text
from gateway.ingest import file_sha256, ingest_file, mark_archived
from gateway.receipts import IntakeReceipt
from gateway.redaction import redacted
from gateway.settings import Settings
from gateway.store.db import engine_for

log = logging.getLogger(__name__)

# Errors of the machine rather than of a file: the same file will very likely go through once they pass.
_PLATFORM_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ENOSPC",
        "EDQUOT",
        "EROFS",
        "EIO",
        "ENOMEM",
        "EMFILE",
        "ENFILE",
        "ESTALE",
        "ENOTCONN",
        "ETIMEDOUT",
        "EHOSTDOWN",
        "EHOSTUNREACH",
    )
    if hasattr(errno, name)
)
# SQLSTATE classes of a database that cannot work now: connection (08), rollback — deadlock, serialisation
# (40), insufficient resources (53), operator intervention — shutdown, statement timeout (57), system (58).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
_TRANSIENT_SQLSTATES = ("55P03",)  # lock_not_available
_TRANSIENT_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN")
_TRANSIENT_SQLITE += ("SQLITE_READONLY", "SQLITE_NOMEM", "SQLITE_PROTOCOL")

NOT_FILE_RECEIPTS: dict[str, tuple[str, str]] = {
    "symlink": (
        "E_SYMLINK",
        "「{name}」是符号链接（快捷方式），不是文件本身：网关未读取它指向的内容，已删除该链接。"
        "请把文件本身放入收件箱。",
    ),
    "hardlink": (
        "E_HARDLINK",
        "「{name}」是硬链接（同一文件在其他位置还有名称）：网关未读取，已删除收件箱中的这个链接，"
        "其他位置的文件不受影响。请把文件复制一份放入收件箱。",
    ),
    "fifo": ("E_NOT_A_FILE", "「{name}」是管道（FIFO），不是普通文件：网关未读取，已将其移出收件箱。"),
    "device": ("E_NOT_A_FILE", "「{name}」是设备文件，不是普通文件：网关未读取，已将其移出收件箱。"),
    "socket": ("E_NOT_A_FILE", "「{name}」是套接字，不是普通文件：网关未读取，已将其移出收件箱。"),
    "directory": (
        "E_NOT_A_FILE",
        "「{name}」在处理时变成了文件夹：网关不处理文件夹，已将其原样移至本回执所在目录。",
    ),
}


def _folder(settings: Settings) -> DropFolder:
    return DropFolder(
        settings.dropzone,
        settle_seconds=settings.settle_seconds,
        temp_grace_seconds=settings.temp_grace_seconds,
    )


def scan_inboxes(settings: Settings) -> list[dict[str, str]]:
    """Every file waiting in any department's inbox, as plain references (department, path, name).

    The path is the one to show (its name masked, see Pending.shown_path): it travels through Airflow's
    XCom and task labels, where a resident ID number must not appear; ``process_file`` finds the file by it.
    """
    folder = _folder(settings)
    found = [
        {"department": department, "path": str(p.shown_path), "name": p.name}
        for department in folder.departments()
        for p in folder.pending(department)
    ]
    log.info("%d files waiting in %s", len(found), settings.dropzone)
    return found


def inbox_lag(settings: Settings) -> float:
    """Seconds the oldest settled file has waited in any inbox (0 when none waits); looks, changes nothing."""
    folder = _folder(settings)
    return max((folder.waiting(d).oldest_seconds for d in folder.departments()), default=0.0)


def process_file(settings: Settings, department: str, path: str) -> dict[str, object]:
    """Claim one inbox file, ingest it and archive it with its receipts; returns a summary for the run log.

    ``path``: as ``scan_inboxes`` gives it (the shown path), or the file's real path."""
    folder = _folder(settings)
    listed = _find(folder, department, path)
    if listed is None:
        shown = mask_in_text(Path(path).name)
        log.warning("%s/%s is no longer waiting (taken by another run?)", department, shown)
        return {"department": department, "file": shown, "status": "gone"}
    check_database(settings)  # down: the run stops here, and the file has not been touched
    claimed = folder.claim(listed, department)
    if claimed is None:
        log.warning("%s/%s vanished before it could be claimed", department, listed.name)
        return {"department": department, "file": listed.name, "status": "gone"}
    try:
        return _handle(settings, folder, department, listed, claimed)
    except Exception as exc:
        if is_platform_failure(settings, exc) and folder.release(claimed, listed):
            log.warning("%s/%s put back into the inbox for the next run", department, listed.name)
        raise


def check_database(settings: Settings) -> None:
    """Raise if the gateway database does not answer: nothing can be recorded, so nothing is taken."""
    with engine_for(settings.database_url).connect() as conn:
        conn.execute(text("SELECT 1"))


def is_platform_failure(settings: Settings, exc: BaseException) -> bool:
    """Whether ``exc`` is the platform failing (the run must stop and the file wait) rather than this file.

    Known signs first — a database that refuses connections, is locked or timed out, a full or failing disk
    or share — then the question that decides the rest: does the database still answer? A failure that
    came with a lost database is the database's; one that leaves it answering belongs to the file."""
    for error in _causes(exc):
        if isinstance(error, OSError) and error.errno in _PLATFORM_ERRNOS:
            return True
        if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return True
        if isinstance(error, sa_exc.DBAPIError) and (
            error.connection_invalidated or _transient_database_error(error.orig)
        ):
            return True
    try:
        check_database(settings)
    except Exception:
        return True
    return False


def _handle(
    settings: Settings, folder: DropFolder, department: str, listed: Pending, claimed: Pending
) -> dict[str, object]:
    if claimed.kind == "replaced":
        # Not the inode that was listed and settled: swapped in the last moment. Back to the inbox, to be
        # looked at (and waited for) like any new file; if its name is taken, it is processed from here.
        if folder.release(claimed, listed):
            log.warning("%s/%s was replaced after listing; left for the next run", department, listed.name)
            return {"department": department, "file": listed.name, "status": "requeued"}
        claimed = replace(claimed, kind="temporary" if is_temporary(claimed.path.name) else "file")
    if claimed.kind in NOT_FILES:
        return _refuse_entry(settings, folder, department, claimed)
    if claimed.kind == "temporary":
        receipt = _refusal(settings, department, claimed, "E_TEMP_NAME", _temporary_reason(claimed.name))
        archived = folder.finish(claimed, department, "rejected", receipt.sha256, receipt.files())
        log.warning("%s/%s: temporary name, refused unprocessed → %s", department, claimed.name, archived)
        return _summary(department, claimed.name, receipt, archived)
    return _ingest(settings, folder, department, claimed)


def _ingest(settings: Settings, folder: DropFolder, department: str, claimed: Pending) -> dict[str, object]:
    """The claimed file through the pipeline; any failure that is not the platform's gets E_INTERNAL."""
    source_file_id: int | None = None
    outcome: Outcome
    try:
        result = ingest_file(settings, claimed.path, department, display_name=claimed.name)
        receipt, source_file_id = result.receipt, result.source_file_id
        outcome = "rejected" if result.outcome == "rejected" else "processed"
        receipts = receipt.files()
    except Exception as exc:
        if is_platform_failure(settings, exc):
            raise
        receipt = _internal_failure(settings, department, claimed, exc)
        outcome, receipts = "rejected", receipt.files()
    archived = folder.finish(claimed, department, outcome, receipt.sha256, receipts)
    if source_file_id is not None and receipt.status != "duplicate":
        mark_archived(settings, source_file_id, archived)
    log.info(
        "%s/%s → %s (%s: %d accepted, %d rejected); receipt %s.receipt.txt",
        department,
        claimed.name,
        outcome,
        receipt.status,
        receipt.accepted,
        receipt.rejected,
        archived,
    )
    return _summary(department, claimed.name, receipt, archived)


def _refuse_entry(
    settings: Settings, folder: DropFolder, department: str, claimed: Pending
) -> dict[str, object]:
    """A link, device node, FIFO, socket or folder: a receipt under rejected/, the entry removed unread."""
    code, message = NOT_FILE_RECEIPTS[claimed.kind]
    receipt = _refusal(settings, department, claimed, code, message.format(name=claimed.name), read=False)
    reference = folder.discard(claimed, department, receipt.files())
    log.warning(
        "%s/%s: a %s, refused unread; receipt %s.receipt.txt",
        department,
        claimed.name,
        claimed.kind,
        reference,
    )
    return _summary(department, claimed.name, receipt, reference)


def _refusal(
    settings: Settings, department: str, claimed: Pending, code: str, message: str, *, read: bool = True
) -> IntakeReceipt:
    """A rejected receipt for a file refused before the pipeline. ``read``: whether the claimed entry is a
    regular file of ours whose sha256 and size identify it for the department (a link is never read)."""
    sha256, size = file_sha256(claimed.path) if read else ("", 0)
    receipt = IntakeReceipt(
        department=department,
        file=claimed.name,
        sha256=sha256,
        size=size,
        received_at=settings.local_time(datetime.now(UTC).replace(microsecond=0)),
    )
    receipt.fail(code, message)
    return receipt


def _internal_failure(settings: Settings, department: str, claimed: Pending, exc: Exception) -> IntakeReceipt:
    """The last resort: the department learns that the gateway, not its file, failed; engineers get the
    traceback in the log (IDs masked, SQL parameters and URL passwords removed), matched by the reference."""
    sha256, _ = file_sha256(claimed.path)
    reference = sha256[:12]
    log.error(
        "%s/%s: the gateway failed on this file (reference %s); filed under rejected/ with E_INTERNAL:\n%s",
        department,
        claimed.name,
        reference,
        redacted("".join(traceback.format_exception(exc))),
    )
    return _refusal(
        settings,
        department,
        claimed,
        "E_INTERNAL",
        f"网关处理文件「{claimed.name}」时发生内部故障，本文件未入库。这是网关的问题，平台工程师已收到告警"
        f"（事件编号 {reference}），排除后会与贵单位联系，届时无须修改文件即可重新报送。",
    )


def _temporary_reason(name: str) -> str:
    """Why a temporary name is refused, in the department's terms, and what to do about it."""
    suffix = next((end for end in UNFINISHED_SUFFIXES if name.lower().endswith(end)), "")
    if name.startswith("~$"):
        why = "以“~$”开头，是 Office 打开文档时生成的锁定文件"
    elif name.startswith("."):
        why = "以“.”开头，通常是编辑器或同步工具写入过程中的临时（隐藏）文件"
    else:
        why = f"以“{suffix}”结尾，通常是尚未传完或尚未写完的文件"
    return (
        f"文件「{name}」的文件名{why}；它已较长时间未变化，网关未处理其内容，已将其移至本回执所在目录。"
        "如确需报送，请改为正常文件名（不以“.”或“~$”开头，不以 .part、.tmp 等结尾）后重新放入收件箱。"
    )


def _summary(department: str, name: str, receipt: IntakeReceipt, archived: Path) -> dict[str, object]:
    return {
        "department": department,
        "file": name,
        "status": receipt.status,
        "code": receipt.file_error["code"] if receipt.file_error else None,
        "rows": receipt.rows,
        "accepted": receipt.accepted,
        "rejected": receipt.rejected,
        "new": receipt.new,
        "updated": receipt.updated,
        "withdrawn": receipt.withdrawn,
        "archived": str(archived),
    }


def _find(folder: DropFolder, department: str, path: str) -> Pending | None:
    """The waiting entry ``path`` names: its real path, else its shown path (the first of equal ones —
    two files whose names differ only in a masked ID are both waiting, and each call takes one)."""
    waiting = folder.pending(department)
    return next((p for p in waiting if str(p.path) == path), None) or next(
        (p for p in waiting if str(p.shown_path) == path), None
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transient_database_error(orig: BaseException | None) -> bool:
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and (
        sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES
    ):
        return True
    if isinstance(orig, sqlite3.Error):
        return str(getattr(orig, "sqlite_errorname", "")).startswith(_TRANSIENT_SQLITE)
    return False


def log_summary(results: list[dict[str, object]]) -> dict[str, int]:
    """One line per file and the totals, for the DAG run's log."""
    keys = ("rows", "accepted", "rejected", "new", "updated", "withdrawn")
    totals = {"files": len(results), **dict.fromkeys(keys, 0)}
    for item in results:
        for key in keys:
            totals[key] += int(item.get(key, 0) or 0)  # type: ignore[call-overload]
        log.info(
            "%-14s %-40s %-10s rows=%s accepted=%s rejected=%s",
            item["department"],
            item["file"],
            item["status"],
            item.get("rows", "-"),
            item.get("accepted", "-"),
            item.get("rejected", "-"),
        )
    log.info("totals: %s", totals)
    return totals
