"""Department exports as they really come, through ingest_file on SQLite and PostgreSQL: nothing that is not
a record is stored or sent, nothing is skipped without the receipt saying so."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.ingest import ingest_file
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record
from tests import real_exports as x
from tests.hostile import builders as b


def stored(settings: Settings) -> set[str]:
    """The natural keys stored (issuing authority's USCC and decision number)."""
    with engine_for(settings.database_url).connect() as conn:
        return {key.split("|")[-1] for key in conn.execute(select(record.c.natural_key)).scalars()}


def test_example_note_and_footer_rows_of_a_csv_are_skipped_and_listed(
    settings: Settings, tmp_path: Path
) -> None:
    good = [b.penalty(n) for n in range(1, 4)]
    body = [
        x.MARKERS,  # row 2: the template's 必填/选填 row
        *x.rows_of([x.EXAMPLE]),  # row 3
        x.NOTE,  # row 4
        *x.rows_of(good),  # rows 5-7
        *x.FOOTERS,  # rows 8-10
    ]
    path = b.write(tmp_path, "处罚.csv", x.csv_export(body))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.status, receipt.rows, receipt.accepted, receipt.rejected) == ("accepted", 3, 3, 0)
    assert [(r["row"], r["kind"]) for r in receipt.skipped_rows] == [
        (2, "note"),
        (3, "example"),
        (4, "note"),
        (8, "footer"),
        (9, "footer"),
        (10, "footer"),
    ]
    assert receipt.skipped == 6
    assert stored(settings) == {b.decision(n) for n in range(1, 4)}
    assert x.EXAMPLE["行政处罚决定书文号"] not in stored(
        settings
    )  # an example row never reaches the province


def test_skipped_rows_do_not_count_towards_the_threshold(settings: Settings, tmp_path: Path) -> None:
    """Four good rows and one bad: 20 %, at the threshold. Six footer rows must not make it 1 in 11."""
    body = [*x.rows_of([b.penalty(n) for n in range(1, 5)]), *x.rows_of([b.penalty(5, 处罚决定日期="昨天")])]
    body += [*x.FOOTERS, *x.FOOTERS]
    path = b.write(tmp_path, "处罚.csv", x.csv_export(body))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.status, receipt.rows, receipt.rejected, receipt.skipped) == ("partial", 5, 1, 6)


def test_an_xlsx_example_row_is_skipped_even_when_valid(settings: Settings, tmp_path: Path) -> None:
    body = [*x.rows_of([x.EXAMPLE]), *x.rows_of([b.penalty(n) for n in range(1, 3)]), *x.FOOTERS]
    path = b.write(tmp_path, "处罚.xlsx", x.xlsx(x.workbook(("行政处罚", body))))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.status, receipt.rows, receipt.accepted) == ("accepted", 2, 2)
    assert [(r["row"], r["kind"], r["text"]) for r in receipt.skipped_rows][:1] == [
        (2, "example", "示例：忻州市XX有限公司")
    ]
    assert stored(settings) == {b.decision(1), b.decision(2)}


# ------------------------------------------------------------------------------------------------ units
FINE_YUAN = "罚款金额(元)"


def payloads(settings: Settings) -> dict[str, dict[str, str]]:
    """Stored content by decision number."""
    import json

    from gateway.store.tables import CURRENT_VERSION, record_version

    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            select(record_version.c.payload).select_from(record.join(record_version, CURRENT_VERSION))
        )
        found = [json.loads(payload) for (payload,) in rows]
    return {p["CF_WSH"]: p for p in found}


def test_a_header_in_yuan_is_converted_to_wanyuan_exactly_and_said(
    settings: Settings, tmp_path: Path
) -> None:
    headers = [FINE_YUAN if h == b.HEADERS[12] else h for h in b.HEADERS]
    rows = [b.penalty(1, **{b.HEADERS[12]: "5000"}), b.penalty(2, **{b.HEADERS[12]: "1,234.56"})]
    body = [[row[h] for h in b.HEADERS] for row in rows]
    path = b.write(tmp_path, "处罚.csv", x.csv_export(body, headers=headers))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.status, receipt.accepted) == ("accepted", 2)
    fines = {key: p["CF_NR_FK"] for key, p in payloads(settings).items()}
    assert fines == {b.decision(1): "0.5", b.decision(2): "0.123456"}
    assert any(f"列「{FINE_YUAN}」的表头写明单位为元" in w for w in receipt.warnings)


