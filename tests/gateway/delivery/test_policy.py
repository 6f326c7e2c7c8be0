"""The retry schedule between runs and the dead-letter limits."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from gateway.delivery.policy import DeliveryPolicy


def test_backoff_doubles_with_equal_jitter_up_to_the_cap() -> None:
    policy = DeliveryPolicy(backoff_base=timedelta(seconds=60), backoff_cap=timedelta(minutes=10))
    rng = random.Random(7)
    for attempts, full in [(1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (40, 600), (10_000, 600)]:
        waits = [policy.backoff(attempts, rng).total_seconds() for _ in range(200)]
        assert full / 2 <= min(waits) and max(waits) <= full
        assert max(waits) - min(waits) > full / 4  # jitter really spreads the gateways out


def test_a_batch_is_given_up_after_its_attempts_or_its_age() -> None:
    policy = DeliveryPolicy(max_attempts=5, max_age=timedelta(hours=6))
    start = datetime(2026, 11, 28, tzinfo=UTC)
    assert policy.exhausted(4, start, start + timedelta(hours=5)) is None
    assert "5 次" in str(policy.exhausted(5, start, start + timedelta(minutes=1)))
    assert "小时" in str(policy.exhausted(1, start, start + timedelta(hours=6)))


def test_an_envelope_is_stale_before_the_hub_would_say_so() -> None:
    policy = DeliveryPolicy(hub_max_skew=timedelta(seconds=300), stale_margin=timedelta(seconds=60))
    now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert not policy.envelope_stale(int(now.timestamp()) - 240, now)
    assert policy.envelope_stale(int(now.timestamp()) - 241, now)


def test_settings_come_from_the_environment() -> None:
    policy = DeliveryPolicy.from_env(
        {
            "GATEWAY_DELIVERY_MAX_ATTEMPTS": "4",
            "GATEWAY_DELIVERY_MAX_AGE": "7200",
            "GATEWAY_DELIVERY_BACKOFF": "5",
            "GATEWAY_DELIVERY_BACKOFF_CAP": "90",
            "GATEWAY_DELIVERY_HUB_MAX_SKEW": "600",
        }
    )
    assert policy == DeliveryPolicy(
        max_attempts=4,
        max_age=timedelta(hours=2),
        backoff_base=timedelta(seconds=5),
        backoff_cap=timedelta(seconds=90),
        hub_max_skew=timedelta(seconds=600),
    )
    assert DeliveryPolicy.from_env({}) == DeliveryPolicy()
    with pytest.raises(ValueError, match="at least 1"):
        DeliveryPolicy.from_env({"GATEWAY_DELIVERY_MAX_ATTEMPTS": "0"})
