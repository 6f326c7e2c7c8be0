"""open_source end to end on CSV files: encodings, row numbering, structure problems, refusals."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.intake import ReadError, ReadLimits, SourceFile, open_source

HEADER = "名称,统一社会信用代码,金额"
ROWS = "甲公司,91140900MA0K00001X,100\n乙公司,91140900MA0K00002Y,200\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(source: SourceFile, batch_rows: int = 65536) -> pa.Table:
    return pa.Table.from_batches(list(source.batches(batch_rows)), schema=source.schema)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ((HEADER + "\n" + ROWS).encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + (HEADER + "\n" + ROWS).encode("utf-8"), "utf-8-sig"),
        ((HEADER + "\n" + ROWS).encode("gbk"), "gbk"),
        ((HEADER + "\n" + ROWS).encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_BE + (HEADER + "\n" + ROWS).encode("utf-16-be"), "utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "gbk", "utf-16-le-bom", "utf-16-be-bom"],
)
def test_every_encoding_reads_to_the_same_rows(tmp_path: Path, data: bytes, expected: str) -> None:
    with open_source(write(tmp_path, "export.csv", data)) as source:
        assert source.encoding == expected
        assert source.format == "csv"
        assert source.headers == ["名称", "统一社会信用代码", "金额"]
        table = read_all(source)
    assert table.to_pydict() == {
        "c0": ["甲公司", "乙公司"],
        "c1": ["91140900MA0K00001X", "91140900MA0K00002Y"],
        "c2": ["100", "200"],
        "__row__": [2, 3],
    }


def test_gb18030_only_characters_are_detected_and_kept(tmp_path: Path) -> None:
    text = "名称,负责人\n𠀀字号商行,王䶮\n普通公司,张三\n"
    with open_source(write(tmp_path, "rare.csv", text.encode("gb18030"))) as source:
        assert source.encoding == "gb18030"
        table = read_all(source)
    assert table.column("c0").to_pylist() == ["𠀀字号商行", "普通公司"]
    assert table.column("c1").to_pylist() == ["王䶮", "张三"]


def test_mixed_encodings_are_refused_with_the_lines_that_fail(tmp_path: Path) -> None:
    data = "名称,金额\n甲公司,1\n".encode() + "乙公司,2\n".encode("gbk") + "丙公司,3\n".encode()
    with pytest.raises(ReadError) as caught:
        open_source(write(tmp_path, "mixed.csv", data))
    assert caught.value.code == "E_ENCODING"
    assert "mixed.csv" in caught.value.message
    assert "第3行" in caught.value.message


def test_hash_and_size_describe_the_bytes(tmp_path: Path) -> None:
    data = (HEADER + "\n" + ROWS).encode()
    with open_source(write(tmp_path, "a.csv", data)) as source:
        assert source.sha256 == hashlib.sha256(data).hexdigest()
        assert source.size == len(data)


def test_quoted_newline_is_one_row_and_later_rows_keep_their_numbers(tmp_path: Path) -> None:
    data = '名称,地址,金额\n甲,"忻州市\n忻府区",1\n乙,原平市,2\n'.encode()
    with open_source(write(tmp_path, "q.csv", data)) as source:
        table = read_all(source)
    assert table.column("c1").to_pylist() == ["忻州市\n忻府区", "原平市"]
    assert table.column("__row__").to_pylist() == [2, 3]


def test_empty_rows_are_dropped_but_their_numbers_are_skipped(tmp_path: Path) -> None:
    data = "\n\n名称,金额\n甲,1\n\n,\n   ,  \n乙,2\r\n\r\n丙,3".encode()
    with open_source(write(tmp_path, "gaps.csv", data)) as source:
        assert source.header_row == 3
        table = read_all(source)
        assert source.row_errors == []
    assert table.column("c0").to_pylist() == ["甲", "乙", "丙"]
    assert table.column("__row__").to_pylist() == [4, 8, 10]


def test_tab_separated_export(tmp_path: Path) -> None:
    data = "名称\t代码\t备注\n甲公司\t001\t含,逗号\n".encode("gbk")
    with open_source(write(tmp_path, "tab.txt", data)) as source:
        assert source.delimiter == "\t"
        assert source.headers == ["名称", "代码", "备注"]
        table = read_all(source)
    assert table.column("c2").to_pylist() == ["含,逗号"]


def test_too_many_cells_is_a_row_error_and_the_row_is_cut_to_the_header(tmp_path: Path) -> None:
    header = ",".join(f"列{i}" for i in range(10))
    good = ",".join(str(i) for i in range(10))
    long = ",".join(str(i) for i in range(12))
    data = "\n".join([header, good, good, good, long, good]).encode()
    with open_source(write(tmp_path, "wide.csv", data)) as source:
        table = read_all(source)
        assert [tuple(error) for error in source.row_errors] == [(5, "第5行：单元格数量(12)多于表头(10)")]
    assert table.num_columns == 11
    assert table.column("__row__").to_pylist() == [2, 3, 4, 5, 6]
    assert table.slice(3, 1).to_pylist()[0]["c9"] == "9"


def test_fewer_cells_are_missing_values(tmp_path: Path) -> None:
    data = "名称,代码,金额\n甲,001\n乙\n丙,003,3\n".encode()
    with open_source(write(tmp_path, "short.csv", data)) as source:
        table = read_all(source)
        assert source.row_errors == []
    assert table.to_pydict() == {
        "c0": ["甲", "乙", "丙"],
        "c1": ["001", None, "003"],
        "c2": [None, None, "3"],
        "__row__": [2, 3, 4],
    }


def test_trailing_delimiter_column_is_stripped(tmp_path: Path) -> None:
    data = "名称,金额,\n甲,1,\n乙,2\n丙,3,,\n".encode()
    with open_source(write(tmp_path, "trail.csv", data)) as source:
        assert source.headers == ["名称", "金额"]
        table = read_all(source)
        assert source.row_errors == []
    assert table.column_names == ["c0", "c1", "__row__"]
    assert table.column("c1").to_pylist() == ["1", "2", "3"]


def test_content_under_a_trailing_unnamed_column_is_flagged(tmp_path: Path) -> None:
    data = "名称,金额,\n甲,1,\n乙,2,多余\n".encode()
    with open_source(write(tmp_path, "trail.csv", data)) as source:
        table = read_all(source)
        assert [tuple(error) for error in source.row_errors] == [(3, "第3行：单元格数量(3)多于表头(2)")]
    assert table.column("c1").to_pylist() == ["1", "2"]


def test_empty_cells_are_null_and_null_like_words_are_data(tmp_path: Path) -> None:
    data = '名称,备注,代码\nNA,NULL,#N/A\n甲,"",\n'.encode()
    with open_source(write(tmp_path, "nulls.csv", data)) as source:
        table = read_all(source)
    assert table.to_pylist()[0] == {"c0": "NA", "c1": "NULL", "c2": "#N/A", "__row__": 2}
    assert table.to_pylist()[1] == {"c0": "甲", "c1": None, "c2": None, "__row__": 3}


def test_duplicate_and_empty_headers_are_allowed_and_exposed(tmp_path: Path) -> None:
    data = " \ufeff名称 ,金额,,金额,备注\n甲,1,x,2,y\n".encode()
    with open_source(write(tmp_path, "dup.csv", data)) as source:
        assert source.headers == ["名称", "金额", "", "金额", "备注"]
        assert source.duplicate_headers == {"金额": [1, 3]}
        assert source.empty_headers == [2]
        assert read_all(source).num_rows == 1


def test_header_only_file_has_headers_and_no_rows(tmp_path: Path) -> None:
    with open_source(write(tmp_path, "h.csv", "名称,金额\r\n".encode())) as source:
        assert source.headers == ["名称", "金额"]
        assert list(source.batches()) == []
        assert source.schema.names == ["c0", "c1", "__row__"]
        assert source.row_errors == []


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.csv", b"", "E_EMPTY"),
        ("blank.csv", b"\r\n  \n\n", "E_NO_HEADER"),
        ("bom-only.csv", codecs.BOM_UTF8, "E_NO_HEADER"),
        ("report.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "E_FORMAT"),
        ("archive.csv", b"PK\x03\x04" + b"\x00" * 60, "E_FORMAT"),
        ("garbage.csv", bytes(range(256)) * 4, "E_FORMAT"),
        ("nul-late.csv", b"a,b\n" + b"1,2\n" * 5000 + b"3,\x00\n", "E_FORMAT"),
        ("page.xls", b"<html><body><table><tr><td>a</td></tr></table></body></html>", "E_FORMAT"),
        ("fake.xlsx", "名称,金额\n甲,1\n".encode(), "E_FORMAT"),
    ],
)
def test_unusable_files_are_refused_with_a_code(tmp_path: Path, name: str, data: bytes, code: str) -> None:
    with pytest.raises(ReadError) as caught:
        open_source(write(tmp_path, name, data))
    assert caught.value.code == code
    assert name in caught.value.message


def test_text_export_named_xls_is_read_as_csv(tmp_path: Path) -> None:
    """Old systems' "导出Excel" often writes tab-separated text with an .xls name."""
    with open_source(write(tmp_path, "导出.xls", "名称\t金额\n甲\t1\n".encode("gbk"))) as source:
        assert (source.format, source.encoding, source.delimiter) == ("csv", "gbk", "\t")
        assert read_all(source).num_rows == 1


