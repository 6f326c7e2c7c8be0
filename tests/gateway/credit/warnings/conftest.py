"""Fixtures of the warnings' tests: settings whose credit folder holds the test rules, and the small city
(city.py) seeded in the parametrised database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.seed import Seed
from tests.gateway.credit.warnings.city import build_city, credit_dir


@pytest.fixture
def credit_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.with_overrides(credit_dir=credit_dir(tmp_path))


@pytest.fixture
def city(credit_settings: Settings) -> dict[str, Any]:
    with engine_for(credit_settings.database_url).begin() as conn:
        return build_city(Seed(conn))
