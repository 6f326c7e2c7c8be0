"""The retry watcher wakes delivery once per failed attempt, when its backoff is over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from connectors.retry_trigger import CLASSPATH, DueRetryTrigger
from gateway.delivery.ledger import next_retry
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.tables import delivery_batch
from tests.connectors.trigger_events import EventReader


def _settings(tmp_path: Path) -> Settings:
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")})
    settings.ensure_dirs()
    migrate(settings.database_url)
    return settings


def _batch(
    settings: Settings, batch_id: str, seq: int, status: str, attempts: int, due: datetime | None
) -> None:
    now = datetime.now(UTC)
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            insert(delivery_batch).values(
                batch_id=batch_id,
                seq=seq,
                record_type="penalty",
                records=1,
                status=status,
                attempts=attempts,
                created_at=now,
                updated_at=now,
                open_since=now,
                next_attempt_at=due,
            )
        )


def test_next_retry_is_the_first_open_batch_when_it_has_failed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert next_retry(settings) is None
    due = datetime.now(UTC) + timedelta(minutes=5)
    _batch(settings, "B1", 1, "acknowledged", 1, None)
    _batch(settings, "B2", 2, "sent", 2, due)
    _batch(settings, "B3", 3, "built", 0, None)
    retry = next_retry(settings)
    assert retry is not None and (retry.batch_id, retry.attempts) == ("B2", 2)
    assert abs((retry.due - due).total_seconds()) < 1
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            update(delivery_batch).where(delivery_batch.c.batch_id == "B2").values(status="acknowledged")
        )
    assert next_retry(settings) is None  # B3 has never failed: the outbox event brings its delivery


def test_fires_once_per_attempt_when_due(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert DueRetryTrigger(poll_seconds=2).serialize() == (
        CLASSPATH,
        {"poll_seconds": 2, "database_url": None},
    )
    _batch(settings, "B1", 1, "sent", 1, datetime.now(UTC) + timedelta(seconds=0.5))

    async def scenario() -> list[dict | None]:  # type: ignore[type-arg]
        events = EventReader(DueRetryTrigger(poll_seconds=0.05, database_url=settings.database_url).run())

        early = await events.next(0.2)
        due = await events.next(5)
        again = await events.next(0.4)  # the same attempt never fires twice
        with engine_for(settings.database_url).begin() as conn:
            conn.execute(update(delivery_batch).values(attempts=2, next_attempt_at=datetime.now(UTC)))
        second = await events.next(5)
        await events.close()
        return [early, due, again, second]

    early, due, again, second = asyncio.run(scenario())
    assert early is None
    assert due == {"batch_id": "B1", "attempts": 1}
    assert again is None
    assert second == {"batch_id": "B1", "attempts": 2}


def test_a_database_that_is_not_there_is_waited_for(tmp_path: Path) -> None:
    async def scenario() -> object:
        url = f"sqlite:///{tmp_path / 'missing' / 'nothing.db'}"
        events = EventReader(DueRetryTrigger(poll_seconds=0.05, database_url=url).run())
        event = await events.next(0.3)
        await events.close()
        return event

    assert asyncio.run(scenario()) is None
