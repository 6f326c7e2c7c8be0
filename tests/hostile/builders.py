"""Builders for the hostile-input corpus: valid 行政处罚 rows in the national template, and the file formats
a department may send them in, so each case states only what is wrong with its file.

Files are generated into the test's tmp_path rather than committed: a zip bomb or a billion-laughs file is a
few lines here and never sits in the repository where a tool might open it.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl

from samples.national_templates import PENALTY_HEADERS, SUBJECT_HEADERS, only

AUTHORITY_NAME = "忻州市市场监督管理局"
AUTHORITY_USCC = "11140900MB1950016E"
SUBJECT_USCC = "91140902MA0K2B3C30"
PERSON_ID = "11010519491231002X"
"""A valid resident ID number (GB 11643 check character X)."""

# The 行政处罚 template without the columns these cases never fill.
HEADERS = only(
    PENALTY_HEADERS,
    without=[
        *SUBJECT_HEADERS[3:8],
        "法定代表人证件类型",
        "法定代表人证件号码",
        "没收违法所得、没收非法财物的金额(万元)",
        "暂扣或吊销证照名称及编号",
        "公示截止期",
        "备注",
    ],
)
CODES = [
    "CF_XDR_MC",
    "CF_XDR_LB",
    "CF_XDR_SHXYM",
    "CF_FRDB",
    "CF_XDR_ZJLX",
    "CF_XDR_ZJHM",
    "CF_WSH",
    "CF_WFXW",
    "CF_SY",
    "CF_YJ",
    "CF_CFLB",
    "CF_NR",
    "CF_NR_FK",
    "CF_JDRQ",
    "CF_YXQ",
    "CF_CFJG",
    "CF_CFJGDM",
    "CF_SJLY",
    "CF_SJLYDM",
]
"""The same columns by their template codes, which header matching accepts too (XML names cannot hold
the brackets of the Chinese headers)."""

Row = dict[str, str]


def decision(n: int) -> str:
    """The decision number of row ``n``: the part of the natural key that tells stored rows apart."""
    return f"忻市监罚〔2026〕{n}号"


def penalty(n: int, **changes: str) -> Row:
    """A valid penalty against a company, by header; ``changes`` replace cells (keys are header names)."""
    row = dict(
        zip(
            HEADERS,
            [
                "忻州市晋北商贸有限公司",
                "法人及非法人组织",
                SUBJECT_USCC,
                "王建国",
                "",
                "",
                decision(n),
                "销售过期食品",
                "销售过期食品。",
                "《食品安全法》第一百二十四条",
                "罚款",
                "罚款",
                "0.5",
                "2026-10-08",
                "2027-10-08",
                AUTHORITY_NAME,
                AUTHORITY_USCC,
                AUTHORITY_NAME,
                AUTHORITY_USCC,
            ],
            strict=True,
        )
    )
    unknown = set(changes) - set(HEADERS)
    if unknown:
        raise KeyError(f"not a template header: {unknown}")
    row.update(changes)
    return row


def person(n: int, **changes: str) -> Row:
    """A valid penalty against a natural person with a resident ID."""
    base = {
        "行政相对人名称": "张某",
        "行政相对人类别": "自然人",
        "行政相对人代码_1(统一社会信用代码)": "",
        "法定代表人": "",
        "证件类型": "身份证",
        "证件号码": PERSON_ID,
    }
    return penalty(n, **{**base, **changes})


GOOD_BEFORE = 8
"""Good rows before the bad ones, so every bad row has good neighbours and stays under the 20 % threshold."""


def around(bad: Sequence[Row], good_after: int = 8) -> list[Row]:
    """Good rows 1..8, then ``bad`` (spreadsheet rows 10, 11, …), then more good rows."""
    first_after = GOOD_BEFORE + len(bad) + 1
    return (
        [penalty(n) for n in range(1, GOOD_BEFORE + 1)]
        + list(bad)
        + [penalty(n) for n in range(first_after, first_after + good_after)]
    )


def bad_row(index: int = 0) -> int:
    """Spreadsheet row number of the ``index``-th bad row placed by :func:`around`."""
    return GOOD_BEFORE + 2 + index


def good_decisions(bad_count: int, good_after: int = 8, *, keep: Sequence[int] = ()) -> set[str]:
    """Decision numbers of the good rows :func:`around` writes, plus the bad rows' numbers in ``keep``."""
    first_after = GOOD_BEFORE + bad_count + 1
    numbers = [*range(1, GOOD_BEFORE + 1), *range(first_after, first_after + good_after), *keep]
    return {decision(n) for n in numbers}


# ------------------------------------------------------------------------------------------ formats


