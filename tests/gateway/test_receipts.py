"""Receipts: complete JSON, Excel-safe CSV, readable Chinese text."""

from __future__ import annotations

import csv
import io
import json

from gateway.receipts import Receipt
from gateway.row_errors import RowError


def receipt_with(errors: list[RowError]) -> Receipt:
    receipt = Receipt(
        department="xz_amr", file="a.csv", sha256="0" * 64, size=10, received_at="2026-11-28T00:00:00"
    )
    receipt.status, receipt.rows, receipt.accepted, receipt.rejected = "partial", 3, 2, 1
    receipt.set_errors(errors)
    return receipt


def test_csv_cells_never_start_a_formula() -> None:
    receipt = receipt_with(
        [
            RowError(2, '=HYPERLINK("x")', "E_TOO_LONG", "太长", value="+cmd|' /C calc'!A0"),
            RowError(3, "名称", "E_REQUIRED", "-2+3", value="@SUM(A1)"),
        ]
    )
    rows = list(csv.reader(io.StringIO(receipt.to_csv().decode("utf-8-sig"))))
    assert rows[0] == ["行号", "列", "错误代码", "说明", "原值"]
    cells = [cell for row in rows[1:] for cell in row[1:]]
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert rows[1][1] == '\'=HYPERLINK("x")'
    assert receipt.to_csv().startswith("\ufeff".encode())


def test_json_round_trips_and_text_names_row_and_field() -> None:
    receipt = receipt_with([RowError(7, "罚款金额(万元)", "E_FINE_AMOUNT", "处罚类别含罚款时须填写罚款金额")])
    assert Receipt.from_json(receipt.to_json()) == receipt
    assert json.loads(receipt.to_json())["errors"][0] == {
        "row": 7,
        "field": "罚款金额(万元)",
        "code": "E_FINE_AMOUNT",
        "message": "处罚类别含罚款时须填写罚款金额",
    }
    text = receipt.to_text()
    assert "第 7 行「罚款金额(万元)」" in text and "部分接收" in text
    assert set(receipt.files()) == {".receipt.json", ".receipt.csv", ".receipt.txt"}
