"""Delivery against the real hub: states, backoff, dead letters, re-sealing on proof, batch_conflict."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.delivery import admin, ledger, sealing, states
from gateway.delivery.policy import DeliveryPolicy
from gateway.delivery.service import DeliveryFailed, build_pending, deliver_all
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import audit, delivery_seal, outbox
from gateway.transfer import Sender

from .conftest import ClientFactory, Clock, HubFactory, free_port_url, hub_copies, outbound_versions

# The state logic alone is checked on SQLite; what differs by database (claiming rows, renumbering, seal
# history) runs on both.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _actions(settings: Settings, batch_id: str) -> list[str]:
    stmt = select(audit.c.action).where(audit.c.subject_id == batch_id).order_by(audit.c.id)
    with engine_for(settings.database_url).connect() as conn:
        return list(conn.execute(stmt).scalars())


def _assert_exactly_once(settings: Settings) -> None:
    copies = hub_copies(settings)
    assert set(copies) == outbound_versions(settings)
    assert set(copies.values()) == {1}


def test_every_batch_is_acknowledged_once_and_a_rerun_sends_nothing(
    world: Settings, hub: HubFactory, client_for: ClientFactory, sender: Sender, policy: DeliveryPolicy
) -> None:
    client = client_for(hub())
    built = build_pending(world)
    assert len(built) >= 6
    summary = deliver_all(world, built, client=client, sender=sender, policy=policy)
    assert summary["acknowledged"] == len(built)
    assert summary["records"] == len(outbound_versions(world))
    assert (summary["failed"], summary["deferred"], summary["died"], summary["dead"]) == (0, 0, [], [])
    _assert_exactly_once(world)
    for batch in ledger.batches(world, states.ALL):
        assert (batch.status, batch.seals, batch.attempts) == (states.ACKNOWLEDGED, 1, 1)
        assert batch.sent_at is not None and batch.next_attempt_at is None
    assert _actions(world, built[0]) == ["batch.built", "batch.sealed", "batch.push", "batch.acknowledged"]
    again = deliver_all(world, build_pending(world), client=client, sender=sender, policy=policy)
    assert again["batches"] == 0
    _assert_exactly_once(world)


@sqlite_only
def test_a_failure_backs_off_and_holds_the_later_batches_back(
    world: Settings,
    hub: HubFactory,
    client_for: ClientFactory,
    sender: Sender,
    policy: DeliveryPolicy,
    clock: Clock,
) -> None:
    built = build_pending(world)
    with pytest.raises(DeliveryFailed) as failed:
        deliver_all(
            world, built, client=client_for(free_port_url()), sender=sender, policy=policy, clock=clock
        )
    summary = failed.value.summary
    assert (summary["failed"], summary["acknowledged"], summary["deferred"]) == (1, 0, len(built) - 1)
    first = ledger.load(world, built[0])
    assert (first.status, first.attempts, first.last_code) == (states.SENT, 1, "hub_unavailable")
    assert first.next_attempt_at is not None
    assert timedelta(seconds=30) <= first.next_attempt_at - clock.now <= timedelta(seconds=60)
    assert {ledger.load(world, b).status for b in built[1:]} == {states.BUILT}

    # Still inside the backoff: nothing is tried, and that is not a failure of the run.
    clock.advance(timedelta(seconds=20))
    waiting = deliver_all(
        world, [], client=client_for(free_port_url()), sender=sender, policy=policy, clock=clock
    )
    assert (waiting["deferred"], waiting["failed"]) == (len(built), 0)
    assert ledger.load(world, built[0]).attempts == 1

    clock.advance(timedelta(seconds=60))
    done = deliver_all(world, [], client=client_for(hub()), sender=sender, policy=policy, clock=clock)
    assert done["acknowledged"] == len(built)
    first = ledger.load(world, built[0])
    assert (first.attempts, first.seals, first.next_attempt_at) == (2, 1, None)
    _assert_exactly_once(world)


def test_a_batch_dies_after_its_attempts_and_comes_back_renumbered_when_retried(
    world: Settings, hub: HubFactory, client_for: ClientFactory, sender: Sender
) -> None:
    policy = DeliveryPolicy(max_attempts=2, backoff_base=timedelta(0))
    built = build_pending(world)
    down = client_for(free_port_url())
    with pytest.raises(DeliveryFailed):
        deliver_all(world, built, client=down, sender=sender, policy=policy)
    with pytest.raises(DeliveryFailed) as died:
        deliver_all(world, [], client=down, sender=sender, policy=policy)
    assert died.value.summary["died"] == [built[0]]
    assert [d["batch_id"] for d in died.value.summary["dead"]] == [built[0]]  # type: ignore[index]
    dead = ledger.load(world, built[0])
    assert (dead.status, dead.last_code) == (states.DEAD, "hub_unavailable")
    assert dead.dead_at is not None and "已尝试 2 次" in str(dead.last_error)

    # A dead batch no longer holds the others back; the run succeeds because nothing new died.
    client = client_for(hub())
    summary = deliver_all(world, [], client=client, sender=sender, policy=policy)
    assert summary["acknowledged"] == len(built) - 1 and summary["died"] == []
    assert [d["batch_id"] for d in summary["dead"]] == [built[0]]  # type: ignore[union-attr]

    retried = admin.retry(world, built[0])
    assert (retried.previous, retried.status) == (states.DEAD, states.SENT)
    assert ledger.load(world, built[0]).attempts == 0
    # Later seqs reached the hub meanwhile: it answers seq_not_increasing (signed, batch not stored), so the
    # batch takes a new seq, keeps its id, and its XML is rendered again with that seq.
    summary = deliver_all(world, [], client=client, sender=sender, policy=policy)
    assert summary["acknowledged"] == 1 and summary["dead"] == []
    back = ledger.load(world, built[0])
    assert back.status == states.ACKNOWLEDGED
    assert back.seq > max(ledger.load(world, b).seq for b in built[1:])
    assert sealing.xml_matches(Path(str(back.xml_path)), back.batch_id, back.seq)
    assert "batch.renumbered" in _actions(world, built[0])
    _assert_exactly_once(world)


@sqlite_only
def test_a_batch_dies_when_it_has_been_failing_for_too_long(
    world: Settings, client_for: ClientFactory, sender: Sender, clock: Clock
) -> None:
    policy = DeliveryPolicy(max_age=timedelta(hours=1), backoff_base=timedelta(seconds=10))
    built = build_pending(world)
    down = client_for(free_port_url())
    with pytest.raises(DeliveryFailed):
        deliver_all(world, built, client=down, sender=sender, policy=policy, clock=clock)
    clock.advance(timedelta(hours=2))
    with pytest.raises(DeliveryFailed) as died:
        deliver_all(world, [], client=down, sender=sender, policy=policy, clock=clock)
    assert died.value.summary["died"] == [built[0]]
    assert "小时" in str(ledger.load(world, built[0]).last_error)


@sqlite_only
def test_a_stale_envelope_never_pushed_is_sealed_again_before_the_push(
    world: Settings, hub: HubFactory, client_for: ClientFactory, sender: Sender
) -> None:
    built = build_pending(world)
    first = ledger.load(world, built[0])
    rtype = load_record_types(world.schemas_dir)[first.record_type]
    sealed = sealing.seal(world, sender, first, rtype, first.created_at)
    assert sealed is not None and ledger.load(world, built[0]).status == states.SEALED
    always_stale = DeliveryPolicy(hub_max_skew=timedelta(0), stale_margin=timedelta(seconds=1))
    deliver_all(world, [], client=client_for(hub()), sender=sender, policy=always_stale)
    batch = ledger.load(world, built[0])
    assert (batch.status, batch.seals, batch.seq) == (states.ACKNOWLEDGED, 2, first.seq)
    assert batch.envelope_sha256 != sealed[2].envelope_sha256
    _assert_exactly_once(world)


@sqlite_only
def test_a_signed_stale_answer_reseals_with_the_same_batch_id_and_seq(
    world: Settings, hub: HubFactory, client_for: ClientFactory, sender: Sender, policy: DeliveryPolicy
) -> None:
    ahead = iter([1000.0])  # the hub's clock is 1000 s ahead for the first push only
    url = hub(clock=lambda: time.time() + next(ahead, 0.0))
    built = build_pending(world)
    seq = ledger.load(world, built[0]).seq
    summary = deliver_all(world, built, client=client_for(url), sender=sender, policy=policy)
    assert summary["acknowledged"] == len(built)
    batch = ledger.load(world, built[0])
    assert (batch.seals, batch.seq, batch.attempts) == (2, seq, 2)
    with engine_for(world.database_url).connect() as conn:
        seqs = conn.execute(select(delivery_seal.c.seq).where(delivery_seal.c.batch_id == built[0])).scalars()
        assert list(seqs) == [seq, seq]
    _assert_exactly_once(world)


def test_batch_conflict_is_settled_with_the_envelope_the_hub_already_holds(
    world: Settings, hub: HubFactory, client_for: ClientFactory, sender: Sender, policy: DeliveryPolicy
) -> None:
    client = client_for(hub())
    built = build_pending(world)
    first = ledger.load(world, built[0])
    rtype = load_record_types(world.schemas_dir)[first.record_type]
    one = sealing.seal(world, sender, first, rtype, first.created_at)
    assert one is not None
    # A push of seal 1 that the hub completed although the gateway never learnt of it ...
    client.push(one[1], one[2], first.batch_id)
    # ... and a second envelope for the same batch, which the hub must refuse as batch_conflict.
    two = sealing.seal(world, sender, ledger.load(world, built[0]), rtype, first.created_at)
    assert two is not None and two[2].envelope_sha256 != one[2].envelope_sha256
    summary = deliver_all(world, [], client=client, sender=sender, policy=policy)
    assert summary["acknowledged"] == len(built)
    batch = ledger.load(world, built[0])
    assert (batch.status, batch.envelope_sha256) == (states.ACKNOWLEDGED, one[2].envelope_sha256)
    assert "batch.seal_adopted" in _actions(world, built[0])
    _assert_exactly_once(world)


@sqlite_only
def test_a_killed_build_leaves_the_outbox_rows_pending(
    world: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.delivery.batcher as batcher

    def broken(*_args: object, **_kwargs: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(batcher, "render_batch", broken)
    with pytest.raises(OSError, match="disk full"):
        build_pending(world)
    monkeypatch.undo()
    with engine_for(world.database_url).connect() as conn:
        assert conn.execute(select(outbox.c.id).where(outbox.c.batch_id.is_not(None))).first() is None
    assert ledger.batches(world, states.ALL) == []
    assert len(build_pending(world)) >= 6
