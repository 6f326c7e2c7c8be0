"""A file uploaded through the page, put where the drop folder would find it — or checked without a trace.

Submitting puts the file into the department's inbox and hands it to the drop folder's own
``connectors.department_files.process_file``: claimed, ingested, archived with its receipts, exactly as a
file dropped on the share (the same code, not a copy of it). The file is written under a temporary name
(which the drop folder leaves alone) and linked to its final name only when complete, so a scheduled
run never sees half a file; a name already waiting in the inbox is never overwritten. The page then
processes it at once, without waiting for the file to settle: settling guards against senders still
writing, and this file is complete. Should a scheduled run take it first, its receipt is the same.

Checking runs ``gateway.ingest.ingest_file`` with ``dry_run`` against a throw-away database, as
``gateway check`` does, from a private temporary folder that is removed afterwards.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from connectors import department_files
from connectors.drop_folder import INBOX, DropFolder, safe_name, shown_name
from gateway.ingest import ingest_file
from gateway.intake import DEFAULT_LIMITS
from gateway.receipts import IntakeReceipt
from gateway.settings import Settings
from gateway.transfer.private_files import SHARED_FILE, create_private_file

CHUNK = 1 << 20
MAX_BYTES = DEFAULT_LIMITS.max_file_bytes
_TEMPORARY = ".upload-{}.part"


class UploadTooLarge(ValueError):
    """The upload is larger than intake accepts at all; nothing was kept."""


@dataclass(frozen=True)
class Submitted:
    name: str  # as shown (ID numbers masked)
    sha256: str
    summary: dict[str, object]  # process_file's: status, rows, accepted, rejected, …


def _copy(source: BinaryIO, descriptor: int) -> str:
    """Copy to ``descriptor`` in chunks, refusing past MAX_BYTES; returns the sha256."""
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(descriptor, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > MAX_BYTES:
                raise UploadTooLarge(f"文件超过 {MAX_BYTES // (1 << 20)} MB，网关不接收")
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _free_name(folder: Path, name: str) -> Iterator[Path]:
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    yield folder / name
    for n in range(2, 1000):
        yield folder / (f"{stem}-{n}.{suffix}" if suffix else f"{stem}-{n}")


def submit(settings: Settings, department: str, raw_name: str, source: BinaryIO) -> Submitted:
    """Put the upload into the department's inbox and process it as the drop folder does."""
    inbox = DropFolder(settings.dropzone).ensure(department) / INBOX
    temporary = inbox / _TEMPORARY.format(secrets.token_hex(8))
    try:
        sha256 = _copy(source, create_private_file(temporary, SHARED_FILE))
        # link, not rename: a rename would replace a file of that name waiting in the inbox. For the moment
        # both names exist the file has two links; a scheduled run does not take it then, since the new
        # name has not settled (settle_seconds), and the temporary name is gone long before it has.
        for candidate in _free_name(inbox, safe_name(raw_name)):
            try:
                os.link(temporary, candidate)
            except FileExistsError:
                continue
            break
        else:
            raise FileExistsError(f"收件箱中同名文件过多：{shown_name(raw_name)}")
    finally:
        temporary.unlink(missing_ok=True)
    summary = department_files.process_file(
        settings.with_overrides(settle_seconds=0.0), department, str(candidate)
    )
    return Submitted(shown_name(raw_name), sha256, summary)


def check(settings: Settings, department: str, raw_name: str, source: BinaryIO) -> IntakeReceipt:
    """The receipt the file would get, from a private copy that is removed afterwards; stores nothing."""
    with tempfile.TemporaryDirectory(prefix="gateway-page-check-") as scratch:
        path = Path(scratch) / safe_name(raw_name)
        _copy(source, create_private_file(path))
        return ingest_file(
            settings, path, department, display_name=shown_name(raw_name), dry_run=True
        ).receipt
