"""open_source on XML exports: records and fields, encodings, row errors, and what is refused as unsafe."""

from __future__ import annotations

import codecs
import socket
import weakref
from pathlib import Path
from xml.etree.ElementTree import Element

import pyarrow as pa
import pytest

from gateway.intake import ReadError, ReadLimits, SourceFile, open_source
from gateway.intake.xml_rows import XmlRows

RECORDS = """
  <Row 序号="1"><名称>甲公司</名称><金额>1.50</金额></Row>
  <Row 序号="2"><名称>乙公司</名称><备注>首次</备注><金额 单位="万元">200</金额></Row>
"""
EXPECTED = {
    "c0": ["1", "2"],
    "c1": ["甲公司", "乙公司"],
    "c2": ["1.50", "200"],
    "c3": [None, "首次"],
    "__row__": [2, 3],
}


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read_all(source: SourceFile, batch_rows: int = 65536) -> pa.Table:
    return pa.Table.from_batches(list(source.batches(batch_rows)), schema=source.schema)


def refusal(path: Path, **options: object) -> ReadError:
    with pytest.raises(ReadError) as caught:
        open_source(path, **options)  # type: ignore[arg-type]
    assert path.name in caught.value.message
    return caught.value


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may fetch a DTD or an entity."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    ("encoding", "declared", "prefix", "expected"),
    [
        ("utf-8", "UTF-8", b"", "utf-8"),
        ("utf-8", "UTF-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("gbk", "GBK", b"", "gbk"),
        ("gbk", "GB2312", b"", "gbk"),
        ("gb18030", "GB18030", b"", "gb18030"),
        ("utf-16", "UTF-16", b"", "utf-16"),
        ("gbk", "UTF-8", b"", "gbk"),  # the declaration is wrong; the bytes decide
    ],
)
def test_encodings_including_those_expat_cannot_decode(
    tmp_path: Path, encoding: str, declared: str, prefix: bytes, expected: str
) -> None:
    text = RECORDS.replace("乙公司", "𠀀字号商行") if encoding == "gb18030" else RECORDS
    xml = f'<?xml version="1.0" encoding="{declared}"?>\n<Rows xmlns="urn:example:penalty">{text}</Rows>\n'
    with open_source(write(tmp_path, "x.xml", prefix + xml.encode(encoding))) as source:
        assert (source.format, source.encoding, source.header_row) == ("xml", expected, 1)
        assert source.headers == ["@序号", "名称", "金额", "备注"]
        table = read_all(source)
        assert source.row_errors == []
    names = ["甲公司", "𠀀字号商行" if encoding == "gb18030" else "乙公司"]
    assert table.to_pydict() == {**EXPECTED, "c1": names}


def test_record_path_skips_the_envelope(tmp_path: Path) -> None:
    xml = (
        f"<Response><Head><Count>2</Count></Head><Body><Rows>{RECORDS}</Rows></Body><Sign>x</Sign></Response>"
    )
    path = write(tmp_path, "env.xml", xml)
    with open_source(path, record_path="Body/Rows") as source:
        assert read_all(source).to_pydict() == EXPECTED
    assert refusal(path, record_path="Body/Missing").code == "E_EMPTY"


def test_problem_records_are_row_errors_naming_the_element_and_are_kept(tmp_path: Path) -> None:
    xml = """<Rows xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <Row><名称>甲</名称><地址><省>山西</省><市>忻州</市></地址></Row>
      <Row><名称>乙</名称><名称>丙</名称></Row>
      <Row>只有文字</Row>
      <Row><名称>丁</名称>夹杂的文字<地址 xsi:nil="true"/></Row>
      <!-- a comment between records -->
      <Row/>
      <Row><名称>戊</名称><地址></地址></Row>
    </Rows>"""
    with open_source(write(tmp_path, "p.xml", xml)) as source:
        table = read_all(source, batch_rows=2)
        errors = [tuple(e) for e in source.row_errors]
    assert errors == [
        (2, "第2行字段“地址”：字段中含有子元素，不能作为单一字段值读取，请将其展开为单独的字段"),
        (3, "第3行字段“名称”：同一条记录中出现了多次，只读取第一个"),
        (4, "第4行：记录元素中有不属于任何字段的文本"),
        (5, "第5行：记录元素中有不属于任何字段的文本"),
    ]
    # The empty record (row 6) is a blank row, left out like one; the rows with errors all stay.
    assert table.to_pydict() == {
        "c0": ["甲", "乙", "只有文字", "丁", "戊"],
        "c1": ["山西 忻州", None, None, None, None],
        "__row__": [2, 3, 4, 5, 7],
    }


