"""Department exports shaped the way office systems and people really produce them: title rows over the
header (often a merged cell), a template's example row, instructions under the header, signatures and totals
under the data, two-row headers, several sheets (one of them instructions, one a hidden code list).

The rows are the hostile corpus's valid 行政处罚 rows (tests/hostile/builders.py), so each test states only
how the file is laid out. Files are generated, never committed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import openpyxl
from openpyxl.utils import get_column_letter

from tests.hostile import builders as b

TITLE = "忻州市市场监督管理局2026年11月行政处罚信息公示表"
EXAMPLE = b.penalty(
    0,
    行政相对人名称="示例：忻州市XX有限公司",
    行政处罚决定书文号="忻市监罚〔2026〕0号",
)
"""The template's example row: valid in every field but its name, which says what it is."""
NOTE = ["填写说明：带*号的为必填项，日期格式为YYYY-MM-DD"]
MARKERS = ["必填", "必填", "选填", "选填", "选填", "选填", "必填"]
FOOTERS = [
    ["制表人：张三", "", "审核人：李四"],
    ["填报日期：2026年11月30日"],
    ["合计", "", "", "", "", "", "", "", "", "", "", "", "12.5"],
]


def rows_of(records: Sequence[b.Row]) -> list[list[str]]:
    return [[row[h] for h in b.HEADERS] for row in records]


def csv_export(
    body: Sequence[Sequence[str]], *, above: Sequence[Sequence[str]] = (), headers: Sequence[str] = b.HEADERS
) -> bytes:
    """A CSV with the template header, ``above`` it whatever rows an office system puts first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(above)
    writer.writerow(headers)
    writer.writerows(body)
    return out.getvalue().encode("utf-8-sig")


def sheet_with(
    book: openpyxl.Workbook,
    title: str,
    body: Sequence[Sequence[object]],
    *,
    headers: Sequence[str] = b.HEADERS,
    title_row: str | None = None,
    blank_rows: int = 0,
) -> openpyxl.worksheet.worksheet.Worksheet:
    """A sheet: an optional merged title row across the header's width, blank rows, the header, ``body``."""
    sheet = book.create_sheet(title)
    if title_row is not None:
        sheet.append([title_row])
        sheet.merge_cells(f"A1:{get_column_letter(len(headers))}1")
    for _ in range(blank_rows):
        sheet.append([])
    sheet.append(list(headers))
    for row in body:
        sheet.append(list(row))
    return sheet


def workbook(*sheets: tuple[str, Sequence[Sequence[object]]], **layout: object) -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, body in sheets:
        sheet_with(book, title, body, **layout)  # type: ignore[arg-type]
    return book


def xlsx(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------------------------ workbooks
def licence_sheet() -> tuple[list[str], list[list[object]]]:
    """The transport bureau's licence sample (samples/inbox/xz_transport): its header and rows."""
    from pathlib import Path

    from python_calamine import CalamineWorkbook

    sample = Path(__file__).resolve().parents[1] / "samples/inbox/xz_transport/行政许可信息-2026年10月.xlsx"
    rows = list(CalamineWorkbook.from_path(str(sample)).get_sheet_by_index(0).iter_rows())
    return [str(h) for h in rows[0]], [list(r) for r in rows[1:]]


SUBJECT_CODES = ["统一社会信用代码", "工商注册号", "组织机构代码"]


def two_row_header_sheet(
    book: openpyxl.Workbook, title: str, records: Sequence[b.Row], *, title_row: str | None = TITLE
) -> None:
    """The penalty columns under a two-row header: 「行政相对人代码」 merged over its three sub-columns, every
    other header merged down both rows; a merged title row above, as office systems export it."""
    sheet = book.create_sheet(title)
    singles = [h for h in b.HEADERS if h != b.HEADERS[2]]
    names, kind, rest = singles[0], singles[1], singles[2:]
    upper = [names, kind, "行政相对人代码", "", "", *rest]
    lower = ["", "", *SUBJECT_CODES, *[""] * len(rest)]
    offset = 0
    if title_row is not None:
        sheet.append([title_row])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(upper))
        offset = 1
    sheet.append(upper)
    sheet.append(lower)
    top, bottom = offset + 1, offset + 2
    sheet.merge_cells(start_row=top, start_column=3, end_row=top, end_column=5)
    for column, text in enumerate(upper, start=1):
        if text and not 3 <= column <= 5:
            sheet.merge_cells(start_row=top, start_column=column, end_row=bottom, end_column=column)
    for row in records:
        values = [row[h] for h in b.HEADERS]
        sheet.append([values[0], values[1], values[2], "", "", *values[3:]])


def xls(records: Sequence[b.Row], *, sheet: str = "行政处罚", title_row: str | None = None) -> bytes:
    """An Excel 97-2003 workbook (BIFF8), as old case systems still export: numbers as numbers."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    page = book.add_sheet(sheet)
    first = 0
    if title_row is not None:
        page.write_merge(0, 0, 0, len(b.HEADERS) - 1, title_row)
        first = 1
    for column, header in enumerate(b.HEADERS):
        page.write(first, column, header)
    for index, row in enumerate(records, start=first + 1):
        for column, header in enumerate(b.HEADERS):
            value: object = row[header]
            if header == b.HEADERS[12] and value:
                value = float(str(value))
            page.write(index, column, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ods(records: Sequence[b.Row], *, sheet: str = "行政处罚") -> bytes:
    """An OpenDocument spreadsheet (LibreOffice, WPS): a ZIP whose first entry is its media type, stored."""
    import zipfile
    from xml.sax.saxutils import escape

    def cell(value: str) -> str:
        text = f"<text:p>{escape(value)}</text:p>"
        return f'<table:table-cell office:value-type="string">{text}</table:table-cell>'

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in values) + "</table:table-row>"
        for values in [b.HEADERS, *([row[h] for h in b.HEADERS] for row in records)]
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{escape(sheet)}">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def encrypted(data: bytes, password: str = "xz2026") -> bytes:
    """The workbook with an opening password, as Excel saves it (an OLE2 file holding EncryptedPackage)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()