def test_amounts_evidently_in_yuan_under_a_wanyuan_header_are_refused(
    settings: Settings, tmp_path: Path
) -> None:
    fine = b.HEADERS[12]  # 罚款金额(万元)
    bad = [
        b.penalty(9, **{fine: "5000", "处罚内容": "罚款人民币5000元"}),  # as the text states it, in 元
        b.penalty(10, **{fine: "200", "处罚内容": "警告，并处罚款200元"}),  # under the bound: the text tells
        b.penalty(11, **{fine: "3000"}),  # 3000 万元 = 3000 万: above the plausibility bound
    ]
    fine_ok = b.penalty(99, **{fine: "0.5", "处罚内容": "罚款人民币5000元"})  # 0.5 万元 is 5000 元: right
    rows = [*b.around(bad, good_after=12), fine_ok]
    path = b.write(tmp_path, "处罚.csv", b.csv_bytes(rows))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert receipt.status == "partial"
    assert {(e["row"], e["field"], e["code"]) for e in receipt.errors} == {
        (10, fine, "E_AMOUNT_UNIT"),
        (11, fine, "E_AMOUNT_UNIT"),
        (12, fine, "E_AMOUNT_UNIT"),
    }
    messages = {e["row"]: str(e["message"]) for e in receipt.errors}
    assert "应以万元为单位" in messages[10] and "5000元" in messages[10]
    assert "超过合理上限 1000 万元" in messages[12]
    assert payloads(settings)[b.decision(99)]["CF_NR_FK"] == "0.5"


def test_a_header_whose_unit_contradicts_the_mapping_refuses_the_file(
    settings: Settings, tmp_path: Path
) -> None:
    """A department's mapping reads its fine column as 元; a file whose header says 万元 is not guessed at."""
    import shutil

    from tests.paths import REPO_ROOT

    mappings = tmp_path / "mappings"
    shutil.copytree(REPO_ROOT / "mappings", mappings)
    own = (mappings / "xz_ecology_penalty.yaml").read_text(encoding="utf-8")
    own = own.replace("from: 罚款金额（元）", "from: [罚款金额（元）, 罚款金额, 罚款金额（万元）]")
    (mappings / "xz_ecology_penalty.yaml").write_text(own, encoding="utf-8")
    sample = (REPO_ROOT / "samples/inbox/xz_ecology/环境行政处罚台账.csv").read_text(encoding="utf-8-sig")
    path = b.write(
        tmp_path, "台账.csv", sample.replace("罚款金额（元）", "罚款金额（万元）", 1).encode("utf-8-sig")
    )
    receipt = ingest_file(settings.with_overrides(mappings_dir=mappings), path, "xz_ecology").receipt
    assert receipt.status == "rejected" and receipt.file_error is not None
    assert receipt.file_error["code"] == "E_HEADERS"
    assert "表头写明单位为万元" in receipt.file_error["message"]


