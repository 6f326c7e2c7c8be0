"""`gateway check`: the JSON receipt scripts have always read, the readable view, the text receipt."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from gateway.check_view import render
from gateway.cli import app
from gateway.receipts import IntakeReceipt
from tests.paths import REPO_ROOT

SAMPLE = REPO_ROOT / "samples" / "inbox" / "xz_amr" / "2026年10月行政处罚信息.csv"
runner = CliRunner()


@pytest.fixture(autouse=True)
def gateway_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "var"))


def test_without_a_flag_a_pipe_gets_the_json_receipt_as_before() -> None:
    result = runner.invoke(app, ["check", str(SAMPLE)])
    assert result.exit_code == 1  # partly accepted
    receipt = json.loads(result.stdout)
    assert (receipt["rows"], receipt["accepted"], receipt["rejected"]) == (12, 10, 2)
    assert receipt["mapping"] == "national_admin_penalty"


def test_json_flag_gives_the_same_receipt() -> None:
    plain = json.loads(runner.invoke(app, ["check", str(SAMPLE)]).stdout)
    flagged = json.loads(runner.invoke(app, ["check", str(SAMPLE), "--json"]).stdout)
    del plain["received_at"], flagged["received_at"]  # the only field that changes between runs
    assert plain == flagged


def test_text_view_leads_with_the_verdict_then_tables_the_rejected_rows() -> None:
    result = runner.invoke(app, ["check", str(SAMPLE), "--text"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "▲ 部分接收（有错误行未接收）  2026年10月行政处罚信息.csv：数据行 12，接收 10，拒收 2"
    assert "映射 national_admin_penalty" in lines[1]
    table = result.stdout[result.stdout.index("拒收的行") :]
    assert "行号" in table and "原因" in table
    assert "E_USCC" in table and "E_FINE_AMOUNT" in table
    assert "另有" not in result.stdout  # both errors shown


def test_text_view_stops_at_the_limit_and_says_how_many_more() -> None:
    result = runner.invoke(app, ["check", str(SAMPLE), "--text", "--limit", "1"])
    assert "E_USCC" in result.stdout and "E_FINE_AMOUNT" not in result.stdout
    assert "… 另有 1 条错误未显示（共 2 条；" in result.stdout
    none = runner.invoke(app, ["check", str(SAMPLE), "--text", "--limit", "0"])
    assert "拒收的行" not in none.stdout and "另有 2 条错误未显示" in none.stdout


def test_receipt_flag_prints_the_department_s_text_receipt() -> None:
    result = runner.invoke(app, ["check", str(SAMPLE), "--receipt"])
    assert result.stdout.startswith("文件：2026年10月行政处罚信息.csv\n")
    assert "错误明细（行号按 Excel 行号计）：" in result.stdout


def test_only_one_output_form_at_a_time() -> None:
    result = runner.invoke(app, ["check", str(SAMPLE), "--text", "--json"])
    assert result.exit_code == 2
    assert "at most one of --text, --json and --receipt" in result.output


def receipt_with(errors: list[dict[str, object]], error_count: int | None = None) -> IntakeReceipt:
    receipt = IntakeReceipt(
        department="xz_test",
        file="[bold]台账[/bold].csv",
        sha256="0" * 64,
        size=1,
        received_at="2026-11-28T10:00:00+08:00",
        status="partial",
        rows=3,
        accepted=1,
        rejected=2,
    )
    receipt.errors = errors
    receipt.error_count = len(errors) if error_count is None else error_count
    return receipt


def rendered(receipt: IntakeReceipt, limit: int = 30) -> str:
    out = io.StringIO()
    render(receipt, Console(file=out, width=100, color_system=None), limit=limit)
    return out.getvalue()


def test_chinese_cells_keep_the_table_aligned_and_markup_in_the_file_is_shown_as_typed() -> None:
    text = rendered(
        receipt_with(
            [
                {"row": 2, "field": "行政相对人名称", "code": "E_REQUIRED", "message": "必填项为空"},
                {
                    "row": 13,
                    "field": "处罚决定日期",
                    "code": "E_DATE",
                    "message": "日期无法识别或不存在，请使用 YYYY-MM-DD 格式",
                    "value": "[red]昨天[/red]",
                },
            ]
        )
    )
    assert text.splitlines()[0].endswith("[bold]台账[/bold].csv：数据行 3，接收 1，拒收 2")
    assert "[red]昨天[/red]" in text
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert len(table) >= 6
    assert len({cell_len(line) for line in table}) == 1  # every row as wide as the header: CJK counted as 2


def test_personal_id_numbers_are_masked_and_the_rest_counted() -> None:
    person = "110101199003074578"
    errors = [
        {
            "row": n,
            "field": "证件号码",
            "code": "E_PERSON_ID",
            "message": f"号码 {person} 校验位错误",
            "value": person,
        }
        for n in range(2, 7)
    ]
    text = rendered(receipt_with(errors, error_count=120), limit=3)
    assert person not in text and "1101" in text
    assert "… 另有 117 条错误未显示（共 120 条；" in text
