"""open_source on XLSX workbooks made with openpyxl, and on broken or hostile ones."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from gateway.intake import ReadError, ReadLimits, SourceFile, open_source

ID_NUMBER = 140902199001011234


def read_all(source: SourceFile) -> pa.Table:
    return pa.Table.from_batches(list(source.batches()), schema=source.schema)


@pytest.fixture
def workbook_path(tmp_path: Path) -> Path:
    """A typical department export: a hidden code-list sheet first, data starting at B3."""
    book = openpyxl.Workbook()
    codes = book.active
    codes.title = "代码表"
    codes["A1"] = "01"
    codes.sheet_state = "hidden"
    sheet = book.create_sheet("处罚信息")
    sheet["B3"], sheet["C3"], sheet["D3"], sheet["E3"], sheet["F3"], sheet["G3"] = (
        " 行政相对人名称 ",
        "罚款金额（万元）",
        "处罚决定日期",
        "录入时间",
        "是否公示",
        "身份证号",
    )
    sheet.append([])
    sheet["B4"], sheet["C4"], sheet["D4"], sheet["E4"], sheet["F4"], sheet["G4"] = (
        "忻州市甲商贸有限公司",
        1000,
        dt.date(2024, 3, 5),
        dt.datetime(2024, 3, 5, 10, 1, 2),
        True,
        ID_NUMBER,
    )
    sheet["B6"], sheet["C6"], sheet["D6"], sheet["F6"], sheet["G6"] = (
        "王䶮",
        0.1 + 0.2,
        dt.time(8, 30),
        "#N/A",
        "140902199001011234",
    )
    sheet["H7"] = "表外备注"
    sheet["B8"], sheet["C8"] = "丙", 12.5
    path = tmp_path / "处罚.xlsx"
    book.save(path)
    return path


def test_typical_workbook(workbook_path: Path) -> None:
    with open_source(workbook_path) as source:
        assert (source.format, source.encoding, source.sheet) == ("xlsx", None, "处罚信息")
        assert source.header_row == 3
        assert source.headers == [
            "行政相对人名称",
            "罚款金额（万元）",
            "处罚决定日期",
            "录入时间",
            "是否公示",
            "身份证号",
        ]
        table = read_all(source)
        errors = [tuple(error) for error in source.row_errors]
    assert table.to_pydict() == {
        "c0": ["忻州市甲商贸有限公司", "王䶮", None, "丙"],
        "c1": ["1000", "0.3", None, "12.5"],
        "c2": ["2024-03-05", "08:30:00", None, None],
        "c3": ["2024-03-05 10:01:02", None, None, None],
        "c4": ["TRUE", "#N/A", None, None],
        "c5": ["140902199001011200", "140902199001011234", None, None],
        "__row__": [4, 6, 7, 8],
    }
    assert errors == [
        (4, "第4行G列（身份证号）：数值位数过长，可能已丢失精度，请将该列设置为文本格式"),
        (6, "第6行F列（是否公示）：单元格是Excel错误值#N/A"),
        (7, "第7行：单元格数量(7)多于表头(6)"),
    ]
    assert not any(str(ID_NUMBER)[:12] in message for _, message in errors)


def test_sheet_by_name_and_missing_sheet(workbook_path: Path) -> None:
    with open_source(workbook_path, sheet="代码表") as source:
        assert source.headers == ["01"]
        assert list(source.batches()) == []
    with pytest.raises(ReadError) as caught:
        open_source(workbook_path, sheet="不存在")
    assert caught.value.code == "E_SHEET"
    assert "处罚信息" in caught.value.message


def test_empty_sheet_has_no_header(tmp_path: Path) -> None:
    path = tmp_path / "空.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(ReadError) as caught:
        open_source(path)
    assert caught.value.code == "E_NO_HEADER"


def test_many_rows_stream_in_batches(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "序号"])
    for index in range(1000):
        sheet.append([f"公司{index}", index])
    path = tmp_path / "多行.xlsx"
    book.save(path)
    with open_source(path) as source:
        sizes = [batch.num_rows for batch in source.batches(300)]
        table = read_all(source)
    assert sizes == [300, 300, 300, 100]
    assert table.column("__row__").to_pylist() == list(range(2, 1002))
    assert table.column("c1").to_pylist()[-1] == "999"


def test_truncated_workbook_is_corrupt(workbook_path: Path, tmp_path: Path) -> None:
    data = workbook_path.read_bytes()
    path = tmp_path / "截断.xlsx"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ReadError) as caught:
        open_source(path)
    assert caught.value.code == "E_CORRUPT"
    assert "截断.xlsx" in caught.value.message


def test_zip_bomb_disguised_as_xlsx_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "炸弹.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", bytes(8 * 1024 * 1024))
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(ReadError) as caught:
        open_source(path)
    assert caught.value.code == "E_ZIP_BOMB"
    assert "压缩比" in caught.value.message


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "资料.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "你好")
    with pytest.raises(ReadError) as caught:
        open_source(path)
    assert caught.value.code == "E_FORMAT"


def test_workbook_renamed_to_csv_is_refused(workbook_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "处罚.csv"
    path.write_bytes(workbook_path.read_bytes())
    with pytest.raises(ReadError) as caught:
        open_source(path)
    assert caught.value.code == "E_FORMAT"
    assert "ZIP" in caught.value.message


def test_unknown_suffix_is_decided_by_content(workbook_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "处罚.dat"
    path.write_bytes(workbook_path.read_bytes())
    with open_source(path) as source:
        assert source.format == "xlsx"


def test_a_damaged_xls_is_reported_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "旧.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(ReadError) as caught:
        open_source(path)
    assert caught.value.code == "E_CORRUPT"
    assert "旧.xls" in caught.value.message and "XLS" in caught.value.message


def test_wide_sheet_is_refused(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append([f"列{i}" for i in range(30)])
    path = tmp_path / "宽.xlsx"
    book.save(path)
    with pytest.raises(ReadError) as caught:
        open_source(path, limits=ReadLimits(max_columns=20))
    assert caught.value.code == "E_TOO_LARGE"


def test_in_memory_workbook_round_trip_keeps_text_ids(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["统一社会信用代码", "身份证号"])
    sheet.append(["91140900MA0K00001X", "14090219900101123X"])
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "文本.xlsx"
    path.write_bytes(buffer.getvalue())
    with open_source(path) as source:
        assert read_all(source).to_pylist() == [
            {"c0": "91140900MA0K00001X", "c1": "14090219900101123X", "__row__": 2}
        ]
        assert source.row_errors == []
