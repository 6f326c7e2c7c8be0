"""`gateway credit warnings` on the small city: raise, list, show, ack, handle, dismiss, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from gateway.credit.warnings.cli import app
from gateway.settings import Settings
from tests.gateway.credit.warnings.test_states import first_of

runner = CliRunner()


@pytest.fixture
def env(credit_settings: Settings, city: dict[str, Any]) -> dict[str, str]:
    return {
        "GATEWAY_HOME": str(credit_settings.home),
        "GATEWAY_DATABASE_URL": credit_settings.database_url,
        "GATEWAY_CREDIT_DIR": str(credit_settings.credit_dir),
    }


def test_help_names_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("raise", "list", "show", "ack", "handle", "dismiss", "export"):
        assert command in result.output
    assert "--reason" in runner.invoke(app, ["dismiss", "--help"]).output


def test_raise_then_follow_a_warning(env: dict[str, str], credit_settings: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["raise", "--as-of", "2026-06-30"], env=env)
    assert result.exit_code == 0, result.output
    assert "penalties" in result.output and "新增 17 条" in result.output
    again = runner.invoke(app, ["raise", "--as-of", "2026-06-30", "--json"], env=env)
    assert json.loads(again.output)["raised"] == 0

    listed = runner.invoke(app, ["list", "--department", "xz_court", "--json"], env=env)
    assert [row["rule_id"] for row in json.loads(listed.output)] == ["debtor"]
    assert "忻州市中级人民法院" in runner.invoke(app, ["list", "--level", "red"], env=env).output

    warning_id = str(first_of(credit_settings, "penalties"))
    refused = runner.invoke(app, ["handle", warning_id, "--by", "李四"], env=env)
    assert refused.exit_code == 1 and "不能办结" in refused.output
    assert runner.invoke(app, ["ack", warning_id, "--by", "李四"], env=env).exit_code == 0
    done = runner.invoke(app, ["handle", warning_id, "--by", "李四", "--note", "已约谈"], env=env)
    assert done.exit_code == 0 and "已确认 → 已处置" in done.output
    shown = json.loads(runner.invoke(app, ["show", warning_id, "--json"], env=env).output)
    assert [e["to_state"] for e in shown["events"]] == ["new", "acknowledged", "handled"]
    assert "忻市监罚〔2026〕1号" in runner.invoke(app, ["show", warning_id], env=env).output

    other = str(first_of(credit_settings, "address"))
    no_reason = runner.invoke(app, ["dismiss", other, "--by", "李四"], env=env)
    assert no_reason.exit_code != 0 and "--reason" in no_reason.output
    assert (
        runner.invoke(app, ["dismiss", other, "--by", "李四", "--reason", "集中登记地"], env=env).exit_code
        == 0
    )

    out = tmp_path / "amr.xlsx"
    exported = runner.invoke(
        app, ["export", "--department", "xz_amr", "--format", "xlsx", "--out", str(out)], env=env
    )
    assert exported.exit_code == 0, exported.output
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][0] == "预警编号" and len(rows) > 1
    out_csv = tmp_path / "amr.csv"
    runner.invoke(
        app,
        [
            "export",
            "--department",
            "xz_amr",
            "--format",
            "csv",
            "--state",
            "dismissed",
            "--out",
            str(out_csv),
        ],
        env=env,
    )
    (row,) = list(csv.DictReader(out_csv.read_text(encoding="utf-8-sig").splitlines()))
    assert row["预警编号"] == other and row["处理说明"] == "集中登记地"


def test_unknown_warning_and_bad_rules(env: dict[str, str], credit_settings: Settings) -> None:
    missing = runner.invoke(app, ["show", "424242"], env=env)
    assert missing.exit_code == 1 and "没有编号为 424242 的预警" in missing.output
    (credit_settings.credit_dir / "warning_rules.yaml").write_text("rules: []\n", encoding="utf-8")
    broken = runner.invoke(app, ["raise"], env=env)
    assert broken.exit_code == 1 and "warning_rules.yaml" in broken.output and "non-empty" in broken.output
