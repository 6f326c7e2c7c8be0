"""One inbox per department on a shared folder: list the files that are ready, archive them with receipts.

Layout under the root (e.g. var/dropzone)::

    <department>/inbox/                      departments drop files here (SFTP, SMB share)
    <department>/processed/<YYYY-MM-DD>/     <short sha>-<safe name> plus <that name>.receipt.json ...
    <department>/rejected/<YYYY-MM-DD>/      the same, for files refused whole

The inbox is written by people and programs we do not control, so everything found there is
treated as hostile: names are never used as paths without :func:`safe_name`, only regular files
are taken (no symlinks, devices or hard links to elsewhere), and files still being written are left
alone until they settle. Archiving is idempotent so a run that crashed half-way can simply run again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import stat
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

Outcome = Literal["processed", "rejected"]
OUTCOMES: tuple[Outcome, ...] = ("processed", "rejected")
INBOX = "inbox"

DEPARTMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RECEIPT_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
SHORT_SHA = 12

MAX_NAME_BYTES = 120
"""Cap for a safe name in UTF-8 bytes. The archived name adds up to 65 bytes of hash, a receipt
suffix up to 32 and a temporary-file wrapper 20, and Linux file names stop at 255 bytes."""
MAX_SUFFIX_CHARS = 32
MAX_EXTENSION_CHARS = 16

UNFINISHED_SUFFIXES = (".part", ".tmp", ".crdownload", ".filepart", ".partial")
"""What browsers, WinSCP and rsync call files they are still writing."""

_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in [*range(1, 10), "¹", "²", "³"]}
    | {f"LPT{i}" for i in [*range(1, 10), "¹", "²", "³"]}
)
# Separators and characters Windows refuses, including look-alike slashes that NFKC would turn into "/".
_UNSAFE_CHARS = re.compile(r'[<>:"|?*/\\\uff0f\uff3c\u2215\u2044\u29f8]')
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_EXTENSION = re.compile(rf"\.[A-Za-z0-9]{{1,{MAX_EXTENSION_CHARS}}}$")


@dataclass(frozen=True)
class Pending:
    """A file in an inbox that looked complete when listed."""

    path: Path
    name: str
    """Display name: decoded (UTF-8, else GB18030 as Windows clients write it), control characters removed.
    Pass it through :func:`safe_name` before using it in a path."""
    size: int
    mtime: float
    device: int
    inode: int


class DropFolder:
    """The drop zone under ``root``.

    ``settle_seconds``: a file must have been left alone this long (by ctime, which the sender
    cannot set back, and mtime). ``probe_seconds``: the pause between the two looks that catch a
    file still growing. ``clock`` returns the current time as a Unix timestamp; tests move it.
    """

    def __init__(
        self,
        root: Path,
        *,
        settle_seconds: float = 2.0,
        probe_seconds: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.settle_seconds = settle_seconds
        self.probe_seconds = probe_seconds
        self._clock = clock

    def departments(self) -> list[str]:
        """Department ids: real directories under the root whose names are valid ids."""
        if not self.root.is_dir():
            return []
        found: list[str] = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink():
                    logger.warning("drop zone: ignoring symlink %r in %s", entry.name, self.root)
                    continue
                if not entry.is_dir(follow_symlinks=False):
                    continue
                if DEPARTMENT_ID.fullmatch(entry.name) is None:
                    logger.warning("drop zone: ignoring folder %r, not a valid department id", entry.name)
                    continue
                found.append(entry.name)
        return sorted(found)

    def ensure(self, department: str) -> Path:
        """Create the department's folders; returns the department folder."""
        base = self._department_dir(department)
        for sub in (INBOX, *OUTCOMES):
            (base / sub).mkdir(parents=True, exist_ok=True)
        return base

    def pending(self, department: str) -> list[Pending]:
        """Regular, settled, non-growing files in the inbox, oldest first."""
        inbox = self._department_dir(department) / INBOX
        try:
            inbox_stat = inbox.lstat()
        except FileNotFoundError:
            return []
        if not stat.S_ISDIR(inbox_stat.st_mode):
            logger.warning("drop zone: %s is not a real directory (symlink?), skipped", inbox)
            return []
        now = self._clock()
        first: dict[str, os.stat_result] = {}
        with os.scandir(inbox) as entries:
            for entry in entries:
                info = self._candidate(entry, now)
                if info is not None:
                    first[entry.name] = info
        if first and self.probe_seconds > 0:
            time.sleep(self.probe_seconds)
        ready: list[Pending] = []
        for raw_name, before in first.items():
            path = inbox / raw_name
            try:
                after = path.lstat()
            except FileNotFoundError:
                continue
            if _signature(after) != _signature(before):
                logger.info("drop zone: %s is still being written, left for the next run", path)
                continue
            ready.append(
                Pending(
                    path=path,
                    name=display_name(raw_name),
                    size=after.st_size,
                    mtime=after.st_mtime,
                    device=after.st_dev,
                    inode=after.st_ino,
                )
            )
        return sorted(ready, key=lambda item: (item.mtime, item.name))

    def finish(
        self,
        pending: Pending,
        department: str,
        outcome: Outcome,
        sha256: str,
        receipts: Mapping[str, bytes],
    ) -> Path:
        """Archive the file under ``<outcome>/<today>/`` with its receipts next to it; returns its new path.

        Receipts are written first and the file moved last, so a crash leaves the file in the inbox
        and the rerun (which the gateway recognises as a duplicate by sha256) finishes the job. If
        the file was already moved, the receipts are rewritten and the archived path returned.
        """
        self._check_arguments(pending, department, outcome, sha256, receipts)
        base = safe_name(pending.name)
        short = f"{sha256[:SHORT_SHA]}-{base}"
        source = pending.path
        try:
            source_stat: os.stat_result | None = source.lstat()
        except FileNotFoundError:
            source_stat = None
        if source_stat is None:
            archived = self._find_archived(department, outcome, base, sha256)
            if archived is None:
                raise FileNotFoundError(f"{source} is gone and no archived copy exists")
            self._write_receipts(archived, receipts)
            return archived
        listed = (pending.device, pending.inode, pending.size, pending.mtime)
        now = (source_stat.st_dev, source_stat.st_ino, source_stat.st_size, source_stat.st_mtime)
        if now != listed or not stat.S_ISREG(source_stat.st_mode):
            # Then sha256 may not describe these bytes, and archiving or deleting them would be wrong.
            raise ValueError(f"{source} changed since it was listed; it will be listed again")
        folder = self._department_dir(department) / outcome / self._today()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / short
        if target.exists() and not _same_content(target, source_stat, sha256):
            # A 48-bit prefix collision; under the full hash, an existing file has these very bytes.
            target = folder / f"{sha256}-{base}"
        self._write_receipts(target, receipts)
        if target.exists():
            source.unlink()  # the same bytes are archived already (a rerun or a re-drop): keep one
        else:
            # Not link+unlink: a crash between the two would leave a second link in the inbox, which
            # pending() refuses. The only race left is two runs archiving the same file at once, and
            # then both write identical bytes under the same name.
            os.replace(source, target)
        _fsync_directory(folder)
        _fsync_directory(source.parent)
        return target

    def _department_dir(self, department: str) -> Path:
        if DEPARTMENT_ID.fullmatch(department) is None:
            raise ValueError(
                f"部门标识不合法：{department!r}（只允许字母、数字、下划线和连字符，最长64个字符）"
            )
        return self.root / department

    def _candidate(self, entry: os.DirEntry[str], now: float) -> os.stat_result | None:
        """The entry's lstat if it may be a finished upload, else None (with a log line saying why)."""
        name = entry.name
        lowered = name.lower()
        if name.startswith((".", "~$")) or lowered.endswith(UNFINISHED_SUFFIXES):
            return None
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode):
            logger.warning("drop zone: ignoring %r in %s: not a regular file", name, entry.path)
            return None
        if info.st_nlink > 1:
            # A hard link would make us read, and then move, a file that lives somewhere else.
            logger.warning("drop zone: ignoring %r: it has %d hard links", name, info.st_nlink)
            return None
        if now - _last_change(info, now) < self.settle_seconds:
            return None
        return info

    def _find_archived(self, department: str, outcome: Outcome, base: str, sha256: str) -> Path | None:
        """An earlier run's copy of this file, in any date folder (the rerun may be after midnight)."""
        outcome_dir = self._department_dir(department) / outcome
        if not outcome_dir.is_dir():
            return None
        for folder in sorted(outcome_dir.iterdir(), reverse=True):
            for candidate in (folder / f"{sha256[:SHORT_SHA]}-{base}", folder / f"{sha256}-{base}"):
                if candidate.is_file() and not candidate.is_symlink() and _digest(candidate) == sha256:
                    return candidate
        return None

    def _write_receipts(self, archived: Path, receipts: Mapping[str, bytes]) -> None:
        for suffix, data in receipts.items():
            _write_atomically(archived.with_name(archived.name + suffix), data)

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self._clock()).strftime("%Y-%m-%d")

    def _check_arguments(
        self,
        pending: Pending,
        department: str,
        outcome: str,
        sha256: str,
        receipts: Mapping[str, bytes],
    ) -> None:
        inbox = self._department_dir(department) / INBOX
        if pending.path.parent != inbox:
            raise ValueError(f"{pending.path} is not in {inbox}")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        if SHA256_HEX.fullmatch(sha256) is None:
            raise ValueError("sha256 must be 64 lowercase hex digits")
        for suffix in receipts:
            if len(suffix) > MAX_SUFFIX_CHARS or RECEIPT_SUFFIX.fullmatch(suffix) is None:
                raise ValueError(f"receipt suffix {suffix!r} must look like '.receipt.json'")


