"""Shared fixtures. Airflow-specific setup lives in tests/dags/conftest.py so unit tests stay fast."""

from __future__ import annotations

from pathlib import Path

import pytest

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
