"""The publicity commands (gateway.credit.publicity.cli, mounted nowhere yet): compute, expire, show,
conflicts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.credit.publicity.cli import app
from gateway.settings import CREDIT_DEFAULTS, Settings
from gateway.store.db import engine_for
from tests.gateway.credit.publicity.penalties import mark_sent, payload, put
from tests.gateway.credit.seed import Seed

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    credit = tmp_path / "credit"
    shutil.copytree(CREDIT_DEFAULTS, credit)
    return {
        "GATEWAY_HOME": str(settings.home),
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_CREDIT_DIR": str(credit),
    }


def test_help_names_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "公示期" in result.output
    for command in ("compute", "expire", "show", "conflicts"):
        assert command in result.output
    assert "--as-of" in runner.invoke(app, ["expire", "--help"]).output
    assert "--all" in runner.invoke(app, ["compute", "--help"]).output


def test_compute_expire_show_conflicts(env: dict[str, str], settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州市壬有限公司")
        old = put(
            seed, firm, payload("忻环罚〔2025〕1号", "2025-01-10", "罚款", fine="1", own_end="2024-12-31")
        )
        mark_sent(conn, old)
        running = put(seed, firm, payload("忻环罚〔2026〕2号", "2026-05-10", "吊销许可证"))
        put(seed, firm, payload("忻环罚〔2026〕3号", "2026年5月10日", "罚款", fine="1"))

    computed = runner.invoke(app, ["compute"], env=env)
    assert computed.exit_code == 0, computed.output
    assert "计算 2 条" in computed.output and "national_2026" in computed.output
    assert "冲突" in computed.output and "无法计算" in computed.output and "2026年5月10日" in computed.output

    expired = runner.invoke(app, ["expire", "--as-of", "2026-06-30", "--json"], env=env)
    assert expired.exit_code == 0, expired.output
    summary = json.loads(expired.output)
    assert (summary["computed"], summary["withdrawn"], summary["sent"], summary["undated"]) == (0, 1, 1, 1)
    again = runner.invoke(app, ["expire", "--as-of", "2026-06-30"], env=env)
    assert "公示期满撤回 0 条" in again.output

    shown = json.loads(runner.invoke(app, ["show", str(running), "--json"], env=env).output)
    assert (shown["tier"], shown["ends_on"], shown["repairable_on"]) == (
        "serious",
        "2029-05-10",
        "2027-05-10",
    )
    text = runner.invoke(app, ["show", str(old)], env=env).output
    assert "expired" in text and "2026-01-10" in text and "早于规则最短公示期" in text
    missing = runner.invoke(app, ["show", "424242"], env=env)
    assert missing.exit_code == 1 and "没有编号为 424242 的记录" in missing.output

    listed = json.loads(runner.invoke(app, ["conflicts", "--json"], env=env).output)
    assert [(c["record_id"], c["own_end"], c["ends_on"]) for c in listed] == [
        (old, "2024-12-31", "2026-01-10")
    ]
    assert "冲突 1 条" in runner.invoke(app, ["conflicts"], env=env).output


def test_bad_rules_stop_with_the_file_named(env: dict[str, str]) -> None:
    path = Path(env["GATEWAY_CREDIT_DIR"]) / "publicity.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("version: 1", "version: 7"), encoding="utf-8")
    for command in (["compute"], ["expire", "--as-of", "2026-06-30"]):
        result = runner.invoke(app, command, env=env)
        assert result.exit_code == 1 and "publicity.yaml" in result.output and "version" in result.output
    wrong_day = runner.invoke(app, ["expire", "--as-of", "2026-13-01"], env=env)
    assert wrong_day.exit_code != 0 and "YYYY-MM-DD" in wrong_day.output
