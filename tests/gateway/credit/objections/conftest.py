"""Fixtures of the objections' tests: the store with penalties 101–103 of one department (penalties.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.gateway.credit.objections.penalties import FIRST_FILE, send


@pytest.fixture
def store(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose store holds penalties 101–103, none delivered yet."""
    send(settings, tmp_path, "2026年9月行政处罚信息.csv", FIRST_FILE)
    return settings
