"""A corpus of hostile and broken department files, each driven through the real pipeline (ingest_file on
SQLite and PostgreSQL), each answered with a clear receipt, and no good row lost around the bad ones.

Every case states the whole answer: the receipt's status, the file-level error code (with words its message
must contain), every row error as (row, field, code), and exactly which records were stored. Row errors from
the readers (structure, not content) arrive under the field "（整行）" with code E_ROW_SHAPE; their message
names the column or key.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.drop_folder import DropFolder, Pending, display_name, safe_name
from gateway.ingest import IngestResult, ingest_file, mark_archived
from gateway.intake import ReadLimits
from gateway.intake.source import open_any
from gateway.receipts import FORMULA_LEADS
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record
from tests.hostile import builders as b

DEPARTMENT = "xz_test"
SHAPE = "（整行）"
USCC = "行政相对人代码_1(统一社会信用代码)"
FINE = "罚款金额(万元)"
OPTIONAL = {USCC, "法定代表人", "证件类型", "证件号码", FINE}
REQUIRED_BUT_FIRST = [i for i, h in enumerate(b.HEADERS) if h not in OPTIONAL][1:]
"""Positions of the required template columns except the first: what an unreadable record lacks."""


@dataclass(frozen=True)
class Case:
    id: str
    name: str
    content: Callable[[], bytes]
    status: str
    file_error: str | None = None
    message_has: tuple[str, ...] = ()
    errors: frozenset[tuple[int, str, str]] = frozenset()
    stored: frozenset[str] = frozenset()
    check: Callable[[IngestResult], None] | None = None
    limits: ReadLimits | None = None


def unreadable_record(row: int, names: list[str] = b.HEADERS) -> set[tuple[int, str, str]]:
    """A record the reader could not read, kept as a note in its first column: the reader's error, then
    every other required field is missing. ``names``: the file's names for the template columns."""
    return {(row, SHAPE, "E_ROW_SHAPE")} | {(row, names[i], "E_REQUIRED") for i in REQUIRED_BUT_FIRST}


# ------------------------------------------------------------------------------------------- XML


def billion_laughs() -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return b.xml_bytes(
        [b.xml_record(b.penalty(1), extra="<BZ>&lol9;</BZ>")], prolog=f"<!DOCTYPE Penalties [{entities}]>\n"
    )


def external_entity() -> bytes:
    prolog = '<!DOCTYPE Penalties [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    return b.xml_bytes([b.xml_record(b.penalty(1), extra="<BZ>&xxe;</BZ>")], prolog=prolog)


def no_file_contents(result: IngestResult, marker: bytes) -> None:
    for data in result.receipt.files().values():
        assert marker not in data


def external_dtd() -> bytes:
    prolog = '<!DOCTYPE Penalties SYSTEM "http://203.0.113.9/penalties.dtd">\n'
    return b.xml_bytes([b.xml_record(b.penalty(1))], prolog=prolog)


def parameter_entity() -> bytes:
    prolog = '<!DOCTYPE Penalties [<!ENTITY % remote SYSTEM "http://203.0.113.9/x.dtd"> %remote;]>\n'
    return b.xml_bytes([b.xml_record(b.penalty(1))], prolog=prolog)


def xinclude() -> bytes:
    namespace = 'xmlns:xi="http://www.w3.org/2001/XInclude"'
    include = f'<BZ><xi:include {namespace} href="file:///etc/passwd" parse="text"/></BZ>'
    return b.xml_bytes(
        [b.xml_record(row) for row in b.around([])[:3]] + [b.xml_record(b.penalty(9), extra=include)]
    )


def xml_with_bad_records() -> bytes:
    records = [b.xml_record(row) for row in b.around([b.penalty(9), b.penalty(10), b.penalty(11)])]
    records[8] = b.xml_record(b.penalty(9), extra="<CF_XDR_MC>另一个名称</CF_XDR_MC>")
    records[9] = b.xml_record(b.penalty(10), extra="<BZ><省>山西</省><市>忻州</市></BZ>")
    records[10] = "  <Penalty>只有文字，没有字段</Penalty>\n"
    return b.xml_bytes(records)


