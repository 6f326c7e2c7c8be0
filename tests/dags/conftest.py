"""Airflow for the DAG tests: the session's throw-away AIRFLOW_HOME (tests/conftest.py), migrated once.

dag.test() needs the DAG files inside the configured dags folder, else Airflow 3.3 raises "dag is not
serialized" (apache/airflow#56657, #60860).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = Path(os.environ["AIRFLOW_HOME"])  # a throw-away home: tests/conftest.py sets it up
# Airflow's dag-processor puts the bundle root (dags/) on sys.path, so DAG files import their shared
# package gateway_common; an in-process DagBag does not, so the tests do it.
sys.path.insert(0, str(ROOT / "dags"))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return AIRFLOW_HOME


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, airflow_db: Path) -> Iterator[tuple[Settings, str]]:
    """A gateway home with keys and a migrated database, and a running hub, shared by one test module."""
    from gateway.store.db import migrate
    from gateway.transfer import generate_keys
    from samples.demo import HUB_ID, local_hub

    home = tmp_path_factory.mktemp("e2e")
    settings = Settings.from_env({"GATEWAY_HOME": str(home / "var"), "GATEWAY_SETTLE_SECONDS": "0"})
    settings.ensure_dirs()
    migrate(settings.database_url)
    generate_keys(settings.keys_dir, settings.sender_id, HUB_ID, insecure_plaintext=True)
    with local_hub(settings, home / "logs", keep=False) as url:
        yield settings, url


@pytest.fixture
def gateway_env(world: tuple[Settings, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment DAG tasks read their settings from (dag.test() runs them in this process)."""
    settings, url = world
    for name, value in {
        "GATEWAY_HOME": str(settings.home),
        "GATEWAY_HUB_URL": url,
        "GATEWAY_SETTLE_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return settings
