"""A gateway with the sample exports in its outbox, real transfer keys, and the real hub on a loopback port.

Keys are made once per session (encrypted with test passphrases, as production keys are) and copied into
each test's home; the hub runs in a thread with the XSD compiled once per session.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.delivery.policy import DeliveryPolicy
from gateway.settings import Settings
from gateway.transfer import HubClient, Sender, generate_keys
from hub.app import create_app
from hub.server import ServerThread
from hub.settings import Settings as HubSettings
from hub.validate import BatchValidator
from tests.paths import REPO_ROOT

HUB_ID = "SX-HUB"
SAMPLES = REPO_ROOT / "samples" / "inbox"
PASSPHRASES = {
    "GATEWAY_KEY_PASSPHRASE": "gateway-test-passphrase",
    "HUB_KEY_PASSPHRASE": "hub-test-passphrase",
}


@pytest.fixture(autouse=True)
def _passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PASSPHRASES.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def keys_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("delivery-keys") / "keys"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in PASSPHRASES.items():
            mp.setenv(name, value)
        generate_keys(root, Settings.sender_id, HUB_ID)
    return root


@pytest.fixture(scope="session")
def hub_validator(schemas_dir: Path) -> BatchValidator:
    return BatchValidator.from_dir(schemas_dir)


@pytest.fixture
def world(settings: Settings, keys_template: Path) -> Settings:
    """Settings with keys and the samples ingested and archived, as the drop folder leaves them: the file
    under processed/ and its path recorded, so the hub's refusals can be written next to it."""
    from gateway.ingest import ingest_file, mark_archived

    shutil.copytree(keys_template, settings.keys_dir, dirs_exist_ok=True)
    for sample in sorted(SAMPLES.rglob("*.*")):
        department = sample.parent.name
        result = ingest_file(settings, sample, department)
        if result.source_file_id is None or result.receipt.status == "rejected":
            continue
        archived = settings.dropzone / department / "processed" / sample.name
        archived.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample, archived)
        mark_archived(settings, result.source_file_id, archived)
    return settings.with_overrides(batch_max_records=4)


HubFactory = Callable[..., str]


@pytest.fixture
def hub(world: Settings, hub_validator: BatchValidator) -> Iterator[HubFactory]:
    """Start a hub (optionally with its own validator or clock); returns its URL. Stopped after the test."""
    servers: list[ServerThread] = []

    def start(validator: BatchValidator | None = None, clock: Callable[[], float] | None = None) -> str:
        settings = HubSettings(
            home=world.home / "hub", keys=world.keys_dir / "hub", schemas=world.schemas_dir
        )
        app = create_app(settings, validator=validator or hub_validator)
        if clock is not None:
            app.state.receiver.clock = clock
        server = ServerThread(app)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sender(world: Settings) -> Sender:
    return Sender.load(world.keys_dir / "gateway", world.sender_id)


ClientFactory = Callable[[str], HubClient]


@pytest.fixture
def client_for(sender: Sender) -> Iterator[ClientFactory]:
    clients: list[HubClient] = []

    def make(url: str) -> HubClient:
        client = HubClient(url, sender, retries=1, backoff=0.01, timeout=(2, 30))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


class Clock:
    """A settable clock for the delivery run (backoff and dead-letter ages), starting at the real now."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def policy() -> DeliveryPolicy:
    return DeliveryPolicy(backoff_base=timedelta(seconds=60), backoff_cap=timedelta(hours=1))


def free_port_url() -> str:
    """A loopback URL on which nothing listens (connections are refused at once): the hub is down."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def hub_copies(settings: Settings) -> dict[tuple[int, int], int]:
    """(record id, version) → how many times the hub stores it, read from the hub's own database."""
    import sqlite3

    with sqlite3.connect(settings.home / "hub" / "hub.db") as conn:
        rows = conn.execute("SELECT record_id, version, COUNT(*) FROM record GROUP BY record_id, version")
        return {(int(rid.removeprefix("r-")), int(version)): n for rid, version, n in rows}


def outbound_versions(settings: Settings) -> set[tuple[int, int]]:
    """Every (record id, version) the gateway must deliver."""
    from sqlalchemy import select

    from gateway.store.db import engine_for
    from gateway.store.tables import record_version

    stmt = select(record_version.c.record_id, record_version.c.version).where(record_version.c.outbound)
    with engine_for(settings.database_url).connect() as conn:
        return {(rid, version) for rid, version in conn.execute(stmt)}
