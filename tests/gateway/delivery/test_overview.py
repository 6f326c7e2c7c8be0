"""gateway/delivery/overview.py: a page of batches, and one batch with its receipt, seals and history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.delivery import admin, overview, states
from gateway.delivery.policy import DeliveryPolicy
from gateway.delivery.service import DeliveryFailed, build_pending, deliver_all
from gateway.settings import Settings
from gateway.transfer import Sender

from .conftest import ClientFactory, HubFactory, free_port_url


def test_batches_their_receipts_and_a_dead_letter(
    world: Settings, hub: HubFactory, client_for: ClientFactory, sender: Sender
) -> None:
    built = build_pending(world)  # the samples in batches of four
    dying = DeliveryPolicy(max_attempts=1, backoff_base=timedelta(0))
    with pytest.raises(DeliveryFailed):
        deliver_all(world, built[:1], client=client_for(free_port_url()), sender=sender, policy=dying)
    admin.retry(world, built[0], by="tester")  # back to sent, delivered below with the rest
    deliver_all(world, built, client=client_for(hub()), sender=sender, policy=dying)

    everything = overview.batches_page(world, (), 1, 3)
    assert everything.total == len(built) and len(everything.items) == 3
    assert [b.seq for b in everything.items] == sorted((b.seq for b in everything.items), reverse=True)
    acknowledged = overview.batches_page(world, [states.ACKNOWLEDGED], 1, 100)
    assert acknowledged.total == len(built)
    assert overview.batches_page(world, [states.DEAD]).total == 0
    assert overview.counts(world)[states.ACKNOWLEDGED] == len(built)

    detail = overview.batch_detail(world, built[0])
    assert detail is not None and detail.batch.status == states.ACKNOWLEDGED
    assert detail.receipt is not None and detail.receipt_signed
    assert detail.receipt["batch_id"] == built[0] and detail.receipt["status"] == "accepted"
    assert detail.receipt["envelope_sha256"] == detail.envelope_sha256
    assert [s.seal_no for s in detail.seals] == [1] and detail.seals[0].envelope_present
    actions = [e.action for e in detail.events]
    assert "batch.dead" in actions and "batch.retried" in actions and actions[-1] == "batch.acknowledged"
    assert not detail.retryable
    assert overview.batch_detail(world, "no-such-batch") is None


def test_a_dead_batch_is_listed_as_a_dead_letter_and_retryable(
    world: Settings, client_for: ClientFactory, sender: Sender
) -> None:
    built = build_pending(world)
    dying = DeliveryPolicy(max_attempts=1, backoff_base=timedelta(0))
    with pytest.raises(DeliveryFailed):
        deliver_all(world, built[:1], client=client_for(free_port_url()), sender=sender, policy=dying)
    dead = overview.batches_page(world, [states.DEAD])
    assert [b.batch_id for b in dead.items] == [built[0]]
    assert dead.items[0].last_code == "hub_unavailable" and dead.items[0].dead_at
    detail = overview.batch_detail(world, built[0])
    assert detail is not None and detail.retryable and detail.receipt is None and not detail.receipt_signed
