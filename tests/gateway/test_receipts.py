"""Receipts: complete JSON, Excel-safe CSV, readable Chinese text."""

from __future__ import annotations

import csv
import io
import json
import random
import re

import pytest

from gateway.receipts import IntakeReceipt
from gateway.row_errors import RowError

SURROGATE = re.compile("[\ud800-\udfff]")


def receipt_with(errors: list[RowError]) -> IntakeReceipt:
    receipt = IntakeReceipt(
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
    assert rows[0] == ["工作表", "行号", "列", "错误代码", "说明", "原值"]
    cells = [cell for row in rows[1:] for cell in row[2:]]
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert rows[1][2] == '\'=HYPERLINK("x")'
    assert receipt.to_csv().startswith("\ufeff".encode())


def test_json_round_trips_and_text_names_row_and_field() -> None:
    receipt = receipt_with([RowError(7, "罚款金额(万元)", "E_FINE_AMOUNT", "处罚类别含罚款时须填写罚款金额")])
    assert IntakeReceipt.from_json(receipt.to_json()) == receipt
    assert json.loads(receipt.to_json())["errors"][0] == {
        "row": 7,
        "field": "罚款金额(万元)",
        "code": "E_FINE_AMOUNT",
        "message": "处罚类别含罚款时须填写罚款金额",
    }
    text = receipt.to_text()
    assert "第 7 行「罚款金额(万元)」" in text and "部分接收" in text
    assert set(receipt.files()) == {".receipt.json", ".receipt.csv", ".receipt.txt"}


def text_with_surrogates(rng: random.Random, count: int) -> str:
    """Chinese text with ``count`` lone surrogates at random places, as a JSON file's "\\ud800" escapes or a
    badly decoded name put them into Python strings."""
    chars = [rng.choice("行政处罚决定书文号金额") for _ in range(12)]
    for _ in range(count):
        chars.insert(rng.randrange(len(chars) + 1), chr(rng.randint(0xD800, 0xDFFF)))
    return "".join(chars)


@pytest.mark.parametrize("seed", range(6))
def test_lone_surrogates_are_written_as_replacement_characters_and_counted(seed: int) -> None:
    rng = random.Random(seed)
    field_name, message, value, name = (text_with_surrogates(rng, n) for n in (1, 2, 1, 1))
    receipt = receipt_with([RowError(5, field_name, "E_PATTERN", message, value=value)])
    receipt.file = name
    receipt.warnings.append(f"列「{field_name}」未对应任何字段，已忽略")

    raw_json, raw_csv, raw_text = receipt.to_json(), receipt.to_csv(), receipt.to_text().encode()

    stored = json.loads(raw_json)
    assert stored["replaced_characters"] == 6
    assert stored["errors"][0]["field"] == SURROGATE.sub("\ufffd", field_name)
    assert stored["file"].count("\ufffd") == 1
    rows = list(csv.reader(io.StringIO(raw_csv.decode("utf-8-sig"))))
    assert rows[-1][3:5] == [
        "W_CHARS_REPLACED",
        "文件内容或文件名中有 6 个字符编码有误（孤立的代理码位），无法显示，本回执中以“\ufffd”代替；"
        "请检查导出文件的编码",
    ]
    text = raw_text.decode("utf-8")
    assert "提示：文件内容或文件名中有 6 个字符编码有误" in text
    assert f"文件：{SURROGATE.sub(chr(0xFFFD), name)}" in text
    again = IntakeReceipt.from_json(raw_json)  # as the stored receipt is re-issued for a duplicate
    assert again.replaced_characters == 6 and "6 个字符编码有误" in again.to_text()
    assert receipt.replaced_characters == 0  # writing a receipt does not change it


def test_a_clean_receipt_says_nothing_about_replaced_characters() -> None:
    receipt = receipt_with([RowError(2, "名称", "E_REQUIRED", "必填")])
    assert json.loads(receipt.to_json())["replaced_characters"] == 0
    assert "编码有误" not in receipt.to_text() and "W_CHARS_REPLACED" not in receipt.to_csv().decode()


def test_a_workbook_receipt_names_sheets_skipped_rows_and_rows_waiting_for_an_entity() -> None:
    receipt = receipt_with([RowError(7, "处罚决定日期", "E_DATE", "日期无法识别")])
    receipt.errors[0]["sheet"] = "行政处罚"
    receipt.parts = [
        {"sheet": "行政处罚", "status": "partial", "record_type_label": "行政处罚", "header_row": 2}
        | {"rows": 5, "accepted": 4, "rejected": 1, "file_error": None},
        {
            "sheet": "统计",
            "status": "rejected",
            "file_error": {"code": "E_HEADERS", "message": "表头无法识别"},
        },
    ]
    receipt.skipped_sheets = [{"sheet": "填报说明", "reason": "填报说明或代码表工作表"}]
    receipt.skipped, receipt.skipped_rows = (
        1,
        [
            {
                "sheet": "行政处罚",
                "row": 3,
                "kind": "example",
                "label": "示例行",
                "text": "示例：忻州市XX有限公司",
            }
        ],
    )
    receipt.queued_rows = [
        {
            "sheet": "行政处罚",
            "row": 5,
            "field": "工商注册号",
            "value": "140900200001233",
            "message": "主体库中尚未登记",
        }
    ]
    text = receipt.to_text()
    assert "工作表「行政处罚」第 7 行「处罚决定日期」：日期无法识别（E_DATE" in text
    assert "工作表「行政处罚」：部分接收" in text and "表头在第 2 行" in text
    assert "工作表「统计」：拒收" in text and "表头无法识别（E_HEADERS）" in text
    assert "工作表「填报说明」未读取：填报说明或代码表工作表" in text
    assert "工作表「行政处罚」第 3 行：示例行（「示例：忻州市XX有限公司」）" in text
    assert "工作表「行政处罚」第 5 行「工商注册号」140900200001233：主体库中尚未登记" in text
    rows = list(csv.reader(io.StringIO(receipt.to_csv().decode("utf-8-sig"))))
    assert rows[2][:4] == ["行政处罚", "7", "处罚决定日期", "E_DATE"]
    assert any(row[3] == "W_NOT_DATA" and row[1] == "3" for row in rows)
    assert any(row[3] == "W_WAITING_ENTITY" and row[1] == "5" for row in rows)
    assert any(row[3] == "E_HEADERS" for row in rows)
    assert IntakeReceipt.from_json(receipt.to_json()) == receipt


def test_a_receipt_rejected_whole_counts_every_row_rejected_and_nothing_stored() -> None:
    receipt = receipt_with([RowError(2, "a", "E", "m")])
    receipt.new, receipt.updated, receipt.unchanged, receipt.queued, receipt.withdrawn = 1, 1, 0, 1, 1
    receipt.reject_whole()
    counts = ("status", "rows", "accepted", "rejected", "new", "updated", "unchanged", "queued", "withdrawn")
    assert [getattr(receipt, key) for key in counts] == ["rejected", 3, 0, 3, 0, 0, 0, 0, 0]
    assert receipt.error_count == 1  # the errors found stay listed
