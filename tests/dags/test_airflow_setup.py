"""The writers' pool is created in Airflow's metadata database with the size the gateway database allows."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import connectors.airflow_setup
from connectors.airflow_setup import POOL, ensure_pool
from gateway.settings import Settings


def test_doctest() -> None:
    result = doctest.testmod(connectors.airflow_setup)
    assert result.attempted > 0 and result.failed == 0


def test_pool_follows_the_database(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models.pool import Pool

    assert ensure_pool(Settings.from_env({"GATEWAY_DATABASE_URL": "sqlite:////tmp/x.db"})) == 1
    assert Pool.get_pool(POOL).slots == 1
    monkeypatch.setenv("GATEWAY_DB_WRITERS", "6")
    assert ensure_pool(Settings.from_env({"GATEWAY_DATABASE_URL": "postgresql+psycopg://h/g"})) == 6
    assert Pool.get_pool(POOL).slots == 6  # updated in place


def test_writers_must_be_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DB_WRITERS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        connectors.airflow_setup.pool_slots(Settings.from_env({"GATEWAY_DATABASE_URL": "postgresql://h/g"}))
