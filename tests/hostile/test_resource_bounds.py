"""Inputs that cost memory or CPU out of all proportion to their size (issue #10): each ends in a clear
refusal or receipt, never a crash, a hang or a process grown to gigabytes.

The big reads run in a child process whose address space is capped (RLIMIT_AS, 1.5 GiB): an input that
escapes its bound fails the child, not this test run (calamine, for one, aborts the whole process when an
allocation fails). The child reports its own peak resident memory (VmHWM); nothing here is timed, since
the figures for time are bench/hostile.py's.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from gateway.ingest import ingest_file
from gateway.intake import DEFAULT_LIMITS, ReadLimits, open_source
from gateway.intake.xlsx_budget import SharedStrings, _measure_shared_strings, _slow, measure_sheet
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record
from tests.hostile import builders as b

DEPARTMENT = "xz_test"
SHAPE = "（整行）"
CAP_BYTES = 3 * 2**29  # 1.5 GiB of address space
MB = 1_000_000

_CHILD = r"""
import json, resource, sys
from pathlib import Path

spec = json.loads(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (spec["cap"], spec["cap"]))
from gateway.intake import ReadError, ReadLimits, open_source

out = {}
try:
    with open_source(Path(spec["path"]), limits=ReadLimits(**spec["limits"])) as source:
        rows = 0
        for batch in source.batches():
            rows += batch.num_rows
        out.update(
            rows=rows,
            row_error_count=source.row_error_count,
            bad_row_count=source.bad_row_count,
            errors=[list(error) for error in source.row_errors],
        )
except ReadError as exc:
    out.update(code=exc.code, message=exc.message)
