"""The pages' tests: Airflow configured with this checkout's plugins/, and one gateway world with real data
(tests/plugins/world.py) shared by the session.

Airflow reads its configuration when first imported, so the environment is set here, at collection. When
the DAG tests run in the same session their conftest (tests/dags/conftest.py) has already set up an
Airflow home with the same dags/ and plugins/, and that one is used; alone, these tests make their own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.settings import Settings
from tests.paths import REPO_ROOT

PLUGINS = REPO_ROOT / "plugins"
# name → role in the simple auth manager: a reader only, a user who may run DAGs, an administrator.
USERS = {"viewer": "VIEWER", "clerk": "USER", "admin": "ADMIN"}
# Where the browser tests keep a screenshot of each page (var/ is the checkout's runtime folder, ignored by
# git and removed by `make clean`); the end of the run says where they are.
SCREENSHOTS = REPO_ROOT / "var" / "screenshots" / "pages"
_STARTED = time.time()

if os.environ.get("AIRFLOW__CORE__PLUGINS_FOLDER") != str(PLUGINS) or not os.environ.get(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
):
    _home = Path(tempfile.mkdtemp(prefix="gateway-airflow-pages-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home / 'airflow.db'}",
        }
    )
# The pages' package, as Airflow's API server finds it (it puts the plugins folder on sys.path).
if str(PLUGINS) not in sys.path:
    sys.path.append(str(PLUGINS))


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """Airflow's metadata database, migrated (login checks revoked tokens there; DAG access asks it for
    the DAG's team)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample exports ingested by the drop folder, delivered to the reference hub, one dead letter."""
    from tests.plugins.world import seed

    root = tmp_path_factory.mktemp("pages-world")
    return seed(root / "var", root / "logs")


@pytest.fixture
def world_copy(seeded: Settings, tmp_path: Path) -> Settings:
    """A private copy of the seeded world, for a test that changes it."""
    from tests.plugins.world import copy_world

    return copy_world(seeded, tmp_path / "var")


def gateway_env(settings: Settings) -> dict[str, str]:
    """The environment the pages read their settings from (gateway_settings: GATEWAY_* variables)."""
    return {
        "GATEWAY_HOME": str(settings.home),
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_SETTLE_SECONDS": "0",
    }


@pytest.fixture
def pages_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No gateway_hub Connection and no stray GATEWAY_* variables: a test says which world it shows."""
    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("AIRFLOW_CONN_GATEWAY_HUB", raising=False)
    yield monkeypatch


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    taken = sorted(p for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= _STARTED)
    if taken:
        terminalreporter.write_line(f"pages: {len(taken)} screenshots in {SCREENSHOTS}")


# ------------------------------------------------------------------------------ the pages in a test client
# Airflow's own init_plugins and init_auth_manager on a bare app: the pages as the API server mounts them.
Client = Callable[[str | None], TestClient]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def airflow_app(airflow_home: Path) -> FastAPI:
    from airflow.api_fastapi.app import init_auth_manager, init_plugins

    app = FastAPI()
    init_plugins(app)
    init_auth_manager(app)
    return app


@pytest.fixture
def client(airflow_app: FastAPI) -> Iterator[Client]:
    """A browser of its own, logged in as the user named (None: nobody)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    made: list[TestClient] = []

    def make(user: str | None) -> TestClient:
        browser = TestClient(airflow_app, follow_redirects=False)
        if user is not None:
            jwt = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=user, role=USERS[user]))
            browser.cookies.set("_token", jwt)
        made.append(browser)
        return browser

    yield make
    for browser in made:
        browser.close()


@pytest.fixture
def shows(pages_env: pytest.MonkeyPatch) -> Callable[[Settings], None]:
    """Point the pages at a world (through GATEWAY_* variables, as gateway_settings reads them)."""

    def point(settings: Settings) -> None:
        for name, value in gateway_env(settings).items():
            pages_env.setenv(name, value)

    return point


def csrf_of(browser: TestClient, path: str) -> str:
    page = browser.get(path)
    assert page.status_code == 200, page.text[:500]
    found = _CSRF.search(page.text)
    assert found is not None, "no form on " + path
    return found.group(1)
