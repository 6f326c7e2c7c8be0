"""An event trigger that wakes delivery when a failed batch's backoff is over, not at the next 15-minute tick.

A push that fails leaves the batch open with ``next_attempt_at`` (gateway.delivery.policy: exponential
backoff). ``deliver_to_province`` is scheduled on the asset ``gateway_delivery_retry`` (besides the outbox
asset and a timer); this trigger is that asset's watcher. It looks at the first open batch in sequence
order — delivery goes in order, so the batches behind it wait for it — and yields one event per failed
attempt once its time has come: the same (batch, attempt) never fires twice, so a hub that stays down is
retried on the backoff schedule, not in a loop.

The triggerer reads the gateway database from the gateway's settings (``GATEWAY_DATABASE_URL`` /
``GATEWAY_HOME``), as the workers do: no URL (and no password) is serialized into Airflow's database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

CLASSPATH = "connectors.retry_trigger.DueRetryTrigger"


class DueRetryTrigger(BaseEventTrigger):
    """Fires when the first failed batch may be pushed again (see the module doc)."""

    def __init__(self, *, poll_seconds: float = 15.0, database_url: str | None = None) -> None:
        super().__init__()
        self.poll_seconds = poll_seconds
        self.database_url = database_url  # tests only; a deployment leaves it to the settings

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {"poll_seconds": self.poll_seconds, "database_url": self.database_url}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from gateway.delivery.ledger import next_retry
        from gateway.settings import Settings

        settings = Settings.from_env()
        if self.database_url:
            settings = settings.with_overrides(database_url=self.database_url)
        fired: tuple[str, int] | None = None
        while True:
            try:
                retry = await asyncio.to_thread(next_retry, settings)
            except Exception as exc:  # the database away or not migrated yet: look again later
                self.log.warning("cannot read the delivery ledger (%s); looking again", type(exc).__name__)
                retry = None
            if (
                retry is not None
                and retry.due <= datetime.now(UTC)
                and (retry.batch_id, retry.attempts) != fired
            ):
                fired = (retry.batch_id, retry.attempts)
                self.log.info("batch %s may be pushed again (attempt %d failed)", *fired)
                yield TriggerEvent({"batch_id": retry.batch_id, "attempts": retry.attempts})
            await asyncio.sleep(self.poll_seconds)
