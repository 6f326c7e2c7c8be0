"""Shared fixtures. Airflow's fixtures live in tests/dags/conftest.py so unit tests stay fast.

Airflow reads its configuration once, when it is first imported — and the modules that name Airflow's
trigger and notifier base classes (connectors/inbox_trigger.py, connectors/notifiers.py) import it as soon
as a test module that imports them is collected, whichever directory that is. So the session's Airflow
environment is set here, before any test module is imported: a throw-away AIRFLOW_HOME on SQLite with this
checkout's dags/ and plugins/, never the machine's ~/airflow.

`make test` runs the suite on two pytest-xdist workers (whole files each): every worker imports this file, so
each has its own Airflow home, and everything a test creates lives under its tmp_path or in a database of
its own.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="gateway-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        # The CLI's tables are drawn by rich at the terminal's width; a pytest-xdist worker has none and rich
        # falls back to 80 columns, which cuts batch ids in two. One width for every process of the session.
        "COLUMNS": "200",
    }
)


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
