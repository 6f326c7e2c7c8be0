"""Format sniffing by content, not by name."""

from __future__ import annotations

import codecs

import pytest

from gateway.intake import ReadError
from gateway.intake.detect import sniff_format


@pytest.mark.parametrize(
    ("head", "suffix", "expected"),
    [
        ("名称,金额\n".encode(), ".csv", "csv"),
        ("名称,金额\n".encode("utf-16"), ".csv", "csv"),
        (codecs.BOM_UTF8 + b"a,b\n", ".CSV", "csv"),
        (b"a\tb\n", ".xls", "csv"),
        (b"a,b\n", "", "csv"),
        (b"PK\x03\x04rest", ".xlsx", "xlsx"),
        (b"PK\x03\x04rest", ".XLSM", "xlsx"),
        (b"PK\x03\x04rest", ".bin", "xlsx"),
    ],
)
def test_accepted(head: bytes, suffix: str, expected: str) -> None:
    assert sniff_format(head, suffix, "f") == expected


@pytest.mark.parametrize(
    ("head", "suffix", "expected"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls", "xls"),  # Excel 97-2003, or a password-protected book
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xlsx", "xls"),
        (
            b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet",
            ".ods",
            "ods",
        ),
    ],
)
def test_office_containers_are_workbooks(head: bytes, suffix: str, expected: str) -> None:
    assert sniff_format(head, suffix, "f") == expected


@pytest.mark.parametrize(
    ("head", "suffix", "needle"),
    [
        (b"PK\x03\x04rest", ".csv", "ZIP"),
        (b"PK\x03\x04rest", ".txt", "ZIP"),
        (b"%PDF-1.4", ".csv", "PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".csv", "XLS"),
        (b"\x1f\x8b\x08", ".csv", "GZIP"),
        (b"\x89PNG\r\n\x1a\n", ".xlsx", "PNG"),
        (b"a,b\x00\x01", ".csv", "二进制"),
        (b"  \r\n<!DOCTYPE html><html>", ".xls", "HTML"),
        (
            b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
            ".xls",
            "2003",
        ),
        (b'<?xml version="1.0"?><Case/>', ".csv", "XML"),
        (b"a,b\n1,2\n", ".xlsx", "XLSX"),
    ],
)
def test_refused(head: bytes, suffix: str, needle: str) -> None:
    with pytest.raises(ReadError) as caught:
        sniff_format(head, suffix, "部门文件")
    assert caught.value.code == "E_FORMAT"
    assert needle in caught.value.message
    assert "部门文件" in caught.value.message