def csv_bytes(rows: Sequence[Row], *, headers: Sequence[str] = HEADERS, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([[row.get(h, "") for h in headers] for row in rows])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[object]], *, headers: Sequence[str] = HEADERS) -> bytes:
    """A workbook whose cells keep their Python types (an int stays a number cell, as Excel stores it)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "行政处罚"
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cells(row: Row) -> list[object]:
    return [row[h] or None for h in HEADERS]


def json_records(rows: Sequence[Row]) -> list[dict[str, object]]:
    return [{h: v for h, v in row.items() if v} for row in rows]


def json_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode()


def xml_record(row: Row, *, extra: str = "") -> str:
    fields = "".join(
        f"<{code}>{escape(row[header])}</{code}>"
        for header, code in zip(HEADERS, CODES, strict=True)
        if row[header]
    )
    return f"  <Penalty>{fields}{extra}</Penalty>\n"


def xml_bytes(records: Sequence[str], *, prolog: str = "", encoding: str = "UTF-8") -> bytes:
    body = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n{prolog}<Penalties>\n{"".join(records)}</Penalties>\n'
    )
    return body.encode(encoding)


def patch_zip(data: bytes, part: str, change: Callable[[bytes], bytes]) -> bytes:
    """The archive with one part rewritten, everything else (names, order, compression) as it was."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info, change(content) if info.filename == part else content)
    return out.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ resource bounds (issue #10)
# Inputs that cost memory or CPU out of all proportion to their size. Big ones are streamed to disk a MiB at a
# time, so a 200 MB hostile file never exists whole in the test's (or the benchmark's) memory.

STREAM_CHUNK = 1 << 20

Write = Callable[[bytes], object]
"""Where a streaming builder puts its bytes (a file's or an archive part's write)."""


def write_pieces(path: Path, pieces: Sequence[tuple[bytes, int]]) -> Path:
    """Write each ``(unit, count)`` piece as ``unit`` repeated ``count`` times, in chunks of about a MiB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        _put_pieces(out.write, pieces)
    return path


def _put_pieces(write: Write, pieces: Sequence[tuple[bytes, int]]) -> None:
    for unit, count in pieces:
        per_chunk = max(1, STREAM_CHUNK // max(len(unit), 1))
        while count > 0:
            taken = min(count, per_chunk)
            write(unit * taken)
            count -= taken


def one_cell_rows_csv(path: Path, rows: int, *, good: int = 0) -> Path:
    """The national template's header, ``good`` valid rows, then ``rows`` lines holding one cell "x" each."""
    head = csv_bytes([penalty(n) for n in range(1, good + 1)])
    return write_pieces(path, [(head, 1), (b"x\r\n", rows)])


def long_line_csv(path: Path, size: int, *, quoted: bool = False, good: int = 0) -> Path:
    """The header and ``good`` valid rows, then one record of ``size`` bytes of "x" with no newline or
    delimiter; ``quoted``: the record opens a quoted cell that never closes."""
    head = csv_bytes([penalty(n) for n in range(1, good + 1)])
    return write_pieces(path, [(head, 1), (b'"' if quoted else b"", 1), (b"x", size)])


def xml_long_value(
    path: Path, size: int, *, attribute: bool, good_before: int = GOOD_BEFORE, good_after: int = 8
) -> Path:
    """Records named by the template's codes; after ``good_before`` valid ones, one whose 违法行为类型
    (CF_WFXW) has ``size`` characters, as an attribute of the record (``attribute``) or as element text."""
    bad = good_before + 1
    before = "".join(xml_record(penalty(n)) for n in range(1, bad))
    after = "".join(xml_record(penalty(n)) for n in range(bad + 1, bad + 1 + good_after))
    head = xml_bytes([]).split(b"</Penalties>")[0] + before.encode()
    record = xml_record(penalty(bad, 违法行为类型="")).encode()
    if attribute:
        opening, rest = record.split(b"<Penalty>", 1)
        pieces = [(opening + b'<Penalty CF_WFXW="', 1), (b"x", size), (b'">' + rest, 1)]
    else:
        opening, rest = record.split(b"</Penalty>", 1)
        pieces = [(opening + b"<CF_WFXW>", 1), (b"x", size), (b"</CF_WFXW></Penalty>" + rest, 1)]
    return write_pieces(path, [(head, 1), *pieces, (after.encode() + b"</Penalties>\n", 1)])


def json_long_string(path: Path, size: int, *, good: int = GOOD_BEFORE) -> Path:
    """An array of ``good`` valid records, then one whose 违法事实 is a string of ``size`` characters."""
    records = json.dumps(json_records([penalty(n) for n in range(1, good + 1)]), ensure_ascii=False)
    head = (records[:-1] + (", " if good else "") + '{"违法事实": "').encode()
    return write_pieces(path, [(head, 1), (b"x", size), (b'"}]', 1)])


def json_nested(path: Path, depth: int, *, good: int = GOOD_BEFORE) -> Path:
    """An array of ``good`` valid records, then one whose 违法事实 is an array ``depth`` levels deep."""
    records = json.dumps(json_records([penalty(n) for n in range(1, good + 1)]), ensure_ascii=False)
    head = (records[:-1] + (", " if good else "") + '{"违法事实": ').encode()
    return write_pieces(path, [(head, 1), (b"[", depth), (b"]", depth), (b"}]", 1)])


_XLSX_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XLSX_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XLSX_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _xlsx_frame(sheet: str, shared: Sequence[str]) -> dict[str, str]:
    """Every part of a one-sheet workbook but the sheet, named as Excel names them."""
    strings = "".join(f"<si><t>{escape(text)}</t></si>" for text in shared)
    return {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Types xmlns="{_XLSX_PACKAGE}/content-types">'
            f'<Default Extension="rels" ContentType="{_XLSX_PACKAGE.rsplit("/", 2)[0]}'
            '/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_XLSX_TYPE}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_XLSX_TYPE}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_XLSX_TYPE}.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="{_XLSX_PACKAGE}/relationships">'
            f'<Relationship Id="rId1" Type="{_XLSX_RELS}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<workbook xmlns="{_XLSX_MAIN}" xmlns:r="{_XLSX_RELS}">'
            f'<sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="{_XLSX_PACKAGE}/relationships">'
            f'<Relationship Id="rId1" Type="{_XLSX_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_XLSX_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/sharedStrings.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="{_XLSX_MAIN}" count="{len(shared)}" '
            f'uniqueCount="{len(shared)}">{strings}</sst>'
        ),
    }


