"""The draws CLI end to end on the parametrised database: lists, plan, task, run, verify (0, then 1 after
tampering), show and results."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from gateway.credit.draws.cli import app
from gateway.credit.draws.tables import draw_record
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.draws.store_world import INSPECTORS, ITEMS, add_entities

runner = CliRunner()


def env(settings: Settings) -> dict[str, str]:
    return {"GATEWAY_HOME": str(settings.home), "GATEWAY_DATABASE_URL": settings.database_url}


def test_the_whole_flow(gateway: Settings, tmp_path: Path) -> None:
    with engine_for(gateway.database_url).begin() as conn:
        add_entities(conn, {"A": 60, "C": 20})

    def call(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env(gateway))
        return result.exit_code, result.output

    code, out = call("load-items", str(ITEMS))
    assert code == 0 and "抽查事项 5 条；新增 5，变更 0，删除 0" in out
    code, out = call("load-inspectors", str(INSPECTORS))
    assert code == 0 and "执法检查人员 10 条" in out
    bad = tmp_path / "坏清单.csv"
    bad.write_text("事项编码,事项名称,事项类别,实施部门\nX,检查,其他,市局\n", encoding="utf-8")
    code, out = call("load-items", str(bad))
    assert code == 1 and "坏清单.csv 第 2 行 「事项类别」" in out
    assert (
        call(
            "plan",
            "add",
            "--id",
            "P2025",
            "--name",
            "年度计划",
            "--year",
            "2025",
            "--department",
            "市市场监督管理局",
        )[0]
        == 0
    )
    code, out = call(
        "task",
        "add",
        "--id",
        "T1",
        "--plan",
        "P2025",
        "--items",
        "SC-AMR-001,SC-EM-001",
        "--end-date",
        "2025-09-26",
        "--mode",
        "定向",
        "--filter",
        "area=1409",
    )
    assert code == 0 and "联合抽查" in out and "市应急管理局" in out
    code, out = call(
        "task",
        "add",
        "--id",
        "T2",
        "--plan",
        "P2025",
        "--items",
        "SC-AMR-001",
        "--end-date",
        "2025-09-26",
        "--mode",
        "定向",
        "--filter",
        "scale=小型",
    )
    assert code == 1 and "scale 暂不支持" in out
    code, out = call("run", "T1", "--nonce", "witness-42")
    assert code == 0 and "各类别抽取数" in out and "抽中的检查对象与执法检查人员" in out
    assert out.count("91140902") >= 9
    assert "周建华(EM-0001)" in out and "吴秀英(EM-0002)" in out  # the only two of 市应急管理局
    code, out = call("verify", "T1")
    assert code == 0 and "复核通过" in out
    code, out = call("show", "T1")
    assert code == 0 and "已抽取" in out and "witness-42" in out
    code, out = call("results", "--json")
    assert code == 1 and '"drawn": 9' in out and '"overdue": 9' in out  # due 2025-10-30; exit 1: overdue
    code, out = call("results", "T1")
    assert code == 1 and "逾期" in out
    with engine_for(gateway.database_url).begin() as conn:
        conn.execute(update(draw_record).values(nonce="other"))
    code, out = call("verify", "T1")
    assert code == 1 and "拒绝" in out and "随机数" in out


def test_help_explains_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("load-items", "load-inspectors", "plan", "task", "run", "verify", "show", "results"):
        assert command in result.output
    assert "--nonce" in runner.invoke(app, ["run", "--help"]).output