@pytest.mark.parametrize(
    ("prolog", "body", "words"),
    [
        (
            '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
            "<r><row><x>&b;</x></row></r>",
            "XML炸弹",
        ),
        ('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "<r><row><x>&x;</x></row></r>", "XXE"),
        ('<!DOCTYPE r SYSTEM "http://203.0.113.9/r.dtd">', "<r><row><x>1</x></row></r>", "外部DTD"),
        ('<!DOCTYPE r PUBLIC "-//X//Y//EN" "r.dtd">', "<r><row><x>1</x></row></r>", "外部DTD"),
        (
            '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://203.0.113.9/p.dtd"> %p;]>',
            "<r><row><x>1</x></row></r>",
            "外部实体",
        ),
        (
            '<!DOCTYPE r [<!ENTITY logo SYSTEM "logo.gif" NDATA gif>]>',
            "<r><row><x>1</x></row></r>",
            "外部实体",
        ),
        (
            "",
            '<r xmlns:xi="http://www.w3.org/2001/XInclude">'
            '<row><x><xi:include href="/etc/passwd"/></x></row></r>',
            "XInclude",
        ),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "external-dtd",
        "public-dtd",
        "parameter-entity",
        "unparsed",
        "xinclude",
    ],
)
def test_unsafe_constructs_are_refused(tmp_path: Path, prolog: str, body: str, words: str) -> None:
    error = refusal(write(tmp_path, "u.xml", f'<?xml version="1.0"?>\n{prolog}\n{body}'))
    assert error.code == "E_XML_UNSAFE"
    assert words in error.message
    assert "root:" not in error.message


def test_an_internal_dtd_without_entities_is_harmless(tmp_path: Path) -> None:
    xml = "<!DOCTYPE r [<!ELEMENT r ANY><!ATTLIST row id CDATA #IMPLIED>]><r><row id='7'><x>1</x></row></r>"
    with open_source(write(tmp_path, "dtd.xml", xml)) as source:
        assert read_all(source).to_pydict() == {"c0": ["7"], "c1": ["1"], "__row__": [2]}


@pytest.mark.parametrize(
    ("xml", "code", "words"),
    [
        ("<r><row><x>1</x></row><row><x>2</x>", "E_CORRUPT", "在中途结束"),
        ("<r>\n<row><x>1</y></row></r>", "E_CORRUPT", "第2行第12列附近XML格式错误：开始标签与结束标签不匹配"),
        ("<r><row><x>&nbsp;</x></row></r>", "E_CORRUPT", "引用了未定义的实体"),
        ("<r><row><x>1</x></row></r><r/>", "E_CORRUPT", "根元素结束后还有多余内容"),
        ("<r></r>", "E_EMPTY", "根元素下没有任何记录"),
        ("<r><row/><row>  </row></r>", "E_NO_HEADER", "都没有字段"),
        ("<r>" + "<a>" * 40 + "</a>" * 40 + "</r>", "E_TOO_DEEP", "超过32层"),
    ],
    ids=["truncated", "mismatched", "undefined-entity", "two-roots", "no-records", "no-fields", "deep"],
)
def test_refusals(tmp_path: Path, xml: str, code: str, words: str) -> None:
    error = refusal(write(tmp_path, "bad.xml", xml))
    assert error.code == code
    assert words in error.message


def test_field_count_and_depth_are_bounded_by_the_limits(tmp_path: Path) -> None:
    wide = write(
        tmp_path, "wide.xml", "<r>" + "".join(f"<row><f{i}>1</f{i}></row>" for i in range(20)) + "</r>"
    )
    error = refusal(wide, limits=ReadLimits(max_columns=10))
    assert (error.code, "超过10个不同的字段名" in error.message) == ("E_TOO_LARGE", True)
    nested = write(tmp_path, "nested.xml", "<r><row><x><y><z>1</z></y></x></row></r>")
    assert refusal(nested, limits=ReadLimits(max_xml_depth=4)).code == "E_TOO_DEEP"


def test_records_are_released_once_read(tmp_path: Path) -> None:
    """Streaming: each record is detached from the tree once read, so the tree never holds the file."""
    path = write(tmp_path, "many.xml", "<r>" + "<row><x>1</x><y>2</y></row>" * 1000 + "</r>")
    reader = XmlRows.open(path, path.name, ReadLimits())
    released: list[weakref.ref[Element]] = []
    for count, record in enumerate(reader._records(), start=1):
        released.append(weakref.ref(record))
        del record
        if count > 2:
            assert released[-3]() is None  # nothing (no parent) keeps an earlier record alive
    assert len(released) == 1000


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("x.csv", '<?xml version="1.0"?><r><row><x>1</x></row></r>', "内容是XML文档"),
        ("x.xls", "<r><row><x>1</x></row></r>", "内容是XML文档"),
        ("x.xml", "名称,金额\n甲,1\n", "内容不是XML数据"),
        ("x.xml", "<!DOCTYPE html><html><body>导出</body></html>", "HTML"),
        (
            "x.xml",
            '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
            "Excel 2003 XML",
        ),
    ],
)
def test_mislabelled_files_are_named_for_what_they_are(
    tmp_path: Path, name: str, data: str, words: str
) -> None:
    error = refusal(write(tmp_path, name, data))
    assert error.code == "E_FORMAT"
    assert words in error.message


def test_xml_without_a_suffix_and_a_csv_header_starting_with_a_bracket(tmp_path: Path) -> None:
    with open_source(write(tmp_path, "export", "<r><row><x>1</x></row></r>")) as source:
        assert source.format == "xml"
    with open_source(write(tmp_path, "angle.csv", "<序号>,名称\n1,甲\n")) as source:
        assert (source.format, source.headers) == ("csv", ["<序号>", "名称"])