# ------------------------------------------------------------------------------------------ workbooks
def test_every_sheet_is_looked_at_and_each_record_sheet_arrives(settings: Settings, tmp_path: Path) -> None:
    """Instructions first, licences, penalties (a bad row), a hidden code list, a sheet of something else."""
    book = x.workbook()
    book.create_sheet("填报说明").append(["1. 带*的列为必填项", "2. 日期格式 YYYY-MM-DD"])
    licence_headers, licences = x.licence_sheet()
    x.sheet_with(book, "行政许可", licences, headers=licence_headers)
    penalties = [
        *x.rows_of([b.penalty(n) for n in range(1, 5)]),
        *x.rows_of([b.penalty(5, 处罚决定日期="下周")]),
    ]
    x.sheet_with(book, "行政处罚", penalties, title_row=x.TITLE)
    codes = book.create_sheet("字典")
    codes.append(["法人及非法人组织"])
    codes.sheet_state = "hidden"
    x.sheet_with(book, "统计", [["合计", "5"]], headers=["类别", "件数"])
    path = b.write(tmp_path, "2026年11月双公示.xlsx", x.xlsx(book))

    receipt = ingest_file(settings, path, "xz_test").receipt
    assert receipt.status == "partial"
    parts = {p["sheet"]: p for p in receipt.parts}
    assert set(parts) == {"行政许可", "行政处罚", "统计"}
    assert (parts["行政许可"]["status"], parts["行政许可"]["record_type"]) == ("partial", "admin_license")
    assert (parts["行政处罚"]["rows"], parts["行政处罚"]["accepted"], parts["行政处罚"]["header_row"]) == (
        5,
        4,
        2,
    )
    assert parts["统计"]["status"] == "rejected" and "第 1 行" in str(parts["统计"]["file_error"])
    assert [(s["sheet"], "隐藏" in s["reason"] or "说明" in s["reason"]) for s in receipt.skipped_sheets] == [
        ("填报说明", True),
        ("字典", True),
    ]
    bad = [(e["sheet"], e["row"], e["code"]) for e in receipt.errors if e["sheet"] == "行政处罚"]
    assert bad == [("行政处罚", 7, "E_DATE")]  # row 7 of the sheet: title, header, four good rows
    assert {b.decision(n) for n in range(1, 5)} <= stored(settings)
    assert any(key.startswith("忻交运许") for key in stored(settings))  # the licences arrived too


def test_a_two_row_header_under_a_title_is_found_and_combined(settings: Settings, tmp_path: Path) -> None:
    book = x.workbook()
    x.two_row_header_sheet(book, "Sheet1", [b.penalty(n) for n in range(1, 4)])
    path = b.write(tmp_path, "处罚.xlsx", x.xlsx(book))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.status, receipt.accepted, receipt.header_row, receipt.header_rows) == (
        "accepted",
        3,
        2,
        2,
    )
    assert any("表头位于第 2 行至第 3 行" in w for w in receipt.warnings)
    assert stored(settings) == {b.decision(n) for n in range(1, 4)}


def test_an_unrecognised_sheet_names_the_row_and_the_closest_template(
    settings: Settings, tmp_path: Path
) -> None:
    headers = [h for h in b.HEADERS if h != "行政处罚决定书文号"]
    body = [[row[h] for h in headers] for row in [b.penalty(1)]]
    path = b.write(
        tmp_path, "处罚.xlsx", x.xlsx(x.workbook(("处罚", body), headers=headers, title_row=x.TITLE))
    )
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert receipt.status == "rejected" and receipt.file_error is not None
    message = receipt.file_error["message"]
    assert "第 2 行" in message and "行政处罚" in message and "行政处罚决定书文号" in message


def test_an_xls_from_an_old_case_system_is_read(settings: Settings, tmp_path: Path) -> None:
    records = [b.penalty(n) for n in range(1, 4)]
    path = b.write(tmp_path, "处罚.xls", x.xls(records, title_row=x.TITLE))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.format, receipt.status, receipt.accepted, receipt.header_row) == ("xls", "accepted", 3, 2)
    assert {p["CF_NR_FK"] for p in payloads(settings).values()} == {"0.5"}


def test_an_ods_is_read(settings: Settings, tmp_path: Path) -> None:
    path = b.write(tmp_path, "处罚.ods", x.ods([b.penalty(n) for n in range(1, 3)]))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.format, receipt.status, receipt.accepted) == ("ods", "accepted", 2)


def test_a_password_protected_workbook_gets_a_clear_receipt(settings: Settings, tmp_path: Path) -> None:
    data = x.xlsx(x.workbook(("行政处罚", x.rows_of([b.penalty(1)]))))
    path = b.write(tmp_path, "处罚.xlsx", x.encrypted(data))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert receipt.status == "rejected" and receipt.file_error is not None
    assert receipt.file_error["code"] == "E_PASSWORD" and "密码" in receipt.file_error["message"]


