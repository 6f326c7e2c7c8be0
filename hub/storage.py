"""Where the hub keeps what it receives — hub.db, received/<sender>/<batch>.xml, tmp/ — owner-only.

Received batches are the province's copy of personal data (names, ID numbers, penalties), so every folder
is created 0700 and every file 0600, set explicitly rather than left to the process umask (a service
started with the usual 022 would otherwise write 0644 files). The hub imports nothing of the gateway but
the protocol and the schema loader, hence these few lines of its own rather than gateway.settings'.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``mkdir -p`` with every new folder 0700; an existing leaf wider than that is tightened."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        os.chmod(path, current & ~0o077)
    return path


def create_private(path: Path, *, exclusive: bool = True) -> int:
    """A descriptor on ``path`` as a new 0600 file (``exclusive``), or the existing one truncated and made
    0600; never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_EXCL if exclusive else os.O_TRUNC
    descriptor = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def open_private(path: Path) -> BinaryIO:
    """``path.open("wb")`` for a new file of our own naming, created 0600."""
    return os.fdopen(create_private(path), "wb")


def private_database(path: Path) -> None:
    """hub.db created empty and 0600 before SQLite opens it (SQLite gives its -wal and -shm files the mode
    of the database file), or an existing one tightened to 0600."""
    private_dir(path.parent)
    try:
        os.close(create_private(path))
    except FileExistsError:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            os.chmod(path, current & ~0o077)
