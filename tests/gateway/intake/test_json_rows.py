"""open_source on JSON exports: the three layouts, values as text, row errors, refusals, chunk boundaries."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.intake import DEFAULT_LIMITS, ReadError, ReadLimits, SourceFile, json_rows, open_source

RECORDS = [
    {"名称": "甲公司", "统一社会信用代码": "91140900MA0K00001X", "金额": 1.50},
    {"名称": "乙公司", "金额": 200, "备注": "首次"},
]


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read_all(source: SourceFile, batch_rows: int = 65536) -> pa.Table:
    return pa.Table.from_batches(list(source.batches(batch_rows)), schema=source.schema)


def refusal(path: Path, limits: ReadLimits | None = None) -> ReadError:
    with pytest.raises(ReadError) as caught:
        open_source(path, **({"limits": limits} if limits else {}))
    assert path.name in caught.value.message
    return caught.value


EXPECTED = {
    "c0": ["甲公司", "乙公司"],
    "c1": ["91140900MA0K00001X", None],
    "c2": ["1.50", "200"],
    "c3": [None, "首次"],
    "__row__": [2, 3],
}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("array.json", json.dumps(RECORDS, ensure_ascii=False, indent=2)),
        ("compact.json", json.dumps(RECORDS, ensure_ascii=False, separators=(",", ":"))),
        (
            "envelope.json",
            json.dumps({"code": 0, "msg": "成功", "data": RECORDS, "total": 2}, ensure_ascii=False),
        ),
        (
            "envelope-pretty.json",
            json.dumps({"data": RECORDS, "page": {"no": 1}}, ensure_ascii=False, indent=1),
        ),
        ("lines.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n"),
        ("lines-by-content.json", "\r\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS)),
        ("no-suffix", json.dumps(RECORDS, ensure_ascii=False)),
    ],
)
def test_every_layout_reads_to_the_same_rows(tmp_path: Path, name: str, text: str) -> None:
    # json.dumps writes 1.5 for 1.50; the file says 1.50, as a department's system would.
    with open_source(write(tmp_path, name, text.replace("1.5", "1.50"))) as source:
        assert (source.format, source.encoding, source.header_row) == ("json", "utf-8", 1)
        assert source.headers == ["名称", "统一社会信用代码", "金额", "备注"]
        assert read_all(source).to_pydict() == EXPECTED
        assert source.row_errors == []


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [("utf-8", codecs.BOM_UTF8, "utf-8-sig"), ("gbk", b"", "gbk"), ("gb18030", b"", "gb18030")],
)
def test_encodings_are_detected_as_for_csv(
    tmp_path: Path, encoding: str, prefix: bytes, expected: str
) -> None:
    name = "𠀀字号商行" if encoding == "gb18030" else "甲公司"
    data = prefix + json.dumps([{"名称": name}], ensure_ascii=False).encode(encoding)
    with open_source(write(tmp_path, "enc.json", data)) as source:
        assert source.encoding == expected
        assert read_all(source).column("c0").to_pylist() == [name]


def test_values_are_text_as_written(tmp_path: Path) -> None:
    text = (
        '[{"整数": 140902199001011234, "小数": 0.10, "指数": 1.5e3, "大指数": 1E+400, '
        '"真": true, "假": false, "空": null, "空串": "", "负": -0.0}]'
    )
    with open_source(write(tmp_path, "v.json", text)) as source:
        row = read_all(source).to_pylist()[0]
        assert [tuple(e) for e in source.row_errors] == [
            (2, "第2行字段“大指数”：数值位数过长，可能已丢失精度，请将该列设置为文本格式")
        ]
    assert row == {
        "c0": "140902199001011234",  # every digit kept: JSON carries numbers as text
        "c1": "0.10",
        "c2": "1500",
        "c3": "1E+400",  # not written out into 400 digits, and flagged below
        "c4": "TRUE",
        "c5": "FALSE",
        "c6": None,
        "c7": None,
        "c8": "-0.0",
        "__row__": 2,
    }


def test_a_float_that_passed_fifteen_digits_is_flagged(tmp_path: Path) -> None:
    with open_source(write(tmp_path, "f.json", '[{"身份证号": 1.40902199001011e17}]')) as source:
        assert read_all(source).column("c0").to_pylist() == ["140902199001011000"]
        assert [tuple(e) for e in source.row_errors] == [
            (2, "第2行字段“身份证号”：数值位数过长，可能已丢失精度，请将该列设置为文本格式")
        ]


def test_problem_values_are_row_errors_naming_the_key_and_the_rows_are_kept(tmp_path: Path) -> None:
    text = (
        '[{"名称": "甲", "地址": {"省": "山西", "市": "忻州"}},'
        ' {"名称": "乙", "标签": [1, 2]},'
        ' {"名称": "丙", "金额": NaN, "名称": "丁"},'
        ' {"名称": "戊", "金额": -Infinity},'
        ' ["不是", "对象"],'
        " null,"
        ' {"名称": "己"}]'
    )
    with open_source(write(tmp_path, "p.json", text)) as source:
        table = read_all(source, batch_rows=2)
        errors = [tuple(e) for e in source.row_errors]
    assert errors == [
        (2, "第2行字段“地址”：值是嵌套的对象，不能作为单一字段值读取，请将其展开为单独的字段"),
        (3, "第3行字段“标签”：值是嵌套的数组，不能作为单一字段值读取，请将其展开为单独的字段"),
        (4, "第4行字段“金额”：值为NaN，不是有效的JSON数值"),
        (4, "第4行字段“名称”：同一条记录中出现了多次，只读取第一个"),
        (5, "第5行字段“金额”：值为-Infinity，不是有效的JSON数值"),
        (6, "第6行：该条记录是数组，不是JSON对象（键值对）"),
        (7, "第7行：该条记录是null，不是JSON对象（键值对）"),
    ]
    # Every record is a row, even one with nothing readable, so the receipt counts it against a real row.
    assert table.column("__row__").to_pylist() == [2, 3, 4, 5, 6, 7, 8]
    assert table.column("c0").to_pylist() == ["甲", "乙", "丙", "戊", '["不是", "对象"]', "null", "己"]
    assert table.column("c1").to_pylist()[0] == '{"省": "山西", "市": "忻州"}'


def test_json_lines_keep_going_after_a_bad_line(tmp_path: Path) -> None:
    text = '{"名称": "甲"}\n\n{"名称": "乙",\n{"名称": "丙"} {"名称": "丁"}\n{"名称": "戊"}\n'
    with open_source(write(tmp_path, "l.ndjson", text)) as source:
        table = read_all(source)
        errors = [tuple(e) for e in source.row_errors]
    assert table.column("c0").to_pylist() == ["甲", '{"名称": "乙",', '{"名称": "丙"} {"名称": "丁"}', "戊"]
    assert table.column("__row__").to_pylist() == [2, 3, 4, 5]  # blank lines are not records
    assert errors == [
        (3, "第3行（文件第3行）：不是有效的JSON（键名须用双引号括起），无法读取"),
        (4, "第4行（文件第4行）：一行中有多个JSON值，无法读取"),
    ]


def test_a_single_object_is_one_record(tmp_path: Path) -> None:
    with open_source(write(tmp_path, "one.json", '{\n  "名称": "甲",\n  "金额": "1"\n}\n')) as source:
        assert source.headers == ["名称", "金额"]
        assert read_all(source).to_pydict() == {"c0": ["甲"], "c1": ["1"], "__row__": [2]}


def test_control_characters_in_strings_reach_the_validator(tmp_path: Path) -> None:
    with open_source(write(tmp_path, "c.json", '[{"名称": "甲\x07公司"}]')) as source:
        assert read_all(source).column("c0").to_pylist() == ["甲\x07公司"]


@pytest.mark.parametrize(
    ("name", "text", "code", "words"),
    [
        ("empty.json", "[]", "E_EMPTY", "没有任何记录"),
        ("blank.json", "  \n ", "E_EMPTY", "没有任何记录"),
        ("scalars.json", "[1, 2, 3]", "E_FORMAT", "都不是JSON对象"),
        ("empty-objects.json", "[{}, {}]", "E_NO_HEADER", "都没有字段"),
        (
            "two-arrays.json",
            '{"data": [{"a": 1}], "list": [{"b": 2}]}',
            "E_FORMAT",
            "多个数组成员（“data”、“list”）",
        ),
        ("cut.json", '[{"a": 1}, {"a": 2', "E_CORRUPT", "在中途结束"),
        ("cut-object.json", '{"a": 1\n', "E_CORRUPT", "在中途结束"),
        ("colon.json", '[{"a": 1}\n, {"a" 2}]', "E_CORRUPT", "第2行附近不是有效的JSON（缺少冒号）"),
        ("trailing.json", '[{"a": 1}] [{"a": 2}]', "E_CORRUPT", "多余内容"),
        ("comma.json", '[{"a": 1} {"a": 2}]', "E_CORRUPT", "此处应为逗号"),
        ("deep.json", "[" * 50_000 + "]" * 50_000, "E_TOO_DEEP", "嵌套层数过深"),
        ("lines.jsonl", '{"broken"\n{"x": 1\n', "E_CORRUPT", "没有一行能读取为JSON对象"),
        ("scalar.json", '"just a string"', "E_FORMAT", "内容不是JSON数据"),
    ],
)
def test_refusals(tmp_path: Path, name: str, text: str, code: str, words: str) -> None:
    error = refusal(write(tmp_path, name, text))
    assert error.code == code
    assert words in error.message


def test_the_reader_itself_wants_an_array_or_an_object(tmp_path: Path) -> None:
    """open_source's sniffing sees to this first; the reader does not rely on it."""
    path = write(tmp_path, "scalar.json", '"just a string"')
    with pytest.raises(ReadError) as caught:
        json_rows.JsonRows.open(path, path.name, DEFAULT_LIMITS)
    assert (caught.value.code, "不是JSON数组或对象" in caught.value.message) == ("E_FORMAT", True)