def test_limits_refuse_large_and_wide_files(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", (HEADER + "\n" + ROWS * 50).encode())
    with pytest.raises(ReadError) as caught:
        open_source(path, limits=ReadLimits(max_file_bytes=1000))
    assert caught.value.code == "E_TOO_LARGE"
    wide = write(tmp_path, "wide.csv", ",".join(f"c{i}" for i in range(20)).encode())
    with pytest.raises(ReadError) as caught:
        open_source(wide, limits=ReadLimits(max_columns=10))
    assert caught.value.code == "E_TOO_LARGE"
    assert "20列" in caught.value.message


def test_overlong_cell_is_truncated_and_flagged_without_its_content(tmp_path: Path) -> None:
    data = f"名称,备注\n甲,{'长' * 50}\n乙,短\n".encode()
    with open_source(write(tmp_path, "long.csv", data), limits=ReadLimits(max_cell_chars=10)) as source:
        table = read_all(source)
        assert [tuple(error) for error in source.row_errors] == [
            (2, "第2行第2列（备注）：单元格内容过长（50个字符，上限10），已截断，可能是引号未闭合")
        ]
    assert table.column("c1").to_pylist() == ["长" * 10, "短"]


def test_record_longer_than_the_parse_block_is_refused(tmp_path: Path) -> None:
    data = ("名称,备注\n甲,1\n乙," + "x" * 5000 + "\n").encode()
    with (
        open_source(
            write(tmp_path, "huge.csv", data), limits=ReadLimits(max_csv_record_bytes=1024)
        ) as source,
        pytest.raises(ReadError) as caught,
    ):
        read_all(source)
    assert caught.value.code == "E_TOO_LARGE"


def test_batches_have_the_requested_size_and_can_be_read_twice(tmp_path: Path) -> None:
    data = ("名称\n" + "".join(f"公司{i}\n" for i in range(10))).encode()
    with open_source(write(tmp_path, "ten.csv", data)) as source:
        sizes = [batch.num_rows for batch in source.batches(3)]
        again = read_all(source, 4)
    assert sizes == [3, 3, 3, 1]
    assert again.column("__row__").to_pylist() == list(range(2, 12))


def test_file_changed_while_reading_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "moving.csv", (HEADER + "\n" + ROWS).encode())
    with open_source(path) as source:
        with path.open("ab") as stream:
            stream.write("丙公司,91140900MA0K00003Z,300\n".encode())
        with pytest.raises(ReadError) as caught:
            read_all(source)
    assert caught.value.code == "E_CHANGED"


def test_closed_source_cannot_stream(tmp_path: Path) -> None:
    source = open_source(write(tmp_path, "a.csv", (HEADER + "\n" + ROWS).encode()))
    source.close()
    with pytest.raises(ValueError, match="closed"):
        next(source.batches())


def test_row_errors_are_released_with_the_batch_holding_their_row(tmp_path: Path) -> None:
    """A consumer may take the new tail of row_errors after each batch and validate that batch with it."""
    lines = ["名称,金额"] + [f"公司{i},{i}" + (",多余" if i % 4 == 0 else "") for i in range(40)]
    with open_source(write(tmp_path, "e.csv", "\n".join(lines).encode())) as source:
        seen = 0
        for batch in source.batches(7):
            rows = set(batch.column("__row__").to_pylist())
            fresh = source.row_errors[seen:]
            seen = len(source.row_errors)
            assert {error.row for error in fresh} == {row for row in rows if (row - 2) % 4 == 0}
        assert len(source.row_errors) == 10