def xlsx_letters(index: int) -> str:
    """0 -> A, 26 -> AA: a column as a cell reference names it."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def write_xlsx(
    path: Path, shared: Sequence[str], fill: Callable[[Write], None], *, sheet: str = "行政处罚"
) -> Path:
    """A workbook with the shared strings ``shared`` and one sheet, whose <sheetData> content ``fill`` writes
    (streamed into the archive: the sheet may be far larger than what the test holds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _xlsx_frame(sheet, shared).items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{_XLSX_MAIN}">'.encode())
            part.write(b"<sheetData>")
            fill(part.write)
            part.write(b"</sheetData></worksheet>")
    return path


def xlsx_row(number: int, values: Sequence[str | None]) -> bytes:
    """A sheet row of inline-string cells from column A; None leaves a cell out."""
    cells = "".join(
        f'<c r="{xlsx_letters(i)}{number}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
        for i, value in enumerate(values)
        if value is not None
    )
    return f'<row r="{number}">{cells}</row>'.encode()


def shared_string_bomb_xlsx(
    path: Path, rows: int, *, chars: int = 32_000, columns: int = len(HEADERS), good: int = 0
) -> Path:
    """The template's header, ``good`` valid rows, then ``rows`` rows whose every cell is shared string 0, one
    string of ``chars`` characters: each cell costs some 30 bytes in the archive and ``chars`` once read."""

    def fill(write: Write) -> None:
        write(xlsx_row(1, HEADERS))
        for n in range(1, good + 1):
            write(xlsx_row(n + 1, [penalty(n)[h] or None for h in HEADERS]))
        first = good + 2
        for start in range(first, first + rows, 1000):
            write(
                b"".join(
                    f'<row r="{row}">'.encode()
                    + "".join(
                        f'<c r="{xlsx_letters(i)}{row}" t="s"><v>0</v></c>' for i in range(columns)
                    ).encode()
                    + b"</row>"
                    for row in range(start, min(start + 1000, first + rows))
                )
            )

    return write_xlsx(path, ["违" * chars], fill)


def far_corner_xlsx(path: Path, corner: str = "XFD1048576", *, good: int = 1) -> Path:
    """The template's header and ``good`` valid rows, plus one cell at ``corner``. Two cells that far apart
    span 16,384 columns by 1,048,576 rows, which a reader holding the used range densely must allocate."""

    def fill(write: Write) -> None:
        write(xlsx_row(1, HEADERS))
        for n in range(1, good + 1):
            write(xlsx_row(n + 1, [penalty(n)[h] or None for h in HEADERS]))
        number = "".join(char for char in corner if char.isdigit())
        write(f'<row r="{number}"><c r="{corner}" t="s"><v>0</v></c></row>'.encode())

    return write_xlsx(path, ["备注"], fill)
