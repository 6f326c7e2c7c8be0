"""The watch's figures: batch lag, dead letters, inbox lag, each judged against its setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from gateway.health import check
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.tables import delivery_batch

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _settings(tmp_path: Path) -> Settings:
    settings = Settings.from_env(
        {"GATEWAY_HOME": str(tmp_path / "var"), "GATEWAY_ALERT_BATCH_AGE_SECONDS": "3600"}
    )
    settings.ensure_dirs()
    migrate(settings.database_url)
    return settings


def _batch(settings: Settings, batch_id: str, seq: int, status: str, open_since: datetime) -> None:
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            insert(delivery_batch).values(
                batch_id=batch_id,
                seq=seq,
                record_type="penalty",
                records=1,
                status=status,
                attempts=0,
                created_at=open_since,
                updated_at=open_since,
                open_since=open_since,
            )
        )


def test_all_well_when_nothing_waits(tmp_path: Path) -> None:
    health = check(_settings(tmp_path), now=NOW)
    assert health.findings == [] and health.open_batches == 0
    assert health.summary().startswith("网关运行正常")


def test_an_old_open_batch_and_a_dead_letter_are_findings(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _batch(settings, "B-old", 1, "sent", NOW - timedelta(hours=2))
    _batch(settings, "B-new", 2, "built", NOW - timedelta(minutes=5))
    _batch(settings, "B-dead", 3, "dead", NOW - timedelta(days=2))
    _batch(settings, "B-done", 4, "acknowledged", NOW - timedelta(days=3))
    health = check(settings, now=NOW)
    assert health.open_batches == 2 and health.oldest_open_batch == "B-old"
    assert round(health.oldest_open_seconds) == 7200
    assert [f.code for f in health.findings] == ["batch_lag", "dead_letters"]
    assert "B-dead" in health.summary() and "B-old" in health.summary()


def test_inbox_lag_over_the_setting(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert check(settings, inbox_seconds=settings.alert_inbox_age_seconds - 1, now=NOW).findings == []
    late = check(settings, inbox_seconds=settings.alert_inbox_age_seconds + 1, now=NOW)
    assert [f.code for f in late.findings] == ["inbox_lag"]
