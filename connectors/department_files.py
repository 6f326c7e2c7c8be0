"""Department drop folders as a source: list what waits in each inbox, ingest one file, archive it with
its receipts. The department_files DAG maps ``process_file`` over ``scan_inboxes``; tests call them directly.

Order of effects for one file, chosen so a crash anywhere loses and duplicates nothing:
1. ingest (one database transaction: records, versions, outbox and the file's own row with its receipt);
2. write the receipts next to the file and move it to processed/ or rejected/ (the drop folder);
3. mark the file archived in the database.
A crash before 1 commits: the file is processed again. Between 1 and 3: the file (or its archived copy) is
recognised by its sha256 and the stored receipt is written again. After 3: the same bytes dropped again are
answered as a duplicate.
"""

from __future__ import annotations

import logging
from pathlib import Path

from connectors.drop_folder import DropFolder
from gateway.ingest import ingest_file, mark_archived
from gateway.settings import Settings

log = logging.getLogger(__name__)


def _folder(settings: Settings) -> DropFolder:
    return DropFolder(settings.dropzone, settle_seconds=settings.settle_seconds)


def scan_inboxes(settings: Settings) -> list[dict[str, str]]:
    """Every file waiting in any department's inbox, as plain references (department, path, name)."""
    folder = _folder(settings)
    found = [
        {"department": department, "path": str(p.path), "name": p.name}
        for department in folder.departments()
        for p in folder.pending(department)
    ]
    log.info("%d files waiting in %s", len(found), settings.dropzone)
    return found


def process_file(settings: Settings, department: str, path: str) -> dict[str, object]:
    """Ingest one inbox file and archive it with its receipts; returns a small summary for the run log."""
    folder = _folder(settings)
    pending = next((p for p in folder.pending(department) if str(p.path) == path), None)
    if pending is None:
        log.warning("%s is no longer waiting in %s's inbox (taken by another run?)", path, department)
        return {"department": department, "file": Path(path).name, "status": "gone"}
    result = ingest_file(settings, pending.path, department, display_name=pending.name)
    receipt = result.receipt
    archived = folder.finish(pending, department, result.outcome, receipt.sha256, receipt.files())
    if result.source_file_id is not None and receipt.status != "duplicate":
        mark_archived(settings, result.source_file_id, archived)
    log.info(
        "%s/%s → %s (%s: %d accepted, %d rejected); receipt %s.receipt.txt",
        department,
        pending.name,
        result.outcome,
        receipt.status,
        receipt.accepted,
        receipt.rejected,
        archived,
    )
    return {
        "department": department,
        "file": pending.name,
        "status": receipt.status,
        "rows": receipt.rows,
        "accepted": receipt.accepted,
        "rejected": receipt.rejected,
        "new": receipt.new,
        "updated": receipt.updated,
        "withdrawn": receipt.withdrawn,
        "archived": str(archived),
    }


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
