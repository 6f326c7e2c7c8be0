"""The inbox watcher: fires when a settled file waits, once per file, again when overdue; touches nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.drop_folder import DropFolder
from connectors.inbox_trigger import CLASSPATH, InboxTrigger, InboxWatch
from tests.connectors.trigger_events import EventReader


def _inbox(root: Path, department: str = "amr") -> Path:
    inbox = root / department / "inbox"
    inbox.mkdir(parents=True)
    return inbox


def test_serializes_to_its_classpath_and_plain_values() -> None:
    path, kwargs = InboxTrigger(poll_seconds=1.5, dropzone="/srv/drop").serialize()
    assert path == CLASSPATH
    assert kwargs == {
        "poll_seconds": 1.5,
        "refire_seconds": 600.0,
        "dropzone": "/srv/drop",
        "settle_seconds": None,
    }
    module, name = CLASSPATH.rsplit(".", 1)
    assert getattr(__import__(module, fromlist=[name]), name) is InboxTrigger


def test_fires_for_a_new_file_once_and_again_for_the_next(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)

    async def scenario() -> list[dict | None]:  # type: ignore[type-arg]
        trigger = InboxTrigger(poll_seconds=0.05, dropzone=str(tmp_path), settle_seconds=0)
        events = EventReader(trigger.run())
        quiet = await events.next(0.3)  # nothing waits: no event
        (inbox / "处罚.csv").write_text("a,b\n1,2\n", encoding="utf-8")
        first = await events.next(5)
        repeat = await events.next(0.4)  # the same file, announced already
        (inbox / "许可.csv").write_text("a,b\n3,4\n", encoding="utf-8")
        second = await events.next(5)
        await events.close()
        return [quiet, first, repeat, second]

    quiet, first, repeat, second = asyncio.run(scenario())
    assert quiet is None
    assert first is not None and first["files"] == 1 and first["departments"] == {"amr": 1}
    assert repeat is None
    assert second is not None and second["files"] == 2
    # it only looked: both files are where they were dropped, nothing was cleaned or claimed
    assert sorted(p.name for p in inbox.iterdir()) == ["处罚.csv", "许可.csv"]
    assert not (tmp_path / "amr" / ".work").exists()


def test_waits_for_a_file_to_settle_and_ignores_temporary_names(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)

    async def scenario() -> tuple[dict | None, dict | None]:  # type: ignore[type-arg]
        trigger = InboxTrigger(poll_seconds=0.05, dropzone=str(tmp_path), settle_seconds=0.6)
        events = EventReader(trigger.run())
        (inbox / "~$处罚.xlsx").write_bytes(b"lock")  # Office's lock file: within its grace period
        (inbox / "处罚.csv").write_text("a\n", encoding="utf-8")
        early = await events.next(0.3)  # not settled yet
        settled = await events.next(5)
        await events.close()
        return early, settled

    early, settled = asyncio.run(scenario())
    assert early is None
    assert settled is not None and settled["files"] == 1


def test_a_file_that_stays_is_announced_again_when_overdue() -> None:
    watch = InboxWatch(refire_seconds=60)
    seen = frozenset({("amr", (1, 2, 3, 4, 5))})
    assert watch.news(seen, False, now=100.0)
    assert not watch.news(seen, False, now=130.0)
    assert watch.news(seen, False, now=161.0)  # put back after an outage: the run must come again
    assert not watch.news(frozenset(), False, now=170.0)  # taken: forgotten
    assert watch.news(seen, False, now=171.0)  # the same bytes dropped again are news


def test_files_left_claimed_by_a_crashed_run_wake_a_run() -> None:
    watch = InboxWatch(refire_seconds=600)
    assert watch.news(frozenset(), True, now=10.0)
    assert not watch.news(frozenset(), True, now=20.0)


def test_waiting_changes_nothing_that_pending_would_clean(tmp_path: Path) -> None:
    """A crashed run's slot with a half-written private copy: pending() cleans it, waiting() must not."""
    inbox = _inbox(tmp_path)
    slot = tmp_path / "amr" / ".work" / "0123456789abcdef"
    slot.mkdir(parents=True)
    (slot / ".copy-x").write_bytes(b"partial")
    (slot / "claimed.csv").write_bytes(b"a\n1\n")
    (inbox / "waiting.csv").write_bytes(b"a\n1\n")
    folder = DropFolder(tmp_path, settle_seconds=0)
    look = folder.waiting("amr")
    assert look.claimed and len(look.entries) == 1 and look.oldest_seconds >= 0
    assert (slot / ".copy-x").exists()
    assert {p.name for p in folder.pending("amr")} == {"claimed.csv", "waiting.csv"}
    assert not (slot / ".copy-x").exists()


@pytest.mark.parametrize("missing", ["root", "inbox"])
def test_a_missing_folder_is_quiet(tmp_path: Path, missing: str) -> None:
    root = tmp_path / "drop"
    if missing == "inbox":
        (root / "amr").mkdir(parents=True)
    folder = DropFolder(root)
    assert folder.departments() == ([] if missing == "root" else ["amr"])
    look = folder.waiting("amr")
    assert look.entries == frozenset() and not look.claimed