def test_a_crash_between_sheets_loses_and_repeats_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.workbook_ingest as flow

    first = x.rows_of([b.penalty(n) for n in range(1, 3)])
    second = x.rows_of([b.penalty(n) for n in range(3, 5)])
    path = b.write(tmp_path, "处罚.xlsx", x.xlsx(x.workbook(("10月", first), ("11月", second))))
    real = flow.process_rows

    def dies_on_the_second(*args: object, **kwargs: object) -> object:
        if kwargs.get("part") == "11月":
            raise RuntimeError("killed")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(flow, "process_rows", dies_on_the_second)
    with pytest.raises(RuntimeError, match="killed"):
        ingest_file(settings, path, "xz_test")
    assert stored(settings) == {b.decision(1), b.decision(2)}
    monkeypatch.setattr(flow, "process_rows", real)
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.status, receipt.rows, receipt.new) == ("accepted", 4, 4)
    assert [p["sheet"] for p in receipt.parts] == ["10月", "11月"]
    assert stored(settings) == {b.decision(n) for n in range(1, 5)}
    again = ingest_file(settings, path, "xz_test")  # not yet archived: the same receipt is issued again
    assert again.replayed and again.receipt.parts == receipt.parts


# ---------------------------------------------------------------------------------------- early stop
def test_a_file_of_broken_rows_is_refused_without_reading_it_all(settings: Settings, tmp_path: Path) -> None:
    """A template header over 200,000 one-cell rows: once the share of bad rows cannot fall under the
    threshold whatever the rest of the file holds, reading stops and the file is refused."""
    body = "\r\n".join(["x"] * 200_000)
    path = b.write(tmp_path, "坏.csv", x.csv_export([]) + body.encode())
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert receipt.status == "rejected" and receipt.file_error is not None
    assert receipt.file_error["code"] == "E_THRESHOLD" and "停止读取" in receipt.file_error["message"]
    assert 1000 <= receipt.rows < 200_000
    assert stored(settings) == set()


# ------------------------------------------------------------------------------------------ csv headers
def test_a_csv_header_below_a_title_and_blank_rows_is_found(settings: Settings, tmp_path: Path) -> None:
    """As Excel saves a sheet with a merged title as CSV: the title alone, then commas."""
    above = [[x.TITLE] + [""] * (len(b.HEADERS) - 1), [], ["填报单位：忻州市市场监督管理局"]]
    body = x.rows_of([b.penalty(1), b.penalty(2, 处罚决定日期="下周"), *[b.penalty(n) for n in range(3, 9)]])
    receipt = ingest_file(
        settings, b.write(tmp_path, "处罚.csv", x.csv_export(body, above=above)), "xz_test"
    ).receipt
    assert (receipt.status, receipt.header_row, receipt.accepted) == ("partial", 4, 7)
    assert [(e["row"], e["code"]) for e in receipt.errors] == [(6, "E_DATE")]  # the file's own row numbers
    assert any("表头位于第 4 行" in w for w in receipt.warnings)


def test_a_tab_separated_export_with_a_title_line_is_read(settings: Settings, tmp_path: Path) -> None:
    lines = [
        x.TITLE,
        "\t".join(b.HEADERS),
        *("\t".join(row) for row in x.rows_of([b.penalty(1), b.penalty(2)])),
    ]
    path = b.write(tmp_path, "处罚.txt", ("\r\n".join(lines) + "\r\n").encode("gbk"))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.status, receipt.header_row, receipt.accepted, receipt.encoding) == (
        "accepted",
        2,
        2,
        "gbk",
    )


def test_a_csv_with_a_two_row_header_is_combined(settings: Settings, tmp_path: Path) -> None:
    singles = [h for h in b.HEADERS if h != b.HEADERS[2]]
    upper = [singles[0], singles[1], "行政相对人代码", "", "", *singles[2:]]
    lower = ["", "", *x.SUBJECT_CODES, *[""] * (len(singles) - 2)]
    body = [[v[0], v[1], v[2], "", "", *v[3:]] for v in x.rows_of([b.penalty(n) for n in range(1, 4)])]
    path = b.write(tmp_path, "处罚.csv", x.csv_export(body, above=[upper], headers=lower))
    receipt = ingest_file(settings, path, "xz_test").receipt
    assert (receipt.status, receipt.header_row, receipt.header_rows, receipt.accepted) == (
        "accepted",
        1,
        2,
        3,
    )
