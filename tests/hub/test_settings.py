"""The hub's settings: every bound has an environment variable shown by ``hub serve --help``, and a value
out of range stops the hub at start-up with the variable named."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub import cli, launch
from hub.settings import (
    BODY_MIN_RATE_ENV,
    BODY_TIMEOUT_ENV,
    DOCS_ENV,
    HEADER_TIMEOUT_ENV,
    MAX_BODY_ENV,
    MAX_CONNECTIONS_ENV,
    MAX_CONNECTIONS_PER_CLIENT_ENV,
    MAX_HEADER_SIZE_ENV,
    MAX_SKEW_ENV,
    MAX_UNAUTHENTICATED_BODY_ENV,
    MIN_HEADER_SIZE,
    Limits,
    SettingError,
    Settings,
)

REPO = Path(__file__).resolve().parents[2]
VARIABLES = (
    HEADER_TIMEOUT_ENV,
    BODY_TIMEOUT_ENV,
    BODY_MIN_RATE_ENV,
    MAX_HEADER_SIZE_ENV,
    MAX_CONNECTIONS_ENV,
    MAX_CONNECTIONS_PER_CLIENT_ENV,
    MAX_UNAUTHENTICATED_BODY_ENV,
    MAX_BODY_ENV,
    MAX_SKEW_ENV,
    DOCS_ENV,
)


def test_serve_help_lists_every_bound_with_its_variable() -> None:
    result = CliRunner().invoke(cli.app, ["serve", "--help"], env={"COLUMNS": "400"}, terminal_width=400)
    assert result.exit_code == 0, result.output
    for variable in VARIABLES:
        assert variable in result.output, variable
    for option in ("--header-timeout", "--max-connections-per-client", "--docs"):
        assert option in result.output


@pytest.mark.parametrize(
    ("limits", "variable"),
    [
        ({"header_timeout": 0}, HEADER_TIMEOUT_ENV),
        ({"body_timeout": -1}, BODY_TIMEOUT_ENV),
        ({"body_min_rate": -5}, BODY_MIN_RATE_ENV),
        ({"max_header_size": MIN_HEADER_SIZE - 1}, MAX_HEADER_SIZE_ENV),
        ({"max_connections": 0}, MAX_CONNECTIONS_ENV),
        ({"max_connections_per_client": 0}, MAX_CONNECTIONS_PER_CLIENT_ENV),
    ],
)
def test_a_limit_out_of_range_names_its_variable(limits: dict[str, float], variable: str) -> None:
    with pytest.raises(SettingError, match=variable):
        Limits(**limits)  # type: ignore[arg-type]


def test_a_setting_out_of_range_names_its_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match=MAX_UNAUTHENTICATED_BODY_ENV):
        Settings(home=tmp_path, keys=tmp_path, schemas=tmp_path, max_unauthenticated_body=0)


def test_serve_refuses_a_bad_variable_before_starting(tmp_path: Path, schemas_dir: Path) -> None:
    command = launch.serve_command(tmp_path / "hub", tmp_path / "keys", schemas_dir)
    env = {**os.environ, MAX_CONNECTIONS_ENV: "0"}
    out = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and MAX_CONNECTIONS_ENV in out.stderr, out.stderr