def test_limits_on_record_size_and_field_count(tmp_path: Path) -> None:
    big = write(tmp_path, "big.json", json.dumps([{"a": "x" * 200}, {"a": "y" * 5000}]))
    error = refusal(big, ReadLimits(max_json_record_chars=1000))
    assert (error.code, "超过1000个字符" in error.message) == ("E_TOO_LARGE", True)
    wide = write(tmp_path, "wide.json", json.dumps([{f"k{i}": i} for i in range(20)]))
    error = refusal(wide, ReadLimits(max_columns=10))
    assert (error.code, "超过10个不同的字段名" in error.message) == ("E_TOO_LARGE", True)
    line = write(
        tmp_path, "long.jsonl", json.dumps({"a": "x" * 5000}) + "\n" + json.dumps({"a": "ok"}) + "\n"
    )
    with open_source(line, limits=ReadLimits(max_json_record_chars=1000)) as source:
        assert read_all(source).column("c0").to_pylist()[1] == "ok"
        assert [e.row for e in source.row_errors] == [2]


@pytest.mark.parametrize("escaped", [False, True], ids=["utf-8", "escaped"])
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_chunk_boundaries_do_not_change_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, escaped: bool
) -> None:
    """Numbers, escapes and surrogate pairs cut at every position still decode to the same rows."""
    records = [
        {
            "名称": f"公司{i}",
            "金额": 12345.678 * i,
            "序号": 10**i,
            "说明": 'a "quoted" \\ \u00e9 𠀀',
            "空": None,
        }
        for i in range(12)
    ]
    text = json.dumps({"data": records, "total": 12}, ensure_ascii=escaped, indent=1)
    path = write(tmp_path, "chunks.json", text)
    with open_source(path) as source:
        expected = read_all(source)
    monkeypatch.setattr(json_rows, "CHUNK_CHARS", chunk)
    with open_source(path) as source:
        assert read_all(source, batch_rows=5).equals(expected)
    assert expected.column("c2").to_pylist()[11] == "100000000000"


def test_named_json_that_is_not_json_and_json_named_csv(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, "x.json", "名称,金额\n甲,1\n")).code == "E_FORMAT"
    assert "内容是JSON数据" in refusal(write(tmp_path, "x.csv", '[{"名称": "甲"}]')).message
    with open_source(write(tmp_path, "bracket.csv", "[必填]名称,金额\n甲,1\n")) as source:
        assert (source.format, source.headers) == ("csv", ["[必填]名称", "金额"])
