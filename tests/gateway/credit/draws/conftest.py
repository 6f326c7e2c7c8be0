"""Keys made once per session (clear text, tests only) and a gateway home with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.gateway.credit.draws.store_world import install_keys, make_keys


@pytest.fixture(scope="session")
def keys_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("draw-keys") / "keys")


@pytest.fixture
def gateway(settings: Settings, keys_template: Path) -> Settings:
    """The parametrised database (SQLite and PostgreSQL) with the gateway's signing keys in keys_dir."""
    install_keys(keys_template, settings)
    return settings
