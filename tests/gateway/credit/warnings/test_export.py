"""A department's warnings as CSV (UTF-8 with BOM) and XLSX, with Chinese headers and without the risk
class."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from gateway.credit.warnings.export import HEADERS, export
from gateway.credit.warnings.queries import Filters
from gateway.credit.warnings.raising import raise_warnings, rules_of
from gateway.credit.warnings.states import change_state
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.seed import AS_OF
from tests.gateway.credit.warnings.test_states import first_of

LABELS = {"admin_penalty": "行政处罚", "admin_license": "行政许可"}


def run_export(settings: Settings, filters: Filters, fmt: str, path: Path) -> int:
    with engine_for(settings.database_url).connect() as conn:
        return export(conn, filters, rules_of(settings), LABELS, "Asia/Shanghai", fmt, path)


def test_csv_of_a_department(credit_settings: Settings, city: dict[str, Any], tmp_path: Path) -> None:
    raise_warnings(credit_settings, AS_OF)
    warning_id = first_of(credit_settings, "penalties")
    with engine_for(credit_settings.database_url).begin() as conn:
        change_state(conn, warning_id, "acknowledged", "李四")
    out = tmp_path / "预警.csv"
    assert run_export(credit_settings, Filters(department="xz_amr_enforcement"), "csv", out) == 1
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert tuple(rows[0]) == HEADERS
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["预警编号"] == str(warning_id) and row["预警等级"] == "橙色预警"
    assert row["预警规则"] == "多次行政处罚" and row["主体名称"] == "甲商贸有限公司"
    assert row["状态"] == "已确认" and row["最近处理人"] == "李四" and row["承办部门"] == "xz_amr_enforcement"
    assert row["证据记录"].count("行政处罚 11140900MB0000000X|忻市监罚〔2026〕") == 3
    assert "（第1版）" in row["证据记录"]
    assert row["预警日期"] == "2026-06-30"
    # filtered by state: nothing new left in this department
    assert run_export(credit_settings, Filters(department="xz_amr_enforcement", state="new"), "csv", out) == 0


def test_xlsx_without_the_risk_class(credit_settings: Settings, city: dict[str, Any], tmp_path: Path) -> None:
    raise_warnings(credit_settings, AS_OF)
    out = tmp_path / "预警.xlsx"
    assert run_export(credit_settings, Filters(department="xz_credit"), "xlsx", out) == 3  # the class moves
    sheet = load_workbook(out).active
    rows = [tuple(cell.value for cell in row) for row in sheet.iter_rows()]
    assert rows[0] == HEADERS and len(rows) == 4
    assert not any("class" in h or "分类" in h for h in rows[0])
    assert {r[2] for r in rows[1:]} == {"信用风险分类下降"} and {r[3] for r in rows[1:]} == {
        "风险分类下降（2026-05）"
    }
    cells = {str(value) for row in rows[1:] for value in row if value is not None}
    assert not cells & {"A", "B", "C", "D"}  # no class as a value
    assert all(r[9] in (None, "") for r in rows[1:])  # risk-class evidence is not named


def test_most_severe_first(credit_settings: Settings, city: dict[str, Any], tmp_path: Path) -> None:
    raise_warnings(credit_settings, AS_OF)
    out = tmp_path / "amr.csv"
    run_export(credit_settings, Filters(department="xz_amr"), "csv", out)
    levels = [row[1] for row in list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))[1:]]
    order = ["红色预警", "橙色预警", "黄色预警", "蓝色预警"]
    assert levels and levels == sorted(levels, key=order.index)
    assert "红色预警" in levels and "蓝色预警" in levels
