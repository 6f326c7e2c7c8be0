"""Shared fixtures. Airflow-specific setup lives in tests/dags/conftest.py so unit tests stay fast."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    return ROOT / "schemas"


@pytest.fixture(scope="session")
def mappings_dir() -> Path:
    return ROOT / "mappings"


# --------------------------------------------------------------------------------------- databases
# Store tests run against both SQLite and the real PostgreSQL server (CI starts it; see .ci/run). Each
# PostgreSQL test gets a database of its own, created and dropped here, so tests never see each other.
PG_ADMIN_URL = os.environ.get("GATEWAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated gateway database: SQLite in tmp_path, or a new database on the PostgreSQL server."""
    from gateway.store.db import engine_for, migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
        migrate(url)
        yield url
        engine_for(url).dispose()
        return
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        engine_for(url).dispose()
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings with every folder under tmp_path and the parametrised database."""
    home = tmp_path / "var"
    made = Settings.from_env({"GATEWAY_HOME": str(home), "GATEWAY_SETTLE_SECONDS": "0"})
    made = made.with_overrides(database_url=database_url)
    made.ensure_dirs()
    return made
