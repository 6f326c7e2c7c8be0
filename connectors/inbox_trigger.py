"""An event trigger on the departments' inboxes: a file dropped is picked up in seconds, not at the next poll.

The gateway's DAG ``department_files`` is scheduled on the asset ``gateway_inboxes``, whose watcher is this
trigger; Airflow's triggerer runs it, and each event it yields becomes an asset event that starts a run.

Why not the standard provider's file triggers: ``FileDeleteTrigger`` and ``DirectoryFileDeleteTrigger``
delete the file they find (the gateway must keep it: it is claimed, ingested and archived with its receipt)
and watch one fixed name, while departments drop files under any name into any of their inboxes. This
trigger only looks, with ``DropFolder.waiting``: the same rule as the run that will take the files (settled
for ``settle_seconds``, temporary names only after their grace period), so it never wakes a run that would
find nothing, and it never touches, cleans or logs an entry.

When it fires: when an entry whose turn has come was not there (or was different) at the last event, or when
a run left claimed files behind. When it fires again for the same files: only if they are still waiting
``refire_seconds`` after the last event (a run that stopped on a database outage puts its file back; the
file is unchanged, so without this it would wait for the DAG's timer). The event carries counts, never names:
file names may hold a person's ID number.

The triggerer reads the drop zone from the gateway's settings (``GATEWAY_DROPZONE`` / ``GATEWAY_HOME``), as
the workers do, unless ``dropzone`` is given (tests). Serialized kwargs are only these plain values.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

CLASSPATH = "connectors.inbox_trigger.InboxTrigger"


@dataclass
class InboxWatch:
    """The trigger's memory between looks: what was announced, and when. Separate from the async loop so
    that the decision is a plain function of what the inboxes hold (and tested as one)."""

    refire_seconds: float
    announced: frozenset[tuple[str, tuple[int, ...]]] = field(default_factory=frozenset)
    announced_claimed: bool = False
    announced_at: float = 0.0

    def news(self, seen: frozenset[tuple[str, tuple[int, ...]]], claimed: bool, now: float) -> bool:
        """Whether what the inboxes hold now deserves an event. What has left is forgotten, so a file
        dropped again under the same name, or a new inode, is news."""
        if not seen and not claimed:
            self.announced, self.announced_claimed = frozenset(), False
            return False
        fresh = bool(seen - self.announced) or (claimed and not self.announced_claimed)
        overdue = now - self.announced_at >= self.refire_seconds
        self.announced, self.announced_claimed = seen, claimed
        if fresh or overdue:
            self.announced_at = now
            return True
        return False


class InboxTrigger(BaseEventTrigger):
    """Fires when files are waiting in any department's inbox of the drop zone (see the module doc)."""

    def __init__(
        self,
        *,
        poll_seconds: float = 3.0,
        refire_seconds: float = 600.0,
        dropzone: str | None = None,
        settle_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self.poll_seconds = poll_seconds
        self.refire_seconds = refire_seconds
        self.dropzone = dropzone
        self.settle_seconds = settle_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "poll_seconds": self.poll_seconds,
                "refire_seconds": self.refire_seconds,
                "dropzone": self.dropzone,
                "settle_seconds": self.settle_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from connectors.drop_folder import DropFolder
        from gateway.settings import Settings

        settings = Settings.from_env()
        root = Path(self.dropzone) if self.dropzone else settings.dropzone
        folder = DropFolder(
            root,
            settle_seconds=settings.settle_seconds if self.settle_seconds is None else self.settle_seconds,
            temp_grace_seconds=settings.temp_grace_seconds,
        )
        watch = InboxWatch(self.refire_seconds)
        self.log.info("watching the inboxes under %s every %.1f s", root, self.poll_seconds)
        while True:
            look = await asyncio.to_thread(_look, folder)
            if watch.news(look.seen, look.claimed, time.monotonic()):
                payload = look.payload()
                self.log.info("files waiting: %s", payload)
                yield TriggerEvent(payload)
            await asyncio.sleep(self.poll_seconds)


@dataclass(frozen=True)
class _Look:
    seen: frozenset[tuple[str, tuple[int, ...]]]
    claimed: bool
    departments: dict[str, int]
    oldest_seconds: float

    def payload(self) -> dict[str, Any]:
        return {
            "files": len(self.seen),
            "departments": self.departments,
            "claimed": self.claimed,
            "oldest_seconds": round(self.oldest_seconds, 1),
        }


def _look(folder: Any) -> _Look:
    """Every inbox once (runs in a thread: directory listings block)."""
    seen: set[tuple[str, tuple[int, ...]]] = set()
    departments: dict[str, int] = {}
    claimed = False
    oldest = 0.0
    for department in folder.departments():
        waiting = folder.waiting(department)
        seen.update((department, entry) for entry in waiting.entries)
        if waiting.entries:
            departments[department] = len(waiting.entries)
        claimed = claimed or waiting.claimed
        oldest = max(oldest, waiting.oldest_seconds)
    return _Look(frozenset(seen), claimed, departments, oldest)
