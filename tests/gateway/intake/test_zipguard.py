"""The ZIP checks run before calamine sees a workbook."""

from __future__ import annotations

import random
import struct
import zipfile
from pathlib import Path

import pytest

from gateway.intake import DEFAULT_LIMITS, ReadError, ReadLimits
from gateway.intake.zipguard import check_archive


def make_zip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def code_of(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(ReadError) as caught:
        check_archive(path, limits, path.name)
    return caught.value.code


def test_ordinary_archive_passes_and_lists_its_parts(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "ok.xlsx", {"xl/workbook.xml": b"<workbook/>", "a.xml": b"x" * 1000})
    assert check_archive(path, DEFAULT_LIMITS, "ok.xlsx") == {"xl/workbook.xml", "a.xml"}


def test_high_ratio_trips_only_above_the_floor(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "zeros.xlsx", {"s.xml": bytes(4 * 1024 * 1024)})
    assert code_of(path) == "E_ZIP_BOMB"
    assert check_archive(path, ReadLimits(zip_ratio_floor_bytes=8 * 1024 * 1024), "zeros.xlsx") == {"s.xml"}


def test_declared_total_is_capped(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "t.xlsx", {f"p{i}.xml": bytes(4096) for i in range(4)})
    assert code_of(path, ReadLimits(max_zip_uncompressed_bytes=10_000)) == "E_ZIP_BOMB"


def test_entry_count_is_capped(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "n.xlsx", {f"p{i}.xml": b"x" for i in range(30)})
    assert code_of(path, ReadLimits(max_zip_entries=20)) == "E_ZIP_BOMB"


@pytest.mark.parametrize(
    "name", ["../evil.xml", "xl/../../evil.xml", "/etc/passwd", "C:\\evil.xml", "..\\evil"]
)
def test_escaping_part_names_are_refused(tmp_path: Path, name: str) -> None:
    path = make_zip(tmp_path / "p.xlsx", {"xl/workbook.xml": b"<workbook/>", name: b"x"})
    assert code_of(path) == "E_ZIP_BOMB"


def test_lying_declared_size_fails_the_crc(tmp_path: Path) -> None:
    """A part declaring 1000 bytes that inflates to 2 MiB passes the directory checks, not inflating."""
    path = make_zip(tmp_path / "lie.xlsx", {"s.xml": bytes(2 * 1024 * 1024)})
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)
    struct.pack_into("<I", data, central + 24, 1000)
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("s.xml").file_size == 1000
    assert code_of(path) == "E_CORRUPT"


def test_encrypted_parts_are_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "enc.xlsx", {"s.xml": b"<x/>"})
    data = bytearray(path.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.index(signature)
        flags = struct.unpack_from("<H", data, start + flag_offset)[0]
        struct.pack_into("<H", data, start + flag_offset, flags | 0x1)
    path.write_bytes(bytes(data))
    assert code_of(path) == "E_FORMAT"


def test_truncated_archive_is_corrupt(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "cut.xlsx", {"s.xml": b"abc" * 10000})
    path.write_bytes(path.read_bytes()[:-30])
    assert code_of(path) == "E_CORRUPT"


PADDED = b"<!--" + random.Random(7).randbytes(512 * 1024).hex()[: 1024 * 1024 - 10].encode() + b"-->"
"""Incompressible (so not a zip bomb), and 3 bytes short of the 1 MiB read chunk: a "<!DOCTYPE" after it
straddles two chunks."""


@pytest.mark.parametrize(
    ("part", "data"),
    [
        ("xl/worksheets/sheet1.xml", b'<!DOCTYPE worksheet [<!ENTITY a "aaaa">]><worksheet/>'),
        (
            "xl/workbook.xml",
            b"<?xml version='1.0'?><!doctype workbook SYSTEM 'http://203.0.113.9/w.dtd'><x/>",
        ),
        (
            "xl/sharedStrings.xml",
            "<!DOCTYPE sst [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><sst/>".encode("utf-16"),
        ),
        ("xl/_rels/workbook.xml.rels", PADDED + b"<!DOCTYPE Relationships><Relationships/>"),
    ],
    ids=["sheet-entity", "workbook-external-dtd", "utf-16-shared-strings", "across-a-chunk-boundary"],
)
def test_xml_parts_with_a_doctype_are_refused(tmp_path: Path, part: str, data: bytes) -> None:
    """OOXML forbids DTDs; calamine would read an entity reference as an empty cell without a word."""
    path = make_zip(tmp_path / "dtd.xlsx", {"[Content_Types].xml": b"<Types/>", part: data})
    assert code_of(path) == "E_XML_UNSAFE"


def test_doctype_bytes_outside_xml_parts_are_data(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "img.xlsx", {"xl/media/image1.png": b"\x89PNG<!DOCTYPE"})
    assert check_archive(path, DEFAULT_LIMITS, "img.xlsx") == {"xl/media/image1.png"}
