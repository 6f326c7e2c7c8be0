"""Files and folders of exactly the mode asked for, whatever the process umask: owner-only for what holds
personal data or keys (the gateway's database, landing files, keys, the hub's received batches),
group-readable for what departments read back (their archived files and receipts).

Here, in gateway/transfer/, because this package imports nothing else of ours: the hub, which may import only
the protocol code, needs the same guarantees for what it stores, and the key store for private keys.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

# The gateway's own files hold personal data (names, ID numbers, penalties): owner only, whatever the umask.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# What departments read back (archived files, receipts) may be group-readable: the drop zone's group is how
# a department's share account reads its receipts. Never anything for others.
SHARED_DIR = 0o750
SHARED_FILE = 0o640


def private_dir(path: Path, mode: int = PRIVATE_DIR, *, tighten_existing: bool = True) -> Path:
    """``mkdir -p`` whose every new folder gets exactly ``mode`` and whose existing leaf is tightened to it.

    Not ``Path.mkdir(mode=...)``: the umask applies to that (and only to the leaf), so the result would
    depend on how the process was started. Existing parents are left alone (they may be shared, like
    /srv); an existing leaf loses any permission beyond ``mode`` (a folder made 0755 by an older
    release), keeping special bits such as setgid that an operator may have set — unless
    ``tighten_existing`` is false, for a folder that may hold other things than ours.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, mode)
        except FileExistsError:
            continue  # another process made it at the same moment: tightened below if it is the leaf
        os.chmod(folder, mode)
    if tighten_existing:
        tighten(path, mode)
    return path


def tighten(path: Path, mode: int) -> None:
    """Remove permissions beyond ``mode`` from an existing file or folder we own; a no-op when it is tight.

    One we do not own (an operator's choice) is logged, not fatal: the gateway still runs, and the log
    says what to fix."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(info.st_mode)
    wanted = (current & 0o7000) | (current & mode) | (mode & 0o700)
    if wanted == current or stat.S_ISLNK(info.st_mode):
        return
    try:
        os.chmod(path, wanted)
    except PermissionError:
        log.warning("%s has mode %o, wider than %o, and is not ours to change", path, current, mode)


def create_private_file(path: Path, mode: int = PRIVATE_FILE, *, exclusive: bool = True) -> int:
    """Open ``path`` for writing as a new file of exactly ``mode``; returns the descriptor.

    ``exclusive``: fail if it exists (a temporary name of our own); otherwise an existing file is
    truncated and its mode reset (a leftover of a crashed run). Never follows a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_EXCL if exclusive else os.O_TRUNC
    descriptor = os.open(path, flags, mode)
    try:
        os.fchmod(descriptor, mode)  # the umask applied to os.open's mode
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def open_private(path: Path, mode: int = PRIVATE_FILE) -> BinaryIO:
    """``path.open("wb")`` for a new file of our own naming, created with exactly ``mode``."""
    return os.fdopen(create_private_file(path, mode), "wb")


def private_database(path: Path, *, tighten_folder: bool = True) -> None:
    """An SQLite file created empty and 0600 before SQLite opens it (SQLite creates a missing file 0644 less
    the umask, takes an empty file for a new database, and gives its -wal and -shm files the database
    file's mode), or an existing one tightened to 0600; its folder made 0700 if missing, and tightened
    unless ``tighten_folder`` is false (a folder an operator chose may be shared)."""
    private_dir(path.parent, tighten_existing=tighten_folder)
    try:
        os.close(create_private_file(path))
    except FileExistsError:
        tighten(path, PRIVATE_FILE)
