"""What the hub stores of a received batch — the decrypted XML, hub.db with the receipts — is owner-only,
whatever the umask of the process that runs it."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from gateway.transfer import HubClient, Sealed, Sender
from hub.app import create_app
from hub.server import ServerThread
from hub.settings import Settings
from hub.validate import BatchValidator

from .conftest import SENDER, Rec

Seal = Callable[..., tuple[Path, Sealed]]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_stored_batch_and_the_hub_database_are_owner_only(
    settings: Settings, validator: BatchValidator, sender: Sender, seal_batch: Seal
) -> None:
    envelopes = [
        seal_batch(f"20261128-00000{seq}-admin_penalty", seq, records=[Rec(), Rec("u")]) for seq in (1, 2)
    ]
    previous = os.umask(0)  # a service started without a umask: everything would be world-writable
    try:
        with (
            ServerThread(create_app(settings, validator=validator)) as url,
            HubClient(url, sender, retries=0) as client,
        ):
            for envelope, sealed in envelopes:
                receipt = client.push(envelope, sealed, Path(envelope).stem)
                assert receipt.status == "accepted"
    finally:
        os.umask(previous)

    received = settings.received_dir / SENDER
    assert sorted(p.name for p in received.iterdir()) == [
        "20261128-000001-admin_penalty.xml",
        "20261128-000002-admin_penalty.xml",
    ]
    assert {mode(p) for p in received.iterdir()} == {0o600}
    assert (
        mode(received)
        == mode(settings.received_dir)
        == mode(settings.tmp_dir)
        == mode(settings.home)
        == 0o700
    )
    assert mode(settings.db_path) == 0o600
    for companion in settings.home.glob("hub.db-*"):  # SQLite's -wal and -shm take the database file's mode
        assert mode(companion) == 0o600
    assert list(settings.tmp_dir.iterdir()) == []


def test_an_existing_hub_home_from_an_older_release_is_tightened(
    settings: Settings, validator: BatchValidator
) -> None:
    settings.received_dir.mkdir(parents=True, mode=0o755)
    os.chmod(settings.home, 0o755)
    os.chmod(settings.received_dir, 0o755)
    settings.db_path.write_bytes(b"")
    os.chmod(settings.db_path, 0o644)
    create_app(settings, validator=validator)
    assert mode(settings.home) == mode(settings.received_dir) == 0o700
    assert mode(settings.db_path) == 0o600
