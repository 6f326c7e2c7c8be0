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

AUTHORITY_NAME = "忻州市市场监督管理局"
AUTHORITY_USCC = "11140900MB1950016E"
SUBJECT_USCC = "91140902MA0K2B3C30"
PERSON_ID = "11010519491231002X"
"""A valid resident ID number (GB 11643 check character X)."""

HEADERS = [
    "行政相对人名称",
    "行政相对人类别",
    "行政相对人代码_1(统一社会信用代码)",
    "法定代表人",
    "证件类型",
    "证件号码",
    "行政处罚决定书文号",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "处罚内容",
    "罚款金额(万元)",
    "处罚决定日期",
    "处罚有效期",
    "处罚机关",
    "处罚机关统一社会信用代码",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
]
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