def safe_name(name: str) -> str:
    """A file name safe to create in our folders: one component, printable, bounded, never empty.

    Keeps Chinese characters and the extension; neutralises separators, '..', control and format
    characters (including NUL and bidi overrides), leading dots, Windows-reserved names and
    characters, and overlong names.
    """
    text = unicodedata.normalize("NFC", name)
    text = "".join(char for char in text if unicodedata.category(char) not in _REMOVED_CATEGORIES)
    components = [part for part in re.split(r"[/\\]", text) if part.strip(" .")]
    text = components[-1] if components else ""
    text = _UNSAFE_CHARS.sub("_", text).strip(" ").lstrip(".").rstrip(" .")
    match = _EXTENSION.search(text)
    extension = match.group(0) if match and match.start() > 0 else ""
    stem = text[: len(text) - len(extension)]
    stem = _truncate_utf8(stem, MAX_NAME_BYTES - len(extension)).rstrip(" .")
    if not stem:
        stem = "file"
    if stem.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    return stem + extension


def display_name(raw: str) -> str:
    """A readable form of a name from the file system, without control characters.

    Python decodes undecodable name bytes as surrogate escapes; Windows clients (SMB, zip tools)
    often write GBK names, so those bytes are tried as GB18030 before being replaced.
    """
    data = os.fsencode(raw)
    for codec in ("utf-8", "gb18030"):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("utf-8", "replace")
    return "".join(char for char in text if unicodedata.category(char) not in _REMOVED_CATEGORIES)


def _truncate_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[: max(limit, 0)].decode("utf-8", "ignore")


def _last_change(info: os.stat_result, now: float) -> float:
    """When the file last changed. ctime moves on every write and cannot be set back by the sender
    (copy tools preserve an old mtime while still writing); an mtime in the future (a sender's
    clock) is ignored so it cannot hold a file back forever."""
    mtime = info.st_mtime if info.st_mtime <= now else 0.0
    return max(info.st_ctime, mtime)


def _signature(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _same_content(existing: Path, source_stat: os.stat_result, sha256: str) -> bool:
    """Whether an archived file already holds these bytes (a rerun, or the same file dropped twice)."""
    existing_stat = existing.lstat()
    if not stat.S_ISREG(existing_stat.st_mode) or existing_stat.st_size != source_stat.st_size:
        return False
    return _digest(existing) == sha256


def _digest(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o640
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _fsync_directory(folder: Path) -> None:
    """Make a rename durable: without it a power cut can undo the move after we reported success."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
