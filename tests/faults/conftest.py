"""Fault tests: the real hub (`python -m hub serve`) as a child process, real keys, a gateway home with the
sample exports in its outbox, and a way to run one delivery in a child process that may be killed.

Every test ends with the same question, asked of the hub's own database and of `python -m hub report`:
does the hub hold every record version the gateway had to deliver, exactly once?
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import delivery_batch, outbox, record_version
from hub import launch
from tests.paths import REPO_ROOT

HUB_ID = "SX-HUB"
SAMPLES = REPO_ROOT / "samples" / "inbox"
DRIVER = Path(__file__).with_name("driver.py")
PASSPHRASES = {"GATEWAY_KEY_PASSPHRASE": "gateway-fault-tests", "HUB_KEY_PASSPHRASE": "hub-fault-tests"}
START_TIMEOUT = 60.0
BATCH_RECORDS = 4


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: crash-injection and hub-fault tests (tests/faults/)")


@pytest.fixture(autouse=True)
def _passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PASSPHRASES.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def fault_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gateway.transfer import generate_keys

    root = tmp_path_factory.mktemp("fault-keys") / "keys"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in PASSPHRASES.items():
            mp.setenv(name, value)
        generate_keys(root, Settings.sender_id, HUB_ID)
    return root


@pytest.fixture
def gateway_home(settings: Settings, fault_keys: Path) -> Settings:
    """A gateway with keys and every sample export ingested: its records wait in the outbox. Batches of
    four records, so that the samples make several batches and a crash meets some delivered, some not."""
    from gateway.ingest import ingest_file

    shutil.copytree(fault_keys, settings.keys_dir, dirs_exist_ok=True)
    for sample in sorted(SAMPLES.rglob("*.*")):
        ingest_file(settings, sample, sample.parent.name)
    return settings.with_overrides(batch_max_records=BATCH_RECORDS)


class HubProcess:
    """`python -m hub serve` on a free loopback port; ``fault`` sets HUB_FAULT (hub/faults.py)."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.child: launch.Child | None = None
        self.url = ""
        self.starts = 0

    def start(self, fault: str | None = None) -> str:
        env = {**os.environ, **PASSPHRASES}
        env.pop("HUB_FAULT", None)
        if fault:
            env["HUB_FAULT"] = fault
        command = launch.serve_command(
            self.settings.home / "hub", self.settings.keys_dir / "hub", self.settings.schemas_dir
        )  # plain HTTP on loopback: the transport is not what these tests are about
        self.stop()  # a previous start (killed by its fault, as a rule)
        self.starts += 1
        log = self.logs / f"hub-{self.starts}.log"
        self.child = launch.start(command, log, env=env, timeout=START_TIMEOUT)
        self.url = self.child.url
        return self.url

    def wait_killed(self, timeout: float = 30) -> int:
        assert self.child is not None
        return self.child.proc.wait(timeout)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


@pytest.fixture
def hub_process(gateway_home: Settings, tmp_path: Path) -> Iterator[HubProcess]:
    logs = tmp_path / "logs"
    logs.mkdir()
    hub = HubProcess(gateway_home, logs)
    yield hub
    hub.stop()


@dataclass(frozen=True)
class DriverRun:
    returncode: int
    summary: dict[str, object] | None
    stderr: str


def run_driver(settings: Settings, hub_url: str, *, crash: str | None = None, at: int = 1) -> DriverRun:
    env = {
        **os.environ,
        **PASSPHRASES,
        "GATEWAY_HOME": str(settings.home),
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_HUB_URL": hub_url,
        "GATEWAY_BATCH_MAX_RECORDS": str(settings.batch_max_records),
    }
    cmd = [sys.executable, str(DRIVER)] + (["--crash", crash, "--at", str(at)] if crash else [])
    done = subprocess.run(cmd, env=env, capture_output=True, timeout=300, check=False)
    out = done.stdout.decode().strip().splitlines()
    summary = json.loads(out[-1]) if out and out[-1].startswith("{") else None
    return DriverRun(done.returncode, summary, done.stderr.decode(errors="replace")[-4000:])


def deliver_here(settings: Settings, hub_url: str) -> dict[str, object]:
    """The rerun, in this process (a child would only add its start-up time): build and deliver everything."""
    from datetime import timedelta

    from gateway.delivery.policy import DeliveryPolicy
    from gateway.delivery.service import build_pending, deliver_all
    from gateway.transfer import HubClient, Sender

    sender = Sender.load(settings.keys_dir / "gateway", settings.sender_id)
    built = build_pending(settings)
    with HubClient(hub_url, sender, retries=2, backoff=0.05, timeout=(2, 20)) as client:
        return deliver_all(
            settings, built, client=client, sender=sender, policy=DeliveryPolicy(backoff_base=timedelta(0))
        )


# ------------------------------------------------------------------------------------ what the hub holds


def hub_copies(settings: Settings) -> dict[tuple[int, int], int]:
    """(record id, version) → number of copies in the hub's database."""
    db = settings.home / "hub" / "hub.db"
    if not db.exists():
        return {}
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT record_id, version, COUNT(*) FROM record GROUP BY record_id, version")
        return {(int(rid.removeprefix("r-")), int(version)): n for rid, version, n in rows}


def hub_batches(settings: Settings) -> set[str]:
    db = settings.home / "hub" / "hub.db"
    if not db.exists():
        return set()
    with sqlite3.connect(db) as conn:
        return {
            batch_id for (batch_id,) in conn.execute("SELECT batch_id FROM batch WHERE status='accepted'")
        }


def hub_report(settings: Settings) -> dict[str, object]:
    out = subprocess.run(
        launch.hub_command("report", "--json", "--home", str(settings.home / "hub")),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def batch_states(settings: Settings) -> dict[str, str]:
    stmt = select(delivery_batch.c.batch_id, delivery_batch.c.status).order_by(delivery_batch.c.seq)
    with engine_for(settings.database_url).connect() as conn:
        return dict(conn.execute(stmt).all())  # type: ignore[arg-type]


def assert_delivered_exactly_once(settings: Settings) -> None:
    """Every outbound version at the hub once, every batch acknowledged, nothing left in the outbox."""
    with engine_for(settings.database_url).connect() as conn:
        wanted = {
            (rid, version)
            for rid, version in conn.execute(
                select(record_version.c.record_id, record_version.c.version).where(record_version.c.outbound)
            )
        }
        unbatched = conn.execute(select(outbox.c.id).where(outbox.c.batch_id.is_(None))).first()
    copies = hub_copies(settings)
    duplicated = {key: n for key, n in copies.items() if n != 1}
    assert duplicated == {}, f"the hub holds these record versions more than once: {duplicated}"
    assert set(copies) == wanted, f"missing at the hub: {sorted(wanted - set(copies))[:10]}"
    assert unbatched is None
    states = batch_states(settings)
    assert set(states.values()) == {"acknowledged"}, states
    assert hub_batches(settings) == set(states)
    report = hub_report(settings)
    assert report["records"]["total"] == len(wanted)  # type: ignore[index]
    assert report["batches"] == {"total": len(states), "accepted": len(states), "rejected": 0}
