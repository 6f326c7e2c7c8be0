"""`gateway credit`: classify, show an entity's class with the records behind its points, list the runs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gateway.credit.risk.cli import app
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.seed import Seed


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GATEWAY_HOME", str(settings.home))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    with engine_for(settings.database_url).begin() as conn:
        store = Seed(conn)
        penalised = store.entity("忻州市示例商贸有限公司", "91140900MA0K00001A")
        store.record(
            penalised,
            "admin_penalty",
            "k|忻市监罚〔2026〕3号",
            {"CF_WSH": "忻市监罚〔2026〕3号", "CF_JDRQ": "2026-10-31"},
        )
        store.entity("忻州市另一家有限公司", "91140900MA0K00002B")
    return settings


def test_classify_show_and_runs(cli_settings: Settings) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["classify", "--period", "2026-10", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["counts"] == {"A": 2, "B": 0, "C": 0, "D": 0} and report["as_of"] == "2026-10-31"
    assert report["evidence"]["penalties"] == 1

    shown = runner.invoke(app, ["show", "91140900MA0K00001A"])
    assert shown.exit_code == 0, shown.output
    assert "2026-10: class A, score 92.0" in shown.output and "internal, not for publication" in shown.output
    assert "admin_penalty k|忻市监罚〔2026〕3号" in shown.output and "-8" in shown.output

    runs = runner.invoke(app, ["runs"])
    assert runs.exit_code == 0 and "A 2 · B 0 · C 0 · D 0" in runs.output and "new->A 2" in runs.output


def test_bad_input_gets_a_clear_answer(cli_settings: Settings) -> None:
    runner = CliRunner()
    period = runner.invoke(app, ["classify", "--period", "2026-13"])
    assert period.exit_code == 2 and "a period is written YYYY-MM" in period.output
    day = runner.invoke(app, ["classify", "--as-of", "30/11/2026"])
    assert day.exit_code == 2 and "a day is written YYYY-MM-DD" in day.output
    unknown = runner.invoke(app, ["show", "91140900MA0K00009Z"])
    assert unknown.exit_code == 1 and "no entity with the code" in unknown.output
    checked = runner.invoke(app, ["model"])
    assert checked.exit_code == 0 and "企业基础属性信息" in checked.output and "at least D" in checked.output
