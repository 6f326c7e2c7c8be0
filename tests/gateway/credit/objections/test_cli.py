"""`gateway credit objections` (app not mounted here; gateway/credit/cli.py does that): raise, list, show,
resolve and lapse against the store, and the refusals shown as messages with exit code 1."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gateway.credit.objections.cli import app
from gateway.settings import Settings
from tests.gateway.credit.objections.penalties import ENTERPRISE, key, record_id

runner = CliRunner()


@pytest.fixture
def env(store: Settings) -> dict[str, str]:
    return {
        "GATEWAY_HOME": str(store.home),
        "GATEWAY_DATABASE_URL": store.database_url,
        "GATEWAY_CREDIT_DIR": str(store.credit_dir),
    }


def test_help_names_every_command_and_the_outcomes() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("raise", "resolve", "list", "show", "lapse"):
        assert command in result.output
    resolve_help = runner.invoke(app, ["resolve", "--help"]).output
    assert all(word in resolve_help for word in ("corrected", "upheld", "unconfirmed", "--note"))
    assert "--key" in runner.invoke(app, ["raise", "--help"]).output


def test_raise_list_show_resolve_and_lapse(env: dict[str, str], store: Settings) -> None:
    common = ["--channel", "department", "--raised-by", "xz_amr", "--on", "2026-09-29"]
    raised = runner.invoke(
        app,
        [
            "raise",
            *common,
            "--type",
            "admin_penalty",
            "--key",
            key(101),
            "--reason",
            "罚款金额有误",
            "--json",
        ],
        env=env,
    )
    assert raised.exit_code == 0, raised.output
    first = json.loads(raised.output)
    assert (first["deadline"], first["hold"]) == ("2026-10-19", "placed")
    second = runner.invoke(
        app,
        ["raise", *common, "--record", str(record_id(store, 102)), "--reason", "已复议撤销", "--by", "王五"],
        env=env,
    )
    assert second.exit_code == 0 and "已暂停报送" in second.output and "2026-10-19" in second.output

    again = runner.invoke(
        app, ["raise", *common, "--record", str(first["record_id"]), "--reason", "再提"], env=env
    )
    assert again.exit_code == 1 and "尚在处理中" in again.output

    listed = json.loads(runner.invoke(app, ["list", "--entity", ENTERPRISE, "--json"], env=env).output)
    assert [(row["id"], row["natural_key"], row["state"]) for row in listed] == [
        (first["objection_id"], key(101), "open")
    ]
    assert "忻市监罚〔2026〕102号" in runner.invoke(app, ["list", "--state", "open"], env=env).output
    assert runner.invoke(app, ["list", "--raised-by", "xz_ecology"], env=env).output.startswith("异议 0 件")
    bad_state = runner.invoke(app, ["list", "--state", "closed"], env=env)
    assert bad_state.exit_code == 2 and "state must be one of" in bad_state.output

    oid = str(first["objection_id"])
    refused = runner.invoke(app, ["resolve", oid, "--outcome", "corrected", "--by", "张三"], env=env)
    assert refused.exit_code == 1 and "重新报送更正后的记录" in refused.output
    done = runner.invoke(
        app, ["resolve", oid, "--outcome", "upheld", "--by", "张三", "--note", "核查无误"], env=env
    )
    assert done.exit_code == 0 and "维持" in done.output and "记录恢复报送" in done.output

    shown = runner.invoke(app, ["show", oid], env=env)
    assert shown.exit_code == 0
    for text in (
        "罚款金额有误",
        "2026-10-19",
        "维持",
        "张三",
        "提出异议",
        "正常报送",
        "忻州市晋北商贸有限公司",
    ):
        assert text in shown.output
    history = json.loads(runner.invoke(app, ["show", oid, "--json"], env=env).output)["events"]
    assert [(e["action"], e["actor"]) for e in history] == [("raised", "xz_amr"), ("upheld", "张三")]
    assert runner.invoke(app, ["show", "999"], env=env).exit_code == 1

    lapsed = [
        json.loads(runner.invoke(app, ["lapse", "--today", "2026-10-20", "--json"], env=env).output)
        for _ in "ab"
    ]
    assert [len(run["lapsed"]) for run in lapsed] == [1, 0]
    assert "逾期 0 件" in runner.invoke(app, ["lapse", "--today", "2026-10-20"], env=env).output
    assert runner.invoke(app, ["lapse", "--today", "20.10.2026"], env=env).exit_code == 2
