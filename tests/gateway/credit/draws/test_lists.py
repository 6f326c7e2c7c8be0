"""The two lists from CSV and XLSX with Chinese headers: what loads, what a reload reports, and errors that
name the file, the row, the field and the reason (and load nothing)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from gateway.credit.draws.lists import ListError, load_file
from gateway.credit.draws.tables import draw_inspector, draw_item
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.draws.store_world import INSPECTORS, ITEMS, SAMPLES, uscc


def rows(settings: Settings, table) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    with engine_for(settings.database_url).connect() as conn:
        return {r.code: dict(r._mapping) for r in conn.execute(select(table))}


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_the_samples_load(settings: Settings) -> None:
    report = load_file(settings, "items", ITEMS)
    assert report.rows == 5 and len(report.added) == 5 and not report.changed and not report.removed
    items = rows(settings, draw_item)
    assert items["SC-AMR-002"]["kind"] == "重点"
    assert json.loads(items["SC-AMR-002"]["qualifications"]) == sorted(["食品安全", "行政执法证"])
    assert json.loads(items["SC-AMR-002"]["detail"]) == {"抽查依据": "食品安全法", "检查方式": "实地核查"}
    load_file(settings, "inspectors", INSPECTORS)
    people = rows(settings, draw_inspector)
    assert len(people) == 10
    assert people["AMR-0005"]["active"] is False
    assert json.loads(people["AMR-0004"]["conflicts"]) == ["91140902MA0K23456X", "91140921MA0K345677"]


def test_xlsx_loads_the_same_as_csv(settings: Settings) -> None:
    load_file(settings, "inspectors", INSPECTORS)
    from_csv = rows(settings, draw_inspector)
    report = load_file(settings, "inspectors", SAMPLES / "执法检查人员名录.xlsx")
    assert report.added == report.changed == report.removed == []
    from_xlsx = rows(settings, draw_inspector)
    strip = ("loaded_from", "loaded_at")
    assert {k: {f: v for f, v in r.items() if f not in strip} for k, r in from_xlsx.items()} == {
        k: {f: v for f, v in r.items() if f not in strip} for k, r in from_csv.items()
    }


def test_a_reload_replaces_the_list_and_reports_the_difference(settings: Settings, tmp_path: Path) -> None:
    load_file(settings, "items", ITEMS)
    lines = ITEMS.read_text(encoding="utf-8").splitlines()
    changed = [
        line.replace("企业公示信息情况检查", "企业公示信息抽查") for line in lines if "SC-EM-001" not in line
    ]
    changed.append("SC-TR-001,道路运输企业检查,一般,市交通运输局,,,")
    report = load_file(
        settings, "items", write_csv(tmp_path / "新清单.csv", "\n".join(changed) + "\n", "gb18030")
    )
    assert (report.added, report.changed, report.removed) == (["SC-TR-001"], ["SC-AMR-001"], ["SC-EM-001"])
    assert set(rows(settings, draw_item)) == {
        "SC-AMR-001",
        "SC-AMR-002",
        "SC-AMR-003",
        "SC-EE-001",
        "SC-TR-001",
    }


def test_bad_rows_are_all_reported_and_nothing_loads(settings: Settings, tmp_path: Path) -> None:
    load_file(settings, "inspectors", INSPECTORS)
    bad = write_csv(
        tmp_path / "名录.csv",
        "人员编码,姓名,所属部门,执法资质,回避企业,是否在岗\n"
        f"X-1,甲,市应急管理局,,{uscc(1)},是\n"
        "X-2,,市应急管理局,,,是\n"
        "X-3,丙,市应急管理局,,91140902000000001X,是\n"
        "X-1,丁,市应急管理局,,,也许\n",
    )
    with pytest.raises(ListError) as caught:
        load_file(settings, "inspectors", bad)
    problems = caught.value.problems
    assert "名录.csv 第 3 行 「姓名」：不能为空" in problems
    assert any(
        p.startswith("名录.csv 第 4 行 「回避企业」：91140902000000001X 不是有效的统一社会信用代码")
        for p in problems
    )
    assert "名录.csv 第 5 行 「是否在岗」：应为 是 或 否，而不是 '也许'" in problems
    assert "名录.csv 第 5 行 「人员编码」：X-1 与第 2 行重复" in problems
    assert len(rows(settings, draw_inspector)) == 10  # the old list stays


def test_item_errors_name_the_field(settings: Settings, tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "事项.csv", "事项编码,事项名称,事项类别,实施部门\nA,检查,普通,市局\n")
    with pytest.raises(
        ListError, match=re.escape("事项.csv 第 2 行 「事项类别」：应为 重点 或 一般，而不是 '普通'")
    ):
        load_file(settings, "items", bad)
    missing = write_csv(tmp_path / "缺列.csv", "事项编码,事项名称,实施部门\nA,检查,市局\n")
    with pytest.raises(ListError, match=re.escape("缺列.csv 第 1 行（表头）：缺少列「事项类别」")):
        load_file(settings, "items", missing)


def test_unreadable_files_are_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ListError, match=re.escape("只接受 .csv 或 .xlsx")):
        load_file(settings, "items", write_csv(tmp_path / "清单.txt", "x"))
    fake = tmp_path / "清单.xlsx"
    fake.write_bytes(b"not a workbook")
    with pytest.raises(ListError, match="不是可读的 Excel 工作簿"):
        load_file(settings, "items", fake)
    with pytest.raises(ListError, match="文件是空的"):
        load_file(settings, "items", write_csv(tmp_path / "空.csv", ""))


def test_xlsx_errors_give_the_sheet_row(settings: Settings, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["事项编码", "事项名称", "事项类别", "实施部门"])
    sheet.append(["A", "检查", "重点", "市局"])
    sheet.append([None, None, None, None])
    sheet.append(["B", "检查", "重点", None])
    path = tmp_path / "事项.xlsx"
    workbook.save(path)
    with pytest.raises(ListError, match=re.escape("事项.xlsx 第 4 行 「实施部门」：不能为空")):
        load_file(settings, "items", path)
