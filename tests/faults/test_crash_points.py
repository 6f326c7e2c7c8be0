"""Kill the delivery (or the hub) at each dangerous instant, run again, and count what the hub holds.

Gateway-side points kill the child running the delivery with SIGKILL while it handles the second batch (the
first went through), so a crash always meets a mixed state. Hub-side points kill `python -m hub serve`
inside or just after the transaction that stores the first batch; the test then starts the hub again, as
an operator would. The rerun must end with every record version at the hub exactly once.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from gateway.delivery import ledger, states
from gateway.settings import Settings

from .conftest import (
    DriverRun,
    HubProcess,
    assert_delivered_exactly_once,
    batch_states,
    deliver_here,
    hub_batches,
    run_driver,
)

pytestmark = pytest.mark.faults
# One child process and one or two hub starts per test: SQLite only, except one point also on PostgreSQL.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
KILLED = -signal.SIGKILL


def _first_open(settings: Settings) -> ledger.Batch:
    return next(b for b in ledger.batches(settings, states.ALL) if b.status != states.ACKNOWLEDGED)


def _rerun(settings: Settings, hub: HubProcess) -> None:
    """Run again (no crash): everything is delivered, once; a further run finds nothing to do."""
    summary = deliver_here(settings, hub.url)
    assert summary["died"] == [] and summary["failed"] == 0
    assert_delivered_exactly_once(settings)
    assert deliver_here(settings, hub.url)["batches"] == 0


def _killed(run: DriverRun) -> None:
    assert run.returncode == KILLED, f"expected SIGKILL, got {run.returncode}: {run.stderr}"


@sqlite_only
def test_killed_while_rendering_a_batch(gateway_home: Settings, hub_process: HubProcess) -> None:
    hub_process.start()
    _killed(run_driver(gateway_home, hub_process.url, crash="during_render", at=2))
    # The second batch's transaction never committed: one batch exists, the rest is still in the outbox.
    assert list(batch_states(gateway_home).values()) == [states.BUILT]
    assert hub_batches(gateway_home) == set()
    _rerun(gateway_home, hub_process)


@sqlite_only
def test_killed_after_building(gateway_home: Settings, hub_process: HubProcess) -> None:
    hub_process.start()
    _killed(run_driver(gateway_home, hub_process.url, crash="after_build"))
    assert set(batch_states(gateway_home).values()) == {states.BUILT}
    _rerun(gateway_home, hub_process)


@sqlite_only
def test_killed_while_sealing_leaves_a_torn_envelope_that_is_never_pushed(
    gateway_home: Settings, hub_process: HubProcess
) -> None:
    hub_process.start()
    _killed(run_driver(gateway_home, hub_process.url, crash="during_seal", at=2))
    torn = _first_open(gateway_home)
    assert torn.status == states.BUILT and torn.seals == 0
    assert Path(gateway_home.outbox_dir / f"{torn.batch_id}.s1.gwenv").exists()
    _rerun(gateway_home, hub_process)


@sqlite_only
def test_killed_after_committing_sent_before_anything_went_out(
    gateway_home: Settings, hub_process: HubProcess
) -> None:
    hub_process.start()
    _killed(run_driver(gateway_home, hub_process.url, crash="before_push", at=2))
    batch = _first_open(gateway_home)
    assert batch.status == states.SENT and batch.batch_id not in hub_batches(gateway_home)
    _rerun(gateway_home, hub_process)


@sqlite_only
def test_killed_during_the_upload(gateway_home: Settings, hub_process: HubProcess) -> None:
    hub_process.start()
    _killed(run_driver(gateway_home, hub_process.url, crash="during_upload", at=2))
    batch = _first_open(gateway_home)
    assert batch.status == states.SENT and batch.batch_id not in hub_batches(gateway_home)
    _rerun(gateway_home, hub_process)


def test_killed_after_the_receipt_before_recording_it(
    gateway_home: Settings, hub_process: HubProcess
) -> None:
    hub_process.start()
    _killed(run_driver(gateway_home, hub_process.url, crash="after_receipt", at=2))
    batch = _first_open(gateway_home)
    # The hub has it, the gateway does not know: the rerun pushes the same envelope, gets the stored receipt.
    assert batch.status == states.SENT and batch.batch_id in hub_batches(gateway_home)
    _rerun(gateway_home, hub_process)
    assert ledger.load(gateway_home, batch.batch_id).seals == 1


@sqlite_only
def test_hub_killed_after_storing_before_answering(gateway_home: Settings, hub_process: HubProcess) -> None:
    hub_process.start(fault="after_commit")
    first = run_driver(gateway_home, hub_process.url)
    assert first.returncode == 3 and first.summary is not None and first.summary["failed"] == 1
    assert hub_process.wait_killed() == KILLED
    batch = _first_open(gateway_home)
    assert batch.status == states.SENT and batch.batch_id in hub_batches(gateway_home)
    hub_process.start()
    _rerun(gateway_home, hub_process)
    assert ledger.load(gateway_home, batch.batch_id).seals == 1


@sqlite_only
def test_hub_killed_inside_its_commit(gateway_home: Settings, hub_process: HubProcess) -> None:
    hub_process.start(fault="during_commit")
    first = run_driver(gateway_home, hub_process.url)
    assert first.returncode == 3, first.stderr
    assert hub_process.wait_killed() == KILLED
    batch = _first_open(gateway_home)
    # SQLite rolled the hub's transaction back when it reopened: the batch is not there.
    assert batch.status == states.SENT
    hub_process.start()
    assert batch.batch_id not in hub_batches(gateway_home)
    _rerun(gateway_home, hub_process)
