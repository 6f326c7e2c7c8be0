"""Decide from a file's first bytes whether it is a CSV or an XLSX, whatever its name claims.

Departments rename files freely: a PDF saved as .csv, an HTML page that an old system calls "Excel",
an .xls from Excel 97. Reading such a file as CSV yields pages of mojibake and thousands of row
errors; recognising it up front gives the department one clear sentence instead.
"""

from __future__ import annotations

import codecs
from typing import Literal

from gateway.intake.errors import ReadError

FileFormat = Literal["csv", "xlsx"]

HEAD_BYTES = 8192
"""How much of the file the sniffer looks at."""

_SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})

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
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "旧版Excel(.xls)或设置了打开密码的工作簿"),
    (b"\x1f\x8b", "GZIP压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z压缩包"),
    (b"Rar!\x1a\x07", "RAR压缩包"),
    (b"\x89PNG\r\n\x1a\n", "PNG图片"),
    (b"\xff\xd8\xff", "JPEG图片"),
    (b"GIF8", "GIF图片"),
    (b"{\\rtf", "RTF文档"),
)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


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
        return "xlsx"
    kind = _foreign_kind(head)
    if kind is not None:
        raise ReadError(
            "E_FORMAT", f"文件“{display}”的内容是{kind}，不是CSV或XLSX表格，请导出为CSV或XLSX后重新提交"
        )
    if suffix in _SPREADSHEET_SUFFIXES:
        raise ReadError(
            "E_FORMAT",
            f"文件“{display}”的扩展名是{suffix}，但内容不是XLSX工作簿（XLSX应为ZIP格式），"
            "文件可能已损坏或被改过扩展名",
        )
    return "csv"


def _foreign_kind(head: bytes) -> str | None:
    """Name the non-tabular format ``head`` belongs to, or None when it may be delimited text."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(_TEXT_BOMS):
        return None
    if b"\x00" in head:
        return "二进制数据（含空字节）"
    text = head.lstrip(b" \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        return "网页(HTML)，常见于系统“导出Excel”功能生成的伪Excel文件，请用Excel打开后另存为XLSX"
    if text.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in text:
            return "Excel 2003 XML表格，请用Excel打开后另存为XLSX"
        return "XML文档"
    return None
