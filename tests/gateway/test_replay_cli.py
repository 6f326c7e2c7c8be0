"""`gateway replay`: a filter or --all, a dry run that changes nothing, one line per unit replayed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.cli import app
from gateway.ingest import ingest_file
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.tables import source_file
from tests.paths import REPO_ROOT

INBOX = REPO_ROOT / "samples" / "inbox"
SAMPLES = {
    "xz_ecology": INBOX / "xz_ecology" / "环境行政处罚台账.csv",
    "xz_transport": INBOX / "xz_transport" / "行政许可信息-2026年10月.xlsx",
}
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, dict[str, int]]:
    """A gateway home (SQLite) holding two processed sample files; the CLI reads it from GATEWAY_HOME."""
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "var"))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    settings = Settings.from_env()
    settings.ensure_dirs()
    migrate(settings.database_url)
    units = {}
    for department, path in SAMPLES.items():
        unit = ingest_file(settings, path, department).source_file_id
        assert unit is not None
        units[department] = unit
    return settings, units


def rows(settings: Settings) -> int:
    with engine_for(settings.database_url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(source_file)).scalar_one())


def test_without_a_filter_nothing_is_replayed(home: tuple[Settings, dict[str, int]]) -> None:
    settings, _units = home
    result = runner.invoke(app, ["replay"])
    assert result.exit_code == 2
    assert "--all" in result.output
    assert rows(settings) == 2


def test_a_dry_run_lists_the_units_and_changes_nothing(home: tuple[Settings, dict[str, int]]) -> None:
    settings, units = home
    result = runner.invoke(app, ["replay", "--all", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed["dry_run"] is True
    assert [(u["unit"], u["source"], u["status"], u["part"]) for u in listed["units"]] == [
        (units["xz_ecology"], "xz_ecology", "accepted", ""),
        (units["xz_transport"], "xz_transport", "partial", "行政许可"),
    ]
    shown = runner.invoke(app, ["replay", "--source", "xz_ecology", "--dry-run"])
    assert shown.exit_code == 0 and "环境行政处罚台账.csv" in shown.stdout and "行政许可" not in shown.stdout
    assert "1 units would be replayed; nothing was changed" in shown.stdout
    assert rows(settings) == 2


def test_each_unit_replayed_gets_a_line_and_unchanged_data_stores_nothing(
    home: tuple[Settings, dict[str, int]],
) -> None:
    settings, units = home
    now = datetime.now(UTC)  # a day either side: the test may run across local midnight
    since, until = (settings.local_time(now + timedelta(days=d))[:10] for d in (-1, 1))
    result = runner.invoke(app, ["replay", "--since", since, "--until", until, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["errors"] == []
    assert [
        (r["unit"], r["rows"], r["new"], r["updated"], r["unchanged"], r["rejected"]) for r in out["replays"]
    ] == [
        (units["xz_ecology"], 4, 0, 0, 4, 0),
        (units["xz_transport"], 6, 0, 0, 5, 1),
    ]
    assert rows(settings) == 4  # one replay row each

    table = runner.invoke(app, ["replay", "--unit", str(units["xz_ecology"])])
    assert table.exit_code == 0, table.output
    assert "xz_ecology/环境行政处罚台账.csv" in table.stdout
    assert "1 units replayed; 0 new versions for the province" in table.stdout


def test_a_unit_that_cannot_be_replayed_is_named_and_fails_the_command(
    home: tuple[Settings, dict[str, int]],
) -> None:
    settings, units = home
    with engine_for(settings.database_url).connect() as conn:
        landed = conn.execute(
            select(source_file.c.landing_path).where(source_file.c.id == units["xz_ecology"])
        ).scalar_one()
    Path(landed).unlink()
    result = runner.invoke(app, ["replay", "--all"])
    assert result.exit_code == 1
    assert f"unit {units['xz_ecology']} (xz_ecology/环境行政处罚台账.csv)" in result.stdout
    assert "is missing" in result.stdout
    assert "1 units replayed" in result.stdout  # the workbook's sheet was replayed all the same

    bad_day = runner.invoke(app, ["replay", "--since", "2026-13-01"])
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
    none = runner.invoke(app, ["replay", "--source", "xz_nobody"])
    assert none.exit_code == 1 and "no processed unit" in none.stdout


def test_a_unit_asked_for_by_id_that_cannot_be_replayed_says_why(
    home: tuple[Settings, dict[str, int]],
) -> None:
    settings, units = home
    rejected = ingest_file(settings, INBOX / "xz_amr" / "处罚决定书扫描件.csv", "xz_amr").source_file_id
    result = runner.invoke(app, ["replay", "--unit", str(rejected)])
    assert result.exit_code == 1
    assert f"unit {rejected} (xz_amr/处罚决定书扫描件.csv) has no landed rows" in result.stdout

    replayed = json.loads(runner.invoke(app, ["replay", "--unit", str(units["xz_ecology"]), "--json"]).stdout)
    again = runner.invoke(app, ["replay", "--unit", str(replayed["replays"][0]["replay"])])
    assert again.exit_code == 1 and f"is a replay of unit {units['xz_ecology']}" in again.stdout