status = Path("/proc/self/status").read_text()
out["peak_mib"] = int(status.split("VmHWM:")[1].split("kB")[0]) // 1024
print(json.dumps(out, ensure_ascii=False))
"""


def read_capped(path: Path, **limits: int) -> dict[str, Any]:
    """open_source + every batch, in a child capped at 1.5 GiB: what it read or the refusal, and its peak."""
    spec = {"path": str(path), "cap": CAP_BYTES, "limits": limits}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"the child failed ({done.returncode}): {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["peak_mib"] < CAP_BYTES // 2**20
    return result


def refused(result: dict[str, Any], code: str, *words: str) -> None:
    assert result.get("code") == code, result
    for word in words:
        assert word in result["message"], (word, result["message"])


def stored_decisions(settings: Settings) -> set[str]:
    with engine_for(settings.database_url).connect() as conn:
        keys = conn.execute(select(record.c.natural_key)).scalars().all()
    return {key.split("|", 1)[1] for key in keys}


# ------------------------------------------------------------------------------------------------- CSV


def test_millions_of_one_cell_rows_are_refused_once_past_the_ragged_row_cap(tmp_path: Path) -> None:
    path = b.one_cell_rows_csv(tmp_path / "处罚.csv", 2_000_000, good=8)
    result = read_capped(path, max_ragged_rows=200_000)
    refused(result, "E_TOO_LARGE", "处罚.csv", "第10行起", "200000行", "19列")
    assert result["peak_mib"] < 600


def test_ragged_rows_under_the_cap_are_all_delivered_and_the_kept_errors_are_bounded(tmp_path: Path) -> None:
    """150,000 rows with a cell too many: every row and every error arrives, the list keeps a sample."""
    extra = b.csv_bytes([b.penalty(9)]).split(b"\r\n", 1)[1].rstrip(b"\r\n") + ",多出的单元格\r\n".encode()
    path = b.write_pieces(tmp_path / "多列.csv", [(b.csv_bytes(b.around([])[:8]), 1), (extra, 150_000)])
    rows = delivered = 0
    with open_source(path) as source:
        for batch in source.batches(16_384):
            numbers = set(batch.column("__row__").to_pylist())
            assert {error.row for error in source.batch_errors} <= numbers
            rows += batch.num_rows
            delivered += len(source.batch_errors)
        assert (rows, delivered) == (150_008, 150_000)
        assert (source.row_error_count, source.bad_row_count) == (150_000, 150_000)
        assert len(source.row_errors) == DEFAULT_LIMITS.max_kept_row_errors
        assert source.row_errors[0] == (10, "第10行：单元格数量(20)多于表头(19)")


@pytest.mark.parametrize("quoted", [False, True], ids=["no-newline", "unclosed-quote"])
def test_a_hundred_megabyte_record_is_refused_naming_row_and_limits(tmp_path: Path, quoted: bool) -> None:
    path = b.long_line_csv(tmp_path / "处罚.csv", 100 * MB, quoted=quoted, good=8)
    result = read_capped(path)
    refused(result, "E_TOO_LARGE", "处罚.csv", "第10行", "4194304字节", "32767个字符")
    assert result["peak_mib"] < 400


def test_a_header_of_fifty_million_cells_is_refused_before_it_is_split(tmp_path: Path) -> None:
    path = b.write_pieces(tmp_path / "处罚.csv", [(b"a,", 50_000_000), (b"\r\nx\r\n", 1)])
    result = read_capped(path)
    refused(result, "E_TOO_LARGE", "处罚.csv", "表头", "4194304字节")
    assert result["peak_mib"] < 400


def test_a_short_row_with_a_cell_over_csv_field_limit_is_read(tmp_path: Path) -> None:
    """Python's csv refuses fields over 128 KiB by default; a short quoted row with a 200 KB cell used to
    escape as csv.Error instead of becoming a row error."""
    text = b.csv_bytes(b.around([])[:8]) + ('甲,"' + "长" * 200_000 + '"\r\n').encode()
    with open_source(b.write(tmp_path, "长.csv", text)) as source:
        rows = sum(batch.num_rows for batch in source.batches())
        errors = [tuple(error) for error in source.row_errors]
    assert rows == 9
    assert errors == [
        (
            10,
            "第10行第2列（行政相对人类别）：单元格内容过长（200000个字符，上限32767），已截断，可能是引号未闭合",
        )
    ]


def test_many_bad_rows_all_reach_the_receipt(settings: Settings, tmp_path: Path) -> None:
    """More reader errors than SourceFile keeps: every bad row is still rejected, with its row number."""
    good = [b.penalty(n) for n in range(1, 12_001)]
    bad = b.csv_bytes([b.penalty(n) for n in range(12_001, 13_501)]).split(b"\r\n")[1:-1]
    data = b.csv_bytes(good) + b"".join(line + ",多出的单元格\r\n".encode() for line in bad)
    result = ingest_file(settings, b.write(tmp_path / "inbox", "处罚.csv", data), DEPARTMENT)
    receipt = result.receipt
    assert (receipt.status, receipt.rows, receipt.accepted, receipt.rejected) == (
        "partial",
        13_500,
        12_000,
        1_500,
    )
    shape = {error["row"] for error in receipt.errors if error["code"] == "E_ROW_SHAPE"}
    assert shape == set(range(12_002, 13_502))
    assert len(stored_decisions(settings)) == 12_000


# ------------------------------------------------------------------------------------------------- XML


def test_a_hundred_megabyte_attribute_is_refused_before_expat_reparses_it(tmp_path: Path) -> None:
    path = b.xml_long_value(tmp_path / "处罚.xml", 100 * MB, attribute=True)
    result = read_capped(path)
    refused(result, "E_TOO_LARGE", "处罚.xml", "第10行", "1048576字节")
    assert result["peak_mib"] < 400


def test_an_attribute_over_the_cell_limit_is_a_row_error(tmp_path: Path) -> None:
    result = read_capped(b.xml_long_value(tmp_path / "处罚.xml", 900_000, attribute=True))
    assert (result["rows"], result["row_error_count"]) == (17, 1)
    assert result["errors"][0][0] == 10 and "900000个字符" in result["errors"][0][1]


def test_a_hundred_megabyte_text_costs_its_row_not_the_file(tmp_path: Path) -> None:
    result = read_capped(b.xml_long_value(tmp_path / "处罚.xml", 100 * MB, attribute=False))
    assert (result["rows"], result["row_error_count"]) == (17, 1)
    assert result["errors"] == [
        [10, "第10行字段“CF_WFXW”：单元格内容过长（100000000个字符，上限32767），已截断"]
    ]
    assert result["peak_mib"] < 400


def test_long_xml_text_gets_a_partial_receipt_and_the_good_rows_are_stored(
    settings: Settings, tmp_path: Path
) -> None:
    path = b.xml_long_value(tmp_path / "inbox" / "处罚.xml", 20 * MB, attribute=False)
    receipt = ingest_file(settings, path, DEPARTMENT).receipt
    assert (receipt.status, receipt.rows, receipt.rejected) == ("partial", 17, 1)
    assert {(e["row"], e["code"]) for e in receipt.errors} >= {(10, "E_ROW_SHAPE")}
    assert {e["row"] for e in receipt.errors} == {10}
    assert stored_decisions(settings) == b.good_decisions(1)


# ------------------------------------------------------------------------------------------------ XLSX


def test_a_shared_string_bomb_is_refused_before_calamine_loads_it(tmp_path: Path) -> None:
    """A 0.9 MB workbook whose 475,000 cells all name one 32,000-character string: some 45 GB once read."""
    path = b.shared_string_bomb_xlsx(tmp_path / "处罚.xlsx", 25_000)
    assert path.stat().st_size < 2 * MB
    result = read_capped(path)
    refused(result, "E_TOO_LARGE", "处罚.xlsx", "工作表“行政处罚”", "共享字符串", "268435456字节")
    assert result["peak_mib"] < 400


def test_two_cells_far_apart_are_refused_before_calamine_allocates_the_range(tmp_path: Path) -> None:
    result = read_capped(b.far_corner_xlsx(tmp_path / "处罚.xlsx"))
    refused(result, "E_TOO_LARGE", "工作表“行政处罚”", "A1到XFD1048576", "25000000")


def _odd_bomb(write: b.Write, rows: int, cell: str) -> None:
    write(b.xlsx_row(1, b.HEADERS))
    for row in range(2, rows + 2):
        write(f'<row r="{row}">'.encode() + (cell * len(b.HEADERS)).encode() + b"</row>")


@pytest.mark.parametrize(
    "cell",
    ['<c t="s"><v>0</v></c>', '<x:c xmlns:x="urn:x" t="s"><x:v>0</x:v></x:c>', "<c t = 's' ><v> 0 </v></c>"],
    ids=["no-reference", "prefixed", "spaced-attributes"],
)
def test_bombs_in_unusual_markup_are_measured_by_the_slow_path(tmp_path: Path, cell: str) -> None:
    path = b.write_xlsx(tmp_path / "处罚.xlsx", ["违" * 32_000], lambda write: _odd_bomb(write, 5_000, cell))
    refused(read_capped(path), "E_TOO_LARGE", "工作表“行政处罚”", "共享字符串")


def test_a_bomb_that_hides_its_reach_is_refused_too(tmp_path: Path) -> None:
    """A far cell without a reference, placed by counting: <row r> then cells in order."""

    def fill(write: b.Write) -> None:
        write(b.xlsx_row(1, b.HEADERS))
        write(b'<row r="1048576">' + b'<c t="s"><v>0</v></c>' * 30 + b"</row>")

    path = b.write_xlsx(tmp_path / "处罚.xlsx", ["备注"], fill)
    refused(read_capped(path, max_sheet_cells=1_000_000), "E_TOO_LARGE", "从A1到", "1048576", "上限1000000个")


def test_fast_and_slow_paths_agree_on_an_ordinary_sheet(tmp_path: Path) -> None:
    rows = [b.cells(row) for row in b.around([b.penalty(9)], good_after=300)]
    path = b.write(tmp_path, "处罚.xlsx", b.xlsx_bytes(rows))
    shared = ["行政处罚", "忻州市市场监督管理局" * 40, "罚款"]

    def fill(write: b.Write) -> None:
        write(b.xlsx_row(1, b.HEADERS))
        for row in range(2, 2002):
            cells = "".join(
                f'<c r="{b.xlsx_letters(i)}{row}" t="s"><v>{(row + i) % 3}</v></c>' for i in range(19)
            )
            write(f'<row r="{row}">{cells}</row>'.encode())

    shared_path = b.write_xlsx(tmp_path / "共享.xlsx", shared, fill)
    for workbook in (path, shared_path):
        with zipfile.ZipFile(workbook) as archive:
            table = (
                archive.getinfo("xl/sharedStrings.xml")
                if "xl/sharedStrings.xml" in archive.namelist()
                else None
            )
            strings = _measure_shared_strings(archive, table, "x") if table else SharedStrings()
            sheet = archive.getinfo("xl/worksheets/sheet1.xml")
            fast = measure_sheet(archive, sheet, strings, DEFAULT_LIMITS, "x")
            slow = _slow(archive, sheet, strings, DEFAULT_LIMITS, "x")
        assert not fast.exact and (fast.first, fast.last) == (slow.first, slow.last)
        assert fast.text_bytes >= slow.text_bytes
    assert slow.last == (2000, 18) and slow.text_bytes >= sum(len(text.encode()) for text in shared) * 12_000


def test_an_ordinary_workbook_still_reads(tmp_path: Path) -> None:
    rows = [b.cells(row) for row in b.around([])]
    with open_source(b.write(tmp_path, "处罚.xlsx", b.xlsx_bytes(rows))) as source:
        table = pa.Table.from_batches(list(source.batches()), schema=source.schema)
    assert table.num_rows == 16


# ------------------------------------------------------------------------------------------------ JSON


def test_a_hundred_megabyte_json_string_is_refused_naming_the_record(tmp_path: Path) -> None:
    result = read_capped(b.json_long_string(tmp_path / "处罚.json", 100 * MB))
    refused(result, "E_TOO_LARGE", "处罚.json", "第10行", "16777216个字符")
    assert result["peak_mib"] < 600


def test_json_nested_a_hundred_thousand_levels_is_refused(tmp_path: Path) -> None:
    refused(read_capped(b.json_nested(tmp_path / "处罚.json", 100_000)), "E_TOO_DEEP", "处罚.json", "嵌套")


def test_blank_lines_before_json_are_skipped_in_chunks(tmp_path: Path) -> None:
    path = b.write_pieces(
        tmp_path / "处罚.json", [(b"\n", 20 * MB), (b.json_bytes(b.json_records(b.around([]))), 1)]
    )
    with open_source(path) as source:
        assert sum(batch.num_rows for batch in source.batches()) == 16


def test_limits_say_why_they_exist() -> None:
    assert ReadLimits().max_sheet_text_bytes <= ReadLimits().max_file_bytes


# ------------------------------------------------------------------------------------------ XLS and ODS
def _ods(path: Path, table_rows: str) -> Path:
    """An ODS whose one table holds the template header, then ``table_rows`` (content.xml markup)."""
    from tests import real_exports as x

    with zipfile.ZipFile(io.BytesIO(x.ods([b.penalty(1)]))) as archive:
        content = (
            archive.read("content.xml").decode().replace("</table:table>", table_rows + "</table:table>")
        )
        manifest = archive.read("META-INF/manifest.xml")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path


def test_an_ods_whose_repeats_expand_to_millions_of_cells_is_refused(tmp_path: Path) -> None:
    """A 2 KB file: one filled cell repeated across 16,384 columns, that row repeated 5,000 times — 82
    million cells for calamine, which aborts the process when the allocation fails (measured)."""
    cell = (
        '<table:table-cell table:number-columns-repeated="16384" office:value-type="string">'
        "<text:p>x</text:p></table:table-cell>"
    )
    path = _ods(
        tmp_path / "处罚.ods", f'<table:table-row table:number-rows-repeated="5000">{cell}</table:table-row>'
    )
    assert path.stat().st_size < 4000
    result = read_capped(path)
    refused(result, "E_TOO_LARGE", "处罚.ods", "工作表“行政处罚”", "25000000")


def test_an_ods_ending_in_repeated_empty_rows_still_reads(tmp_path: Path) -> None:
    """LibreOffice writes the rest of every sheet as one empty row repeated a million times."""
    empty = (
        '<table:table-row table:number-rows-repeated="1048574">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    )
    with open_source(_ods(tmp_path / "处罚.ods", empty)) as source:
        assert sum(batch.num_rows for batch in source.batches()) == 1


def test_an_xls_whose_cells_share_one_long_string_is_refused(tmp_path: Path) -> None:
    """BIFF8's shared-string table, 20,000 cells naming one 32,000-character entry (stored across CONTINUE
    records): 2 GB of text for calamine from a 300 KB file."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("行政处罚")
    long_text = "罚" * 32_000
    for index in range(20_000):
        sheet.write(index // 20, index % 20, long_text)
    path = tmp_path / "处罚.xls"
    book.save(str(path))
    assert path.stat().st_size < 1 * MB
    result = read_capped(path)
    refused(result, "E_TOO_LARGE", "处罚.xls", "工作表“行政处罚”", "268435456字节")
