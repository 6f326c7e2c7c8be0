"""``gateway ids check`` through Typer's test runner: output lines, exit status, masking, --kind."""

from __future__ import annotations

import datetime

from typer.testing import CliRunner

from gateway.ids import resident_id, uscc
from gateway.ids.cli import Kind, app, guess_kind

runner = CliRunner()
TODAY = datetime.date(2025, 6, 30)


def _run(text: str, *args: str) -> tuple[int, list[list[str]]]:
    result = runner.invoke(app, ["check", *args], input=text)
    return result.exit_code, [line.split("\t") for line in result.stdout.splitlines()]


def test_all_valid_exits_zero_and_skips_blank_lines():
    code, rows = _run("91350100M000100Y43\n\n   \nD2143569-X\n110108000000016\n")
    assert code == 0
    assert rows == [
        ["91350100M000100Y43", "valid", "统一社会信用代码"],
        ["D2143569-X", "valid", "组织机构代码"],
        ["110108000000016", "valid", "工商注册号"],
    ]


def test_any_invalid_exits_one_with_chinese_reasons():
    code, rows = _run("9111000060003IOZSV\n91350100M000100Y43\n91350100M000100Y42\n12345\n")
    assert code == 1
    assert rows[0] == [
        "9111000060003IOZSV",
        "invalid",
        "统一社会信用代码含有不允许的字母 I、O、S、V、Z：第 14 位是「I」",
    ]
    assert rows[1][1] == "valid"
    assert rows[2] == ["91350100M000100Y42", "invalid", "统一社会信用代码校验位错误"]
    assert rows[3] == ["12345", "invalid", "代码长度不对：应为 9、15 或 18 位，实际为 5 位"]


def test_resident_ids_are_never_printed_in_full():
    ids = ["11010519491231002X", "110105194912310021", "110105491231002", "1101051949123100"]
    result = runner.invoke(app, ["check"], input="\n".join(ids) + "\n")
    assert result.exit_code == 1
    for number in ids:
        assert number not in result.stdout
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["110105********002X", "valid", "居民身份证号码"]
    assert rows[1] == ["110105********0021", "invalid", "居民身份证号码校验位错误"]
    assert rows[2] == ["110105******002", "valid", "居民身份证号码"]
    assert rows[3][0] == "**************00"


def test_explicit_kind_overrides_the_guess():
    code, rows = _run("110108000000016\n", "--kind", "id")
    assert code == 1
    assert rows == [["110108******016", "invalid", "居民身份证号码出生日期无效"]]
    code, rows = _run("M000100Y4\n", "--kind", "uscc")
    assert code == 1
    assert rows == [["M000100Y4", "invalid", "统一社会信用代码长度不对：应为 18 位，实际为 9 位"]]


def test_a_personal_number_checked_as_uscc_is_still_masked():
    code, rows = _run("11010519491231002X\n", "--kind", "uscc")
    assert code == 1
    assert rows[0][0] == "110105********002X"


def test_help_documents_the_auto_rule():
    result = runner.invoke(app, ["check", "--help"])
    assert result.exit_code == 0
    assert "auto decides by the length" in " ".join(result.stdout.split())


def test_auto_rule():
    assert guess_kind("D2143569X", TODAY) is Kind.ORG
    assert guess_kind("110108000000016", TODAY) is Kind.REGNO
    assert guess_kind("110105491231002", TODAY) is Kind.ID
    assert guess_kind("91350100M000100Y43", TODAY) is Kind.USCC
    # All-digit USCCs are common (old enterprises); valid ones stay USCCs.
    assert guess_kind("914403001922038216", TODAY) is Kind.USCC
    assert guess_kind("11010519491231002X", TODAY) is Kind.ID
    # A digit string that is neither valid is treated as a (mistyped) personal number, so it is masked.
    assert guess_kind("914403001922038217", TODAY) is Kind.ID
    body = "11010519491231002"
    both = next(body[:-3] + f"{n:03d}" for n in range(1000) if _valid_as_both(body[:-3] + f"{n:03d}"))
    assert guess_kind(both + resident_id.calc_check(both), TODAY) is Kind.ID
    assert guess_kind("1234", TODAY) is None


def _valid_as_both(body: str) -> bool:
    code = body + resident_id.calc_check(body)
    return uscc.is_valid(code) and resident_id.is_valid(code, today=TODAY)
