"""One inbox per department on a shared folder: list what waits there, claim it, archive it with receipts.

Layout under the root (e.g. var/dropzone)::

    <department>/inbox/                      departments drop files here (SFTP, SMB share)
    <department>/processed/<YYYY-MM-DD>/     <short sha>-<safe name> plus <that name>.receipt.json ...
    <department>/rejected/<YYYY-MM-DD>/      the same, for files refused whole
    <department>/.work/<slot>/<safe name>    a file claimed by the gateway and being processed (0700)

The inbox is written by people and programs we do not control, so everything found there is treated as
hostile: names are never used as paths without :func:`safe_name` and never echoed without
:func:`shown_name` (which masks ID numbers); files still being written are left alone until they settle.

Claiming. Between listing an entry and reading it, a sender can swap it for a symlink or a hard link to a
file outside the inbox. So a file is first *claimed*: its directory entry is renamed into a fresh folder of
``.work/`` that only the gateway can enter, and only then inspected — lstat there, opened with O_NOFOLLOW,
the descriptor checked with fstat (a regular file, the inode that was listed, no other hard link). From
that moment nobody else can change what the path names, so the readers (gateway.intake, which takes a
path) read exactly the bytes checked. A rename rather than a copy into the gateway home: it is atomic (the
entry is either in the inbox or claimed, never both or neither), it never opens what it moves (a FIFO
or a device is never opened at all), and it keeps no second copy of personal data, nor spends a second
write of a multi-gigabyte file. It needs ``.work/`` on the inbox's file system, hence its place.

Symlinks, hard links, FIFOs, devices and sockets are claimed the same way and then refused: the receipt
says why, and the link (or node) is removed without ever being followed. Files with temporary names
(".x.csv", "x.part", "~$x.xlsx": editors and sync tools at work) wait for a grace period and are then
refused with a receipt, not processed. Archiving is idempotent, and a claimed file left by a crash is listed
again, so a run that died anywhere can simply run again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
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
from typing import BinaryIO, Literal

from gateway.ids.resident_id import mask_in_text
from gateway.transfer.private_files import (
    PRIVATE_DIR,
    SHARED_DIR,
    SHARED_FILE,
    create_private_file,
    private_dir,
)

logger = logging.getLogger(__name__)

Outcome = Literal["processed", "rejected"]
OUTCOMES: tuple[Outcome, ...] = ("processed", "rejected")
INBOX = "inbox"
WORK = ".work"
INBOX_MODE = SHARED_DIR | 0o020  # departments write into their inbox through the share's group

Kind = Literal[
    "file", "temporary", "replaced", "symlink", "hardlink", "fifo", "device", "socket", "directory"
]
NOT_FILES: frozenset[Kind] = frozenset({"symlink", "hardlink", "fifo", "device", "socket", "directory"})
"""Entries that are refused unread and removed (or, for a folder, moved aside) with a receipt."""

DEPARTMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RECEIPT_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
SLOT = re.compile(r"[0-9a-f]{16}")
SHORT_SHA = 12
COPY_PREFIX = ".copy-"

MAX_NAME_BYTES = 120
"""Cap for a safe name in UTF-8 bytes. The archived name adds up to 65 bytes of hash, a receipt
suffix up to 32 and a temporary-file wrapper 20, and Linux file names stop at 255 bytes."""
MAX_SUFFIX_CHARS = 32
MAX_EXTENSION_CHARS = 16

UNFINISHED_SUFFIXES = (".part", ".tmp", ".crdownload", ".filepart", ".partial")
"""What browsers, WinSCP and rsync call files they are still writing."""
TEMPORARY_PREFIXES = (".", "~$")
"""Hidden files (editors' swap files, rsync's temporaries, macOS's ._ files) and Office's lock files."""

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
    """An entry of an inbox that looked settled when listed, or one the gateway has claimed."""

    path: Path
    name: str
    """Display name (:func:`shown_name`): decoded (UTF-8, else GB18030 as Windows clients write it), control
    characters removed, ID numbers masked. Never a path: pass it through :func:`safe_name` first."""
    size: int
    mtime: float
    device: int
    inode: int
    kind: Kind = "file"
    claimed: bool = False
    """True when ``path`` is in the department's private ``.work/`` folder rather than in its inbox."""

    @property
    def shown_path(self) -> Path:
        """The path as it may be shown and handed around (logs, Airflow's XCom): the name masked."""
        return self.path.parent / self.name


@dataclass(frozen=True)
class Waiting:
    """What one inbox holds for the gateway at a glance (``DropFolder.waiting``)."""

    entries: frozenset[tuple[int, ...]]
    """One signature (device, inode, size, mtime, ctime) per entry whose turn has come: a new or changed
    entry gives a new signature, so a watcher can tell news from what it has already announced."""
    oldest_seconds: float
    """How long the oldest of them has been waiting since it last changed; 0 when none waits."""
    claimed: bool
    """Whether a run left files claimed but not archived (the next run takes them again)."""


class DropFolder:
    """The drop zone under ``root``.

    ``settle_seconds``: a file must have been left alone this long (by ctime, which the sender
    cannot set back, and mtime). ``probe_seconds``: the pause between the two looks that catch a
    file still growing. ``temp_grace_seconds``: how long an entry with a temporary name is left alone
    before it is refused with a receipt. ``clock`` returns the current time as a Unix timestamp; tests
    move it.
    """

    def __init__(
        self,
        root: Path,
        *,
        settle_seconds: float = 2.0,
        probe_seconds: float = 0.5,
        temp_grace_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.settle_seconds = settle_seconds
        self.probe_seconds = probe_seconds
        self.temp_grace_seconds = temp_grace_seconds
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
                    logger.warning("drop zone: ignoring symlink %r in %s", shown_name(entry.name), self.root)
                    continue
                if not entry.is_dir(follow_symlinks=False):
                    continue
                if DEPARTMENT_ID.fullmatch(entry.name) is None:
                    logger.warning(
                        "drop zone: ignoring folder %r, not a valid department id", shown_name(entry.name)
                    )
                    continue
                found.append(entry.name)
        return sorted(found)

    def ensure(self, department: str) -> Path:
        """Create the department's folders; returns the department folder."""
        base = private_dir(self._department_dir(department), SHARED_DIR, tighten_existing=False)
        if not (base / INBOX).exists():  # an existing inbox keeps the share's permissions
            private_dir(base / INBOX, INBOX_MODE)
        for sub in OUTCOMES:
            private_dir(base / sub, SHARED_DIR)
        return base

    # ------------------------------------------------------------------------------------------ listing

    def pending(self, department: str) -> list[Pending]:
        """What waits: files claimed by an earlier run that did not finish, then settled inbox entries,
        oldest first. Entries other than plain files are listed too (with their ``kind``), so that each
        gets a receipt; folders are left alone."""
        inbox = self._department_dir(department) / INBOX
        try:
            inbox_stat = inbox.lstat()
        except FileNotFoundError:
            return []
        if not stat.S_ISDIR(inbox_stat.st_mode):
            logger.warning("drop zone: %s is not a real directory (symlink?), skipped", inbox)
            return []
        claimed = self._recover_claims(department)
        now = self._clock()
        first: dict[str, tuple[os.stat_result, Kind]] = {}
        with os.scandir(inbox) as entries:
            for entry in entries:
                found = self._candidate(entry, now)
                if found is not None:
                    first[entry.name] = found
        if first and self.probe_seconds > 0:
            time.sleep(self.probe_seconds)
        ready: list[Pending] = []
        for raw_name, (before, kind) in first.items():
            path = inbox / raw_name
            try:
                after = path.lstat()
            except FileNotFoundError:
                continue
            if _signature(after) != _signature(before):
                logger.info(
                    "drop zone: %s/%s is still being written, left for the next run",
                    inbox,
                    shown_name(raw_name),
                )
                continue
            ready.append(_pending(path, shown_name(raw_name), after, kind))
        return claimed + sorted(ready, key=lambda item: (item.mtime, item.name))

    def waiting(self, department: str) -> Waiting:
        """A look at the inbox that changes nothing and logs nothing: what ``pending`` would take now
        (without its second look for growing files) and whether a run left claimed files behind.

        For the inbox trigger, which looks every few seconds: ``pending`` cleans up after crashed runs and
        says why each entry waits, both right for the run that processes files, both wrong ten times a
        minute from the triggerer."""
        inbox = self._department_dir(department) / INBOX
        try:
            if not stat.S_ISDIR(inbox.lstat().st_mode):
                return Waiting(frozenset(), 0.0, claimed=False)
        except FileNotFoundError:
            return Waiting(frozenset(), 0.0, claimed=False)
        now = self._clock()
        ready: set[tuple[int, ...]] = set()
        oldest = now
        with os.scandir(inbox) as entries:
            for entry in entries:
                found = self._candidate(entry, now, quiet=True)
                if found is not None:
                    ready.add(_signature(found[0]))
                    oldest = min(oldest, _last_change(found[0], now))
        work = self._department_dir(department) / WORK
        try:
            claimed = any(SLOT.fullmatch(slot.name) for slot in os.scandir(work))
        except (FileNotFoundError, NotADirectoryError):
            claimed = False
        return Waiting(frozenset(ready), (now - oldest) if ready else 0.0, claimed=claimed)

    def _candidate(
        self, entry: os.DirEntry[str], now: float, *, quiet: bool = False
    ) -> tuple[os.stat_result, Kind] | None:
        """The entry's lstat and kind if its turn has come, else None (with a log line saying why, unless
        ``quiet``)."""
        shown = shown_name(entry.name)
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None
        kind = _kind(info)
        if kind == "directory":
            if not quiet:
                logger.warning(
                    "drop zone: %s: folder %r left alone (only files are taken)",
                    Path(entry.path).parent,
                    shown,
                )
            return None
        age = now - _last_change(info, now)
        if is_temporary(entry.name):
            if age < self.temp_grace_seconds:
                if quiet:
                    return None
                logger.info(
                    "drop zone: %r has a temporary name (an editor or a sync tool at work?); unless it "
                    "changes, it is refused with a receipt in %.0f s",
                    shown,
                    self.temp_grace_seconds - age,
                )
                return None
            return info, "temporary" if kind == "file" else kind
        if age < self.settle_seconds:
            return None
        if kind != "file" and not quiet:
            logger.warning(
                "drop zone: %r is a %s, not a plain file: it will be refused with a receipt", shown, kind
            )
        return info, kind

    def _recover_claims(self, department: str) -> list[Pending]:
        """Files claimed by a run that stopped before archiving them, to be processed again; what that run
        left besides (an unfinished private copy, an empty slot, a put-back half done) is cleaned up."""
        work = self._department_dir(department) / WORK
        try:
            if not stat.S_ISDIR(work.lstat().st_mode):
                logger.error("drop zone: %s is not a folder; claimed files cannot be recovered", work)
                return []
        except FileNotFoundError:
            return []
        inbox = self._department_dir(department) / INBOX
        found: list[Pending] = []
        for slot in sorted(work.iterdir()):
            if SLOT.fullmatch(slot.name) is None or not stat.S_ISDIR(slot.lstat().st_mode):
                logger.error("drop zone: unexpected %s in the gateway's work folder, left alone", slot)
                continue
            entries = []
            for item in sorted(slot.iterdir()):
                if item.name.startswith(COPY_PREFIX):
                    item.unlink()  # a copy that never replaced the claimed file: the original is there
                else:
                    entries.append(item)
            if not entries:
                slot.rmdir()
                continue
            path = entries[0]
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_nlink > 1 and _has_inode(inbox, info):
                path.unlink()  # put back into the inbox, but the claimed name was not yet removed
                slot.rmdir()
                continue
            logger.warning("drop zone: %s was claimed by a run that did not finish; taken again", path)
            found.append(_pending(path, shown_name(path.name), info, _kind(info), claimed=True))
        return found

    # ----------------------------------------------------------------------------------------- claiming

    def claim(self, pending: Pending, department: str) -> Pending | None:
        """Move an inbox entry into a private slot of ``.work/`` and check what it is; None if it is gone.

        The result is the claimed entry, its ``kind`` judged there: "file" (ready to be read by path),
        "temporary" (a regular file to refuse), "replaced" (a regular file, but not the inode that was
        listed), or one of NOT_FILES. Regular files are made the gateway's own, mode 0640, so the archive
        is never readable by others (a file of another owner is copied from the checked descriptor).
        """
        if pending.claimed:
            self._check_claimed(pending, department)
            return self._inspect(pending.path, pending)
        self._check_in_inbox(pending, department)
        slot = private_dir(self._work_dir(department) / secrets.token_hex(8), PRIVATE_DIR)
        # A leading dot survives the claim, so that a temporary name is still one if a crash makes us list
        # the claimed file again.
        dot = "." if pending.name.startswith(".") else ""
        target = slot / f"{dot}{safe_name(pending.name)}"
        try:
            os.rename(pending.path, target)  # moves the entry itself: a symlink is moved, never followed
        except FileNotFoundError:
            slot.rmdir()
            return None
        _fsync_directory(pending.path.parent)
        return self._inspect(target, pending)

    def _inspect(self, target: Path, listed: Pending) -> Pending:
        info = target.lstat()
        kind = _kind(info)
        if kind == "file":
            if not listed.claimed and (info.st_dev, info.st_ino) != (listed.device, listed.inode):
                kind = "replaced"
            elif is_temporary(target.name) or listed.kind == "temporary":
                kind = "temporary"
            info, kind = self._take_ownership(target, info, kind)
        return _pending(target, listed.name, info, kind, claimed=True)

    def _take_ownership(self, target: Path, info: os.stat_result, kind: Kind) -> tuple[os.stat_result, Kind]:
        """Open the claimed file without following links, check the descriptor, make it 0640 and ours."""
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
        try:
            descriptor = os.open(target, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return info, "symlink"
            raise
        try:
            opened = os.fstat(descriptor)
            same = (opened.st_dev, opened.st_ino) == (info.st_dev, info.st_ino)
            if not same or not stat.S_ISREG(opened.st_mode):
                return opened, _kind(opened)  # cannot happen in a private folder; never read it if it does
            if opened.st_nlink != 1:
                return opened, "hardlink"
            try:
                os.fchmod(descriptor, SHARED_FILE)
            except PermissionError:
                # Another account's file (the share writes as the department): a copy of our own, read from
                # the checked descriptor, replaces it atomically; a crash leaves only the original.
                _copy_over(descriptor, target)
                return target.lstat(), kind
            return os.fstat(descriptor), kind
        finally:
            os.close(descriptor)

    def release(self, claimed: Pending, listed: Pending) -> bool:
        """Put a claimed file back into the inbox under its old name, for the next run; False if it cannot be
        (the name was taken meanwhile, or the file was claimed by an earlier run), and then it stays claimed,
        which the next run lists as well.

        link + unlink, not rename: a rename would replace a file dropped under the same name in the
        meantime. A crash between the two leaves two names, which :meth:`pending` resolves."""
        if listed.claimed or not claimed.claimed:
            return False
        try:
            os.link(claimed.path, listed.path, follow_symlinks=False)
        except OSError as exc:
            logger.warning(
                "drop zone: %s stays claimed (%s); the next run takes it", claimed.shown_path, exc.strerror
            )
            return False
        claimed.path.unlink()
        _fsync_directory(listed.path.parent)
        _remove_slot(claimed.path.parent)
        return True

    # ---------------------------------------------------------------------------------------- archiving

    def finish(
        self,
        pending: Pending,
        department: str,
        outcome: Outcome,
        sha256: str,
        receipts: Mapping[str, bytes],
    ) -> Path:
        """Archive the file under ``<outcome>/<today>/`` with its receipts next to it; returns its new path.

        Receipts are written first and the file moved last, so a crash leaves the file where it was (the
        inbox, or claimed) and the rerun (which the gateway recognises as a duplicate by sha256) finishes the
        job. If the file was already moved, the receipts are rewritten and the archived path returned.
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
                raise FileNotFoundError(f"{pending.shown_path} is gone and no archived copy exists")
            self._write_receipts(archived, receipts)
            return archived
        listed = (pending.device, pending.inode, pending.size, pending.mtime)
        now = (source_stat.st_dev, source_stat.st_ino, source_stat.st_size, source_stat.st_mtime)
        if now != listed or not stat.S_ISREG(source_stat.st_mode):
            # Then sha256 may not describe these bytes, and archiving or deleting them would be wrong.
            raise ValueError(f"{pending.shown_path} changed since it was listed; it will be listed again")
        folder = self._outcome_dir(department, outcome)
        target = folder / short
        if target.exists() and not _same_content(target, source_stat, sha256):
            # A 48-bit prefix collision; under the full hash, an existing file has these very bytes.
            target = folder / f"{sha256}-{base}"
        self._write_receipts(target, receipts)
        if target.exists():
            source.unlink()  # the same bytes are archived already (a rerun or a re-drop): keep one
        else:
            # Not link+unlink: a crash between the two would leave a second link, which is refused as a
            # hard link. The only race left is two runs archiving the same file at once, and then both
            # write identical bytes under the same name.
            os.replace(source, target)
        _fsync_directory(folder)
        _fsync_directory(source.parent)
        if pending.claimed:
            _remove_slot(source.parent)
        return target

    def discard(self, claimed: Pending, department: str, receipts: Mapping[str, bytes]) -> Path:
        """Refuse a claimed entry that is not a file of its own (NOT_FILES): write its receipts under
        rejected/, then remove the link or node (never followed), or move a folder next to the receipts.
        Returns the path the receipts are named after. Idempotent: a rerun after a crash writes the same
        receipts in the same place."""
        if not claimed.claimed or claimed.kind not in NOT_FILES:
            raise ValueError("only a claimed link, node or folder is discarded")
        self._check_claimed(claimed, department)
        slot = claimed.path.parent
        base = f"{slot.name}-{safe_name(claimed.name)}"
        earlier = self._find_refusal(department, base)
        reference = earlier if earlier is not None else self._outcome_dir(department, "rejected") / base
        self._write_receipts(reference, receipts)
        if claimed.kind == "directory":
            os.rename(claimed.path, reference)
        else:
            claimed.path.unlink(missing_ok=True)
        _fsync_directory(reference.parent)
        _remove_slot(slot)
        return reference

    # ------------------------------------------------------------------------------------------ helpers

    def _department_dir(self, department: str) -> Path:
        if DEPARTMENT_ID.fullmatch(department) is None:
            raise ValueError(
                f"部门标识不合法：{department!r}（只允许字母、数字、下划线和连字符，最长64个字符）"
            )
        return self.root / department

    def _work_dir(self, department: str) -> Path:
        """The department's private work folder; it must be a real folder of ours that nobody else can enter,
        or claiming would protect nothing."""
        work = private_dir(self._department_dir(department) / WORK, PRIVATE_DIR)
        info = work.lstat()
        if (
            not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.geteuid()
            or stat.S_IMODE(info.st_mode) & 0o077
        ):
            raise PermissionError(f"{work} must be a folder of the gateway's account with mode 0700")
        return work

    def _outcome_dir(self, department: str, outcome: Outcome) -> Path:
        private_dir(self._department_dir(department) / outcome, SHARED_DIR)
        return private_dir(self._department_dir(department) / outcome / self._today(), SHARED_DIR)

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

    def _find_refusal(self, department: str, base: str) -> Path | None:
        """Receipts an interrupted refusal wrote, in any date folder (the rerun may be after midnight)."""
        outcome_dir = self._department_dir(department) / "rejected"
        for folder in sorted(outcome_dir.iterdir(), reverse=True) if outcome_dir.is_dir() else []:
            if (folder / f"{base}.receipt.json").is_file():
                return folder / base
        return None

    def _write_receipts(self, archived: Path, receipts: Mapping[str, bytes]) -> None:
        for suffix, data in receipts.items():
            _write_atomically(archived.with_name(archived.name + suffix), data)

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self._clock()).strftime("%Y-%m-%d")

    def _check_in_inbox(self, pending: Pending, department: str) -> None:
        inbox = self._department_dir(department) / INBOX
        if pending.path.parent != inbox:
            raise ValueError(f"{pending.shown_path} is not in {inbox}")

    def _check_claimed(self, pending: Pending, department: str) -> None:
        slot = pending.path.parent
        if slot.parent != self._department_dir(department) / WORK or SLOT.fullmatch(slot.name) is None:
            raise ValueError(f"{pending.shown_path} is not in {department}'s work folder")

    def _check_arguments(
        self,
        pending: Pending,
        department: str,
        outcome: str,
        sha256: str,
        receipts: Mapping[str, bytes],
    ) -> None:
        if pending.claimed:
            self._check_claimed(pending, department)
        else:
            self._check_in_inbox(pending, department)
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        if SHA256_HEX.fullmatch(sha256) is None:
            raise ValueError("sha256 must be 64 lowercase hex digits")
        for suffix in receipts:
            if len(suffix) > MAX_SUFFIX_CHARS or RECEIPT_SUFFIX.fullmatch(suffix) is None:
                raise ValueError(f"receipt suffix {suffix!r} must look like '.receipt.json'")


def is_temporary(name: str) -> bool:
    """A name that editors, sync tools, browsers and Office give files while they work on them."""
    return name.startswith(TEMPORARY_PREFIXES) or name.lower().endswith(UNFINISHED_SUFFIXES)


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


def shown_name(raw: str) -> str:
    """The only form in which a name from an inbox is ever shown: :func:`display_name`, IDs masked."""
    return mask_in_text(display_name(raw))


def _pending(path: Path, name: str, info: os.stat_result, kind: Kind, *, claimed: bool = False) -> Pending:
    return Pending(
        path=path,
        name=name,
        size=info.st_size,
        mtime=info.st_mtime,
        device=info.st_dev,
        inode=info.st_ino,
        kind=kind,
        claimed=claimed,
    )


def _kind(info: os.stat_result) -> Kind:
    mode = info.st_mode
    if stat.S_ISREG(mode):
        # A hard link would make us read, and then move, a file that lives somewhere else.
        return "file" if info.st_nlink == 1 else "hardlink"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


def _has_inode(folder: Path, info: os.stat_result) -> bool:
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                other = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
                return True
    return False


def _copy_over(descriptor: int, target: Path) -> None:
    """Replace ``target`` by a copy, mode 0640 and ours, of what ``descriptor`` reads."""

    def copy(stream: BinaryIO) -> None:
        os.lseek(descriptor, 0, os.SEEK_SET)
        while chunk := os.read(descriptor, 1 << 20):
            stream.write(chunk)

    _replace_with(target, target.with_name(f"{COPY_PREFIX}{secrets.token_hex(4)}"), copy)


def _replace_with(target: Path, temporary: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``temporary`` (0640, ours), make it durable, and rename it over ``target``; nothing is left
    behind if any step fails."""
    descriptor = create_private_file(temporary, SHARED_FILE)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _remove_slot(slot: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (then recovery looks at it) or already gone
        slot.rmdir()


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
    """Receipts are read by the department through the share's group: 0640, whatever the umask."""
    _replace_with(
        path, path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp"), lambda out: out.write(data)
    )


def _fsync_directory(folder: Path) -> None:
    """Make a rename durable: without it a power cut can undo the move after we reported success."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
