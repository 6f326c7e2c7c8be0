"""When a failing batch is tried again, and when the gateway gives up on it (dead letter).

HubClient already retries within one push (seconds apart). This is the slower schedule between delivery
runs: after the n-th failed attempt the batch waits b/2 + uniform(0, b/2) with b = min(cap, base·2^(n-1)),
the same "equal jitter" as the client, so a hub that comes back is not hit by every gateway at once. A batch
dies after ``max_attempts`` attempts or when it has been open longer than ``max_age``, whichever comes first;
a person brings it back with ``gateway deliveries retry``.

Read from the environment here rather than from gateway.settings so that the delivery policy can be tuned
(and tested) without touching the settings every other stage shares.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

ENV_PREFIX = "GATEWAY_DELIVERY_"


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 30
    max_age: timedelta = timedelta(days=3)
    backoff_base: timedelta = timedelta(minutes=1)
    backoff_cap: timedelta = timedelta(hours=1)
    # The hub's freshness window (its --max-skew). An envelope that was never pushed and is older than this
    # (less a margin for clock skew and upload time) is sealed again before it is sent: pushing it could
    # only earn a stale_timestamp refusal.
    hub_max_skew: timedelta = timedelta(seconds=300)
    stale_margin: timedelta = timedelta(seconds=60)
    # Proven-not-stored answers (stale, seq overtaken) are acted on at once, at most this often per run.
    max_reseals_per_run: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeliveryPolicy:
        """GATEWAY_DELIVERY_MAX_ATTEMPTS, _MAX_AGE, _BACKOFF, _BACKOFF_CAP, _HUB_MAX_SKEW (seconds)."""
        env = os.environ if env is None else env

        def seconds(name: str, default: timedelta) -> timedelta:
            raw = env.get(ENV_PREFIX + name)
            return default if raw is None or raw == "" else timedelta(seconds=float(raw))

        raw_attempts = env.get(ENV_PREFIX + "MAX_ATTEMPTS")
        policy = cls(
            max_attempts=int(raw_attempts) if raw_attempts else cls.max_attempts,
            max_age=seconds("MAX_AGE", cls.max_age),
            backoff_base=seconds("BACKOFF", cls.backoff_base),
            backoff_cap=seconds("BACKOFF_CAP", cls.backoff_cap),
            hub_max_skew=seconds("HUB_MAX_SKEW", cls.hub_max_skew),
        )
        if policy.max_attempts < 1:
            raise ValueError(f"{ENV_PREFIX}MAX_ATTEMPTS must be at least 1, not {policy.max_attempts}")
        return policy

    def backoff(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1-based)."""
        exponent = min(max(attempts - 1, 0), 62)
        base = min(self.backoff_cap.total_seconds(), self.backoff_base.total_seconds() * 2**exponent)
        draw = (rng or random).uniform(0, base / 2)
        return timedelta(seconds=base / 2 + draw)

    def exhausted(self, attempts: int, open_since: datetime, now: datetime) -> str | None:
        """Why a batch that just failed must now be given up on, in Chinese for the list; None to go on."""
        if attempts >= self.max_attempts:
            return f"已尝试 {attempts} 次（上限 {self.max_attempts} 次）"
        if now - open_since >= self.max_age:
            hours = (now - open_since).total_seconds() / 3600
            return f"已连续 {hours:.1f} 小时未能报送（上限 {self.max_age.total_seconds() / 3600:.1f} 小时）"
        return None

    def envelope_stale(self, sealed_at: int, now: datetime) -> bool:
        """True when the hub would refuse an envelope created at ``sealed_at`` (Unix seconds) as too old."""
        limit = (self.hub_max_skew - self.stale_margin).total_seconds()
        return now.timestamp() - sealed_at > limit