def xml_truncated() -> bytes:
    data = b.xml_bytes([b.xml_record(row) for row in b.around([])])
    return data[: len(data) * 2 // 3]


def xml_deep() -> bytes:
    return b.xml_bytes([b.xml_record(b.penalty(1), extra="<BZ>" + "<x>" * 5000 + "</x>" * 5000 + "</BZ>")])


def xml_gbk() -> bytes:
    return b.xml_bytes([b.xml_record(row) for row in b.around([])], encoding="GBK")


# ------------------------------------------------------------------------------------------- JSON


def json_nan_and_nested() -> bytes:
    records = b.json_records(b.around([b.penalty(9), b.penalty(10), b.penalty(11)]))
    records[8][FINE] = float("nan")
    records[9][FINE] = float("inf")
    records[10]["违法事实"] = {"经过": "销售过期食品", "数量": 3}
    return json.dumps(records, ensure_ascii=False).encode()


def json_non_objects() -> bytes:
    return json.dumps(
        [[h for h in b.HEADERS], ["甲", "法人及非法人组织"], 3, "乙"], ensure_ascii=False
    ).encode()


def json_mixed_non_objects() -> bytes:
    records: list[object] = list(b.json_records(b.around([])))
    records[8:8] = [["甲", "法人及非法人组织"], "一条字符串"]
    return json.dumps({"code": 0, "data": records, "total": len(records)}, ensure_ascii=False).encode()


def json_deep() -> bytes:
    records = b.json_records(b.around([]))
    text = json.dumps(records, ensure_ascii=False)
    return (text[:-1] + ', {"BZ": ' + "[" * 100_000 + "]" * 100_000 + "}]").encode()


def json_truncated() -> bytes:
    data = json.dumps(b.json_records(b.around([])), ensure_ascii=False, indent=1).encode()
    return data[: len(data) // 2]


def json_nul_escapes() -> bytes:
    """\u0000 is a legal JSON escape, and PostgreSQL text cannot hold the NUL it decodes to."""
    records = b.json_records(b.around([b.penalty(9)]))
    records[8]["违法事实"] = "销售\u0000过期食品"
    records[9]["\u0000备注"] = "键名里的空字节"
    return json.dumps(records, ensure_ascii=True).encode()


def json_lines_with_broken_line() -> bytes:
    lines = [json.dumps(record, ensure_ascii=False) for record in b.json_records(b.around([b.penalty(9)]))]
    lines[8] = lines[8][: len(lines[8]) // 2]  # a line cut in half, as a crashed exporter leaves it
    return "\n".join(lines).encode()


# ------------------------------------------------------------------------------------------- XLSX


def template_xlsx(rows: list[b.Row]) -> bytes:
    return b.xlsx_bytes([b.cells(row) for row in rows])


def zip_bomb() -> bytes:
    padding = b" " * (8 * 1024 * 1024)  # deflates about 1000:1
    return b.patch_zip(
        template_xlsx(b.around([])),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(b"<sheetData>", b"<sheetData>" + padding),
    )


def xlsx_entity() -> bytes:
    def declare(xml: bytes) -> bytes:
        doctype = b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        return xml.replace(b"<worksheet", doctype + b"<worksheet", 1).replace(b"<v>", b"<v>&b;", 1)

    return b.patch_zip(template_xlsx(b.around([])), "xl/worksheets/sheet1.xml", declare)


def xlsx_truncated() -> bytes:
    data = template_xlsx(b.around([]))
    return data[: len(data) // 2]


def xlsx_id_number_as_number() -> bytes:
    rows = [b.cells(row) for row in b.around([b.person(9)])]
    rows[8][b.HEADERS.index("证件号码")] = (
        110105194912310021  # typed into a number cell: Excel keeps 15 digits
    )
    return b.xlsx_bytes(rows)


# ------------------------------------------------------------------------------------------- CSV


FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1+1)"]


def formula_rows() -> bytes:
    bad = [
        b.penalty(9, **{USCC: FORMULAS[0]}),
        b.penalty(10, **{FINE: FORMULAS[1]}),
        b.penalty(11, **{FINE: FORMULAS[2]}),
        b.penalty(12, **{USCC: FORMULAS[3]}),
    ]
    return b.csv_bytes(b.around(bad, good_after=16))


def receipt_csv_is_neutralised(result: IngestResult) -> None:
    data = result.receipt.to_csv()
    for needle in ("'=CMD|' /C CALC'!A0", "'+1+1", "'-2+3", "'@SUM(1+1)"):
        assert needle.encode() in data
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
        for cell in row:
            assert not cell.startswith(FORMULA_LEADS), cell


def mixed_encodings() -> bytes:
    lines = b.csv_bytes(b.around([])).split(b"\r\n")
    lines[9] = lines[9].decode().encode("gbk")  # one department's row pasted in from an old GBK export
    return b"\r\n".join(lines)


def empty_header_column() -> bytes:
    headers = [*b.HEADERS[:3], "", *b.HEADERS[3:]]
    rows = [{**row, "": "备用列中的内容"} for row in b.around([])]
    return b.csv_bytes(rows, headers=headers)


def too_many_cells() -> bytes:
    lines = b.csv_bytes(b.around([b.penalty(9)])).split(b"\r\n")
    lines[9] += ",多出的单元格".encode()
    return b"\r\n".join(lines)


def truncated_csv() -> bytes:
    data = b.csv_bytes(b.around([]))
    # The upload stopped inside a quoted cell of the last row.
    cut = '忻州市晋北商贸有限公司,法人及非法人组织,91140902MA0K2B3C30,王建国,,,忻市监罚〔2026〕99号,"销售过期'
    return data + cut.encode()


def pii_not_in_receipts(number: str) -> Callable[[IngestResult], None]:
    def check(result: IngestResult) -> None:
        for data in result.receipt.files().values():
            assert number.encode() not in data

    return check


def oversized() -> bytes:
    return b.csv_bytes(b.around([]))


def binary_garbage() -> bytes:
    return random.Random(20261128).randbytes(4096)


GOOD = b.good_decisions(0)

CASES = [
    # --- XML: constructs that are dangerous to parse are refused before anything is expanded or fetched
    Case("xml-billion-laughs", "处罚.xml", billion_laughs, "rejected", "E_XML_UNSAFE", ("XML炸弹",)),
    Case(
        "xml-external-entity",
        "处罚.xml",
        external_entity,
        "rejected",
        "E_XML_UNSAFE",
        ("外部实体", "XXE"),
        check=lambda result: no_file_contents(result, b"root:"),
    ),
    Case("xml-external-dtd", "处罚.xml", external_dtd, "rejected", "E_XML_UNSAFE", ("外部DTD",)),
    Case("xml-parameter-entity", "处罚.xml", parameter_entity, "rejected", "E_XML_UNSAFE", ("外部实体",)),
    Case("xml-xinclude", "处罚.xml", xinclude, "rejected", "E_XML_UNSAFE", ("XInclude",)),
    Case("xml-deep-nesting", "处罚.xml", xml_deep, "rejected", "E_TOO_DEEP", ("嵌套",)),
    Case("xml-truncated", "处罚.xml", xml_truncated, "rejected", "E_CORRUPT", ("中途结束",)),
    Case(
        "xml-repeated-nested-and-text-records",
        "处罚.xml",
        xml_with_bad_records,
        "partial",
        errors=frozenset(
            {(10, SHAPE, "E_ROW_SHAPE"), (11, SHAPE, "E_ROW_SHAPE")} | unreadable_record(12, b.CODES)
        ),
        stored=frozenset(b.good_decisions(3)),
    ),
    Case("xml-declared-gbk", "处罚.xml", xml_gbk, "accepted", stored=frozenset(GOOD)),
    # --- JSON
    Case(
        "json-array-of-non-objects", "处罚.json", json_non_objects, "rejected", "E_FORMAT", ("不是JSON对象",)
    ),
    Case(
        "json-non-objects-among-records",
        "处罚.json",
        json_mixed_non_objects,
        "partial",
        errors=frozenset(unreadable_record(10) | unreadable_record(11)),
        stored=frozenset(GOOD),
    ),
    Case("json-deeply-nested", "处罚.json", json_deep, "rejected", "E_TOO_DEEP", ("嵌套层数过深",)),
    Case("json-truncated", "处罚.json", json_truncated, "rejected", "E_CORRUPT", ("中途结束",)),
    Case(
        "json-nan-infinity-and-nested",
        "处罚.json",
        json_nan_and_nested,
        "partial",
        errors=frozenset(
            {
                (10, SHAPE, "E_ROW_SHAPE"),
                (10, FINE, "E_AMOUNT"),
                (11, SHAPE, "E_ROW_SHAPE"),
                (11, FINE, "E_AMOUNT"),
                (12, SHAPE, "E_ROW_SHAPE"),
            }
        ),
        stored=frozenset(b.good_decisions(3)),
    ),
    Case(
        "json-nul-escapes",
        "处罚.json",
        json_nul_escapes,
        "partial",
        errors=frozenset({(10, "违法事实", "E_CONTROL_CHAR")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case(
        "json-lines-broken-line",
        "处罚.jsonl",
        json_lines_with_broken_line,
        "partial",
        errors=frozenset(unreadable_record(10)),
        stored=frozenset(b.good_decisions(1)),
    ),
    # --- XLSX
    Case("xlsx-zip-bomb", "处罚.xlsx", zip_bomb, "rejected", "E_ZIP_BOMB", ("压缩炸弹",)),
    Case("xlsx-entity-in-sheet-xml", "处罚.xlsx", xlsx_entity, "rejected", "E_XML_UNSAFE", ("DTD",)),
    Case("xlsx-truncated", "处罚.xlsx", xlsx_truncated, "rejected", "E_CORRUPT", ("截断",)),
    Case(
        "xlsx-id-number-typed-as-number",
        "处罚.xlsx",
        xlsx_id_number_as_number,
        "partial",
        errors=frozenset({(10, SHAPE, "E_ROW_SHAPE"), (10, "证件号码", "E_PERSON_ID_NUMBER")}),
        stored=frozenset(b.good_decisions(1)),
        check=pii_not_in_receipts("110105194912310021"),
    ),
    # --- CSV and content
    Case(
        "formula-injection",
        "处罚.csv",
        formula_rows,
        "partial",
        errors=frozenset(
            {(10, USCC, "E_USCC"), (11, FINE, "E_AMOUNT"), (12, FINE, "E_AMOUNT"), (13, USCC, "E_USCC")}
        ),
        stored=frozenset(b.good_decisions(4, good_after=16)),
        check=receipt_csv_is_neutralised,
    ),
    Case(
        "cell-over-field-length",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([b.penalty(9, 违法行为类型="违" * 2001)])),
        "partial",
        errors=frozenset({(10, "违法行为类型", "E_TOO_LONG")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case(
        "cell-over-excel-limit",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([b.penalty(9, 违法事实="实" * 40_000)])),
        "partial",
        errors=frozenset({(10, SHAPE, "E_ROW_SHAPE"), (10, "违法事实", "E_TOO_LONG")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case(
        "control-characters",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([b.penalty(9, 行政相对人名称="忻州\x07商贸\x1b有限公司")])),
        "partial",
        errors=frozenset({(10, "行政相对人名称", "E_CONTROL_CHAR")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case("mixed-encodings", "处罚.csv", mixed_encodings, "rejected", "E_ENCODING", ("第10行", "混用")),
    Case(
        "duplicate-headers",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([]), headers=[*b.HEADERS, "行政处罚决定书文号"]),
        "rejected",
        "E_HEADERS",
        ("表头重复",),
    ),
    Case("empty-header-column", "处罚.csv", empty_header_column, "accepted", stored=frozenset(GOOD)),
    Case("header-only", "处罚.csv", lambda: b.csv_bytes([]), "rejected", "E_NO_ROWS", ("只有表头",)),
    Case("empty-file", "处罚.csv", lambda: b"", "rejected", "E_EMPTY", ("为空",)),
    Case("bom-only", "处罚.csv", lambda: codecs.BOM_UTF8, "rejected", "E_NO_HEADER", ("没有表头",)),
    Case(
        "truncated-csv-unterminated-quote",
        "处罚.csv",
        truncated_csv,
        "partial",
        # The cut row keeps what it had ("销售过期" as 违法行为类型) and is rejected, saying why it is short.
        errors=frozenset(
            {(18, SHAPE, "E_ROW_SHAPE")} | {(18, h, "E_REQUIRED") for h in b.HEADERS[8:] if h != FINE}
        ),
        stored=frozenset(GOOD),
    ),
    Case(
        "pdf-named-csv",
        "处罚.csv",
        lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        "rejected",
        "E_FORMAT",
        ("PDF",),
    ),
    Case(
        "html-named-xls",
        "处罚.xls",
        lambda: "<html><body><table><tr><td>行政相对人名称</td></tr></table></body></html>".encode(),
        "rejected",
        "E_FORMAT",
        ("HTML",),
    ),
    Case("binary-garbage", "处罚.csv", binary_garbage, "rejected", "E_FORMAT", ("二进制",)),
    Case(
        "impossible-dates",
        "处罚.csv",
        lambda: b.csv_bytes(
            [
                b.penalty(n, 处罚决定日期=text)
                for n, text in enumerate(
                    ["2026-02-30", "2026-13-01", "2026-00-10", "0000-01-01", "2025/02/29", "2026年4月31日"], 1
                )
            ]
        ),
        "rejected",
        "E_THRESHOLD",
        ("拒收阈值",),
        errors=frozenset((row, "处罚决定日期", "E_DATE") for row in range(2, 8)),
    ),
    Case(
        "negative-amount",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([b.penalty(9, **{FINE: "-0.5"})])),
        "partial",
        errors=frozenset({(10, FINE, "E_AMOUNT")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case(
        "uscc-illegal-letter",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([b.penalty(9, **{USCC: "91140902MA0K2B3CI0"})])),
        "partial",
        errors=frozenset({(10, USCC, "E_USCC")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case(
        "resident-id-bad-birth-date",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([b.person(9, 证件号码="110105194902310026")])),
        "partial",
        errors=frozenset({(10, "证件号码", "E_PERSON_ID_NUMBER")}),
        stored=frozenset(b.good_decisions(1)),
        check=pii_not_in_receipts("110105194902310026"),
    ),
    Case(
        "natural-person-without-id",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([b.person(9, 证件类型="", 证件号码="")])),
        "partial",
        errors=frozenset({(10, "证件类型", "E_PERSON_ID"), (10, "证件号码", "E_PERSON_ID")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case(
        "fine-without-amount",
        "处罚.csv",
        lambda: b.csv_bytes(b.around([b.penalty(9, **{FINE: ""})])),
        "partial",
        errors=frozenset({(10, FINE, "E_FINE_AMOUNT")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case(
        "more-cells-than-headers",
        "处罚.csv",
        too_many_cells,
        "partial",
        errors=frozenset({(10, SHAPE, "E_ROW_SHAPE")}),
        stored=frozenset(b.good_decisions(1)),
    ),
    Case(
        "far-over-size-limit",
        "处罚.csv",
        oversized,
        "rejected",
        "E_TOO_LARGE",
        ("超过上限",),
        limits=ReadLimits(max_file_bytes=1024),
    ),
]


def stored_decisions(settings: Settings) -> set[str]:
    with engine_for(settings.database_url).connect() as conn:
        keys = conn.execute(select(record.c.natural_key)).scalars().all()
    return {key.split("|", 1)[1] for key in keys}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to fetch a DTD or an entity fails the test (the databases connect through libpq)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_file_gets_a_clear_receipt_and_good_rows_are_kept(
    case: Case,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if case.limits is not None:
        monkeypatch.setattr("gateway.ingest.open_any", functools.partial(open_any, limits=case.limits))
    path = b.write(tmp_path / "inbox", case.name, case.content())
    with caplog.at_level(logging.INFO):
        result = ingest_file(settings, path, DEPARTMENT)
    receipt = result.receipt

    assert receipt.status == case.status
    assert result.outcome == ("rejected" if case.status == "rejected" else "processed")
    if case.file_error is None:
        assert receipt.file_error is None
    else:
        assert receipt.file_error is not None and receipt.file_error["code"] == case.file_error
        for words in case.message_has:
            assert words in receipt.file_error["message"]
    assert {(e["row"], e["field"], e["code"]) for e in receipt.errors} == case.errors
    assert stored_decisions(settings) == case.stored
    assert receipt.rows == receipt.accepted + receipt.rejected
    if case.status != "rejected":
        assert receipt.accepted == len(case.stored) and receipt.new == len(case.stored)
    # Every receipt renders, in all three forms, and none of them or the log leaks the person's ID.
    rendered = receipt.files()
    assert set(rendered) == {".receipt.json", ".receipt.csv", ".receipt.txt"}
    assert b.PERSON_ID.encode() not in b"".join(rendered.values())
    assert b.PERSON_ID not in caplog.text
    if case.check is not None:
        case.check(result)


def test_the_corpus_covers_at_least_thirty_kinds() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 30


# ------------------------------------------------------------------------------ names in the drop folder

NAMES = {
    "parent-traversal": "../../../etc/cron.d/处罚.csv",
    "windows-traversal": "..\\..\\Windows\\System32\\处罚.csv",
    "absolute-path": "/etc/passwd",
    "nul-byte": "处罚.csv\x00.exe",
    "control-characters": "处\x1b[31m罚\r\n.csv",
    "bidi-override": "处罚\u202evsc.exe",
    "300-characters": "忻州市行政处罚信息" * 33 + "x.csv",
    "reserved-device-name": "CON.csv",
    "only-dots": "...",
    "trailing-dots-and-spaces": "处罚.csv. . ",
}
ON_DISK = {
    "control-characters",
    "bidi-override",
    "reserved-device-name",
    "trailing-dots-and-spaces",
}
"""Names Linux can hold and pending() takes; these are dropped as a department would drop them. The others (a
slash, a NUL, over 255 bytes, or a leading dot, which pending() leaves alone as a hidden or temporary file)
can only reach finish() as a name decoded by some other connector, so they are handed to finish() directly."""


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("kind", list(NAMES), ids=list(NAMES))
def test_hostile_file_names_are_archived_inside_the_department_folder(
    kind: str, settings: Settings, tmp_path: Path
) -> None:
    raw = NAMES[kind]
    # An hour on the clock lets every file settle; a dot-file waits out its own, longer grace.
    zone = DropFolder(
        settings.dropzone,
        settle_seconds=0,
        probe_seconds=0,
        temp_grace_seconds=7200,
        clock=lambda: time.time() + 3600,
    )
    inbox = zone.ensure(DEPARTMENT) / "inbox"
    data = b.csv_bytes(b.around([b.penalty(9, **{FINE: ""})]))
    if kind in ON_DISK:
        (inbox / raw).write_bytes(data)
        [pending] = zone.pending(DEPARTMENT)
    else:
        path = inbox / "upload.csv"
        path.write_bytes(data)
        info = path.lstat()
        # A Pending's name is a display name by contract; display_name() is how every connector makes one.
        pending = Pending(path, display_name(raw), info.st_size, info.st_mtime, info.st_dev, info.st_ino)
    if kind == "only-dots":
        (inbox / "...").write_bytes(b"x")
        # a dot-file is left alone during its grace period (logged, receipted after it)
        assert [item.name for item in zone.pending(DEPARTMENT)] == ["upload.csv"]

    result = ingest_file(settings, pending.path, DEPARTMENT, display_name=pending.name)
    assert (result.receipt.status, result.receipt.accepted, result.receipt.rejected) == ("partial", 16, 1)
    assert result.receipt.file.isprintable()
    archived = zone.finish(pending, DEPARTMENT, result.outcome, result.receipt.sha256, result.receipt.files())
    assert result.source_file_id is not None
    mark_archived(settings, result.source_file_id, archived)

    department = settings.dropzone / DEPARTMENT
    assert archived.parent.parent == department / "processed"
    assert archived.name == f"{result.receipt.sha256[:12]}-{safe_name(pending.name)}"
    assert len(archived.name.encode()) <= 255 and not archived.name.startswith(".")
    assert all(char.isprintable() for char in archived.name)
    assert archived.read_bytes() == data
    written = {p.relative_to(settings.dropzone) for p in settings.dropzone.rglob("*") if p.is_file()}
    expected = {archived.relative_to(settings.dropzone)} | {
        (archived.parent / f"{archived.name}{suffix}").relative_to(settings.dropzone)
        for suffix in (".receipt.json", ".receipt.csv", ".receipt.txt")
    }
    leftover = {Path(DEPARTMENT, "inbox", "...")} if kind == "only-dots" else set()
    assert written == expected | leftover
    stored = json.loads((archived.parent / f"{archived.name}.receipt.json").read_bytes())
    assert (stored["status"], stored["errors"][0]["code"]) == ("partial", "E_FINE_AMOUNT")
