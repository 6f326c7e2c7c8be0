"""Decide from a file's first bytes whether it is a CSV, an XLSX, an XML or a JSON export.

Departments rename files freely: a PDF saved as .csv, an HTML page that an old system calls "Excel",
an .xls from Excel 97. Reading such a file as CSV yields pages of mojibake and thousands of row
errors; recognising it up front gives the department one clear sentence instead.

The content decides; the name only breaks ties and catches mislabelling. XML and JSON content under a
spreadsheet or CSV name is refused (as a ZIP named .csv is) rather than read, because the department's
system evidently exported something other than what the person sending it believes.
"""

from __future__ import annotations

import codecs
from typing import Literal

from gateway.intake.errors import ReadError

FileFormat = Literal["csv", "xlsx", "xls", "ods", "xml", "json"]

HEAD_BYTES = 8192
"""How much of the file the sniffer looks at."""

_SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".ods"})
_TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
_TABULAR_SUFFIXES = _SPREADSHEET_SUFFIXES | _TEXT_SUFFIXES | {".xls"}
_JSON_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson"})
_XML_SUFFIXES = frozenset({".xml"})

_TEXT_START_BYTES = 64
"""How much of the text (after a BOM and leading whitespace) the structural checks look at."""
_JSON_ARRAY_NEXT = frozenset(b'{["]-0123456789tfn')
"""What may follow "[" in a JSON array; a CSV header such as "[必填]名称" continues otherwise."""
_JSON_ARRAY_STRICT = frozenset(b'{["]')
"""The same under a CSV name, where "[1]名称" may be a header: only an array of objects, arrays or strings."""

_TEXT_BOMS = (
    codecs.BOM_UTF8,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)

# Signatures of formats departments send by mistake, with the name the receipt uses for them.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "PDF文档"),
    (b"\x1f\x8b", "GZIP压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z压缩包"),
    (b"Rar!\x1a\x07", "RAR压缩包"),
    (b"\x89PNG\r\n\x1a\n", "PNG图片"),
    (b"\xff\xd8\xff", "JPEG图片"),
    (b"GIF8", "GIF图片"),
    (b"{\\rtf", "RTF文档"),
)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# An OLE2 compound file: an old Excel workbook (.xls), an XLSX encrypted with an opening password, or a Word
# document — gateway/intake/workbook.py tells them apart from the container's directory.
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# ODF packages store their media type uncompressed as the first entry, so it shows in the first bytes.
_ODS_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
_WIDE_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 LE starts with the UTF-16 LE BOM, so it must be tested first.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def sniff_format(head: bytes, suffix: str, display: str) -> FileFormat:
    """Return the format to read ``head``'s file as, or raise E_FORMAT naming what it really is."""
    suffix = suffix.lower()
    if head.startswith(_ZIP_SIGNATURES):
        if suffix in _TEXT_SUFFIXES:
            raise ReadError(
                "E_FORMAT",
                f"文件“{display}”的扩展名是{suffix}，但内容是ZIP压缩包（可能是XLSX工作簿），"
                "请确认文件类型并改正扩展名后重新提交",
            )
        return "ods" if _ODS_MIMETYPE in head[:128] else "xlsx"
    if head.startswith(_OLE2_SIGNATURE):
        if suffix in _TEXT_SUFFIXES:
            raise ReadError(
                "E_FORMAT",
                f"文件“{display}”的扩展名是{suffix}，但内容是Office二进制文件（可能是XLS工作簿），"
                "请确认文件类型并改正扩展名后重新提交",
            )
        return "xls"
    kind = _foreign_kind(head)
    if kind is not None:
        raise ReadError(
            "E_FORMAT",
            f"文件“{display}”的内容是{kind}，不是CSV、Excel（XLSX、XLS）、ODS、XML或JSON数据，请导出为CSV或XLSX后重新提交",
        )
    text = _text_start(head)
    structured = _structured_kind(text, suffix)
    if structured is not None:
        return _checked_suffix(structured, suffix, display)
    if suffix in _SPREADSHEET_SUFFIXES:
        raise ReadError(
            "E_FORMAT",
            f"文件“{display}”的扩展名是{suffix}，但内容不是XLSX工作簿（XLSX应为ZIP格式），"
            "文件可能已损坏或被改过扩展名",
        )
    if text and suffix in _JSON_SUFFIXES | _XML_SUFFIXES:
        expected = "JSON" if suffix in _JSON_SUFFIXES else "XML"
        raise ReadError(
            "E_FORMAT",
            f"文件“{display}”的扩展名是{suffix}，但内容不是{expected}数据，文件可能已损坏或被改过扩展名",
        )
    if suffix in _JSON_SUFFIXES:
        return "json"  # nothing but whitespace (or a BOM): the JSON reader says the file is empty
    if suffix in _XML_SUFFIXES:
        return "xml"
    return "csv"


def _text_start(head: bytes) -> bytes:
    """The first bytes of the text after any BOM and leading whitespace."""
    return _without_bom(head).lstrip(b" \t\r\n")[:_TEXT_START_BYTES]


def _without_bom(head: bytes) -> bytes:
    """``head`` without its BOM, UTF-16/32 re-encoded as UTF-8.

    Structural characters (<, {, [) are ASCII, so UTF-8, GBK and GB18030 need no decoding to find
    them; UTF-16/32 text (which always carries a BOM here, or its NULs would have marked it binary)
    is decoded first.
    """
    for bom, codec in _WIDE_BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, "ignore").encode()
    return head.removeprefix(codecs.BOM_UTF8)


def _structured_kind(text: bytes, suffix: str) -> Literal["xml", "json"] | None:
    """XML or JSON by the first characters, or None for delimited text.

    Under a CSV name only unmistakable starts count, since a CSV's first header cell may itself begin
    with <, { or [ ("<序号>", "[必填]名称").
    """
    strict = suffix in _TEXT_SUFFIXES
    if text.startswith(b"<?xml"):
        return "xml"
    if text.startswith(b"<"):
        return None if strict else "xml"
    rest = text[1:].lstrip(b" \t\r\n")
    if text.startswith(b"{"):
        return "json" if not strict or rest[:1] in (b'"', b"}") else None
    if text.startswith(b"["):
        allowed = _JSON_ARRAY_STRICT if strict else _JSON_ARRAY_NEXT
        if suffix in _JSON_SUFFIXES or not rest or rest[0] in allowed:
            return "json"
    return None


def _checked_suffix(kind: Literal["xml", "json"], suffix: str, display: str) -> FileFormat:
    """Accept XML or JSON content unless the name says it is a table or the other structured format."""
    other = _XML_SUFFIXES if kind == "json" else _JSON_SUFFIXES
    if suffix in _TABULAR_SUFFIXES or suffix in other:
        label = "XML文档" if kind == "xml" else "JSON数据"
        right = ".xml" if kind == "xml" else ".json"
        raise ReadError(
            "E_FORMAT",
            f"文件“{display}”的扩展名是{suffix}，但内容是{label}，"
            f"请确认文件类型，将扩展名改为{right}后重新提交",
        )
    return kind


def _foreign_kind(head: bytes) -> str | None:
    """Name the format ``head``'s file belongs to when it is none we read, or None when it may be one."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(_TEXT_BOMS):
        head = _without_bom(head)
    elif b"\x00" in head:
        return "二进制数据（含空字节）"
    text = head.lstrip(b" \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        return "网页(HTML)，常见于系统“导出Excel”功能生成的伪Excel文件，请用Excel打开后另存为XLSX"
    if text.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in text:
        return "Excel 2003 XML表格，请用Excel打开后另存为XLSX"
    return None
