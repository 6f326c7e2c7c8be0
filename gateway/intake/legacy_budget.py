"""The same budget as gateway/intake/xlsx_budget.py for the other workbooks calamine reads: XLS and ODS.

Each format has its own way to make a small file ask calamine for gigabytes:

* XLS (BIFF8): text cells (LABELSST records) name an entry of the shared-string table (SST), and calamine
  copies the entry into every cell that names it — 14 bytes of file per cell, up to 32,767 characters of
  text each. The Workbook stream is walked record by record (a record is a 2-byte type, a 2-byte length
  and its data, [MS-XLS] 2.1.4); the SST's character counts are read, each LABELSST's entry is looked up,
  and a sheet whose cells would copy more than ``max_sheet_text_bytes`` is refused. (The used range cannot
  pass 65,536 × 256 cells in BIFF8, well under ``max_sheet_cells``.)
* ODS: a cell or row may say it repeats (``table:number-columns-repeated``, ``table:number-rows-repeated``);
  calamine expands repeats of cells that hold a value, so one cell repeated 16,384 times in a row repeated
  5,000 times is 82 million cells, and the process aborts. content.xml is streamed with lxml (no network,
  no entities, no huge text nodes) and the expanded cells of each table are counted; repeats of empty
  cells and rows, which LibreOffice writes to the end of every sheet, cost nothing and are not counted.

Both refuse with E_TOO_LARGE naming the file and the sheet, before calamine is asked for anything.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import olefile
from lxml import etree

from gateway.intake.errors import ReadError
from gateway.intake.limits import ReadLimits

_BOUNDSHEET, _BOF, _EOF, _SST, _CONTINUE, _LABELSST = 0x0085, 0x0809, 0x000A, 0x00FC, 0x003C, 0x00FD
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def _too_large(display: str, sheet: str, what: str) -> ReadError:
    return ReadError("E_TOO_LARGE", f"文件“{display}”的工作表“{sheet}”{what}，超过上限，网关不予读取")


# ------------------------------------------------------------------------------------------------- XLS
def _records(stream: bytes) -> Iterator[tuple[int, bytes]]:
    offset, end = 0, len(stream)
    while offset + 4 <= end:
        kind, length = struct.unpack_from("<HH", stream, offset)
        yield kind, stream[offset + 4 : offset + 4 + length]
        offset += 4 + length


def _sst_lengths(first: bytes, continues: list[bytes]) -> list[int]:
    """Characters of each SST entry ([MS-XLS] 2.4.265 and XLUnicodeRichExtendedString). An entry may be cut
    by a CONTINUE record; where its characters are cut, the continuation starts with a new flags byte."""
    parts = [first[8:], *continues]
    count = struct.unpack_from("<I", first, 4)[0]
    lengths: list[int] = []
    part, pos = 0, 0

    def take(size: int) -> bytes:
        nonlocal part, pos
        out = b""
        while len(out) < size and part < len(parts):
            chunk = parts[part][pos : pos + size - len(out)]
            out += chunk
            pos += len(chunk)
            if pos >= len(parts[part]):
                part, pos = part + 1, 0
        return out

    while len(lengths) < count and part < len(parts):
        header = take(3)
        if len(header) < 3:
            break
        chars, flags = struct.unpack("<HB", header)
        runs = struct.unpack("<H", take(2))[0] if flags & 0x08 else 0
        ext = struct.unpack("<I", take(4))[0] if flags & 0x04 else 0
        wide, left = flags & 0x01, chars
        while left > 0 and part < len(parts):
            room = len(parts[part]) - pos
            step = min(left, room // (2 if wide else 1))
            take(step * (2 if wide else 1))
            left -= step
            if left > 0:  # the characters go on in the next CONTINUE, after a flags byte of their own
                if part < len(parts) and pos >= len(parts[part]):
                    part, pos = part + 1, 0
                if part >= len(parts):
                    break
                wide = take(1)[0] & 0x01
        take(4 * runs + ext)
        lengths.append(chars)
    return lengths


def check_xls(path: Path, limits: ReadLimits, display: str) -> None:
    """Refuse an XLS whose sheets would copy more shared-string text than ``max_sheet_text_bytes``."""
    with olefile.OleFileIO(str(path)) as ole:
        name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
        if name is None:
            return
        stream = ole.openstream(name).read()
    sheets: dict[int, str] = {}
    lengths: list[int] = []
    records = list(_records(stream))
    for index, (kind, data) in enumerate(records):
        if kind == _BOUNDSHEET and len(data) >= 8:
            sheets[struct.unpack_from("<I", data, 0)[0]] = _sheet_name(data)
        elif kind == _SST and len(data) >= 8:
            continues = []
            for follow_kind, follow in records[index + 1 :]:
                if follow_kind != _CONTINUE:
                    break
                continues.append(follow)
            lengths = _sst_lengths(data, continues)
    offset, current, text = 0, "", 0
    for kind, data in records:
        if kind == _BOF:
            current, text = sheets.get(offset, current), 0
        elif kind == _LABELSST and len(data) >= 10:
            entry = struct.unpack_from("<I", data, 6)[0]
            # Up to three UTF-8 bytes a character; an index past the table names nothing (calamine: empty).
            text += 3 * lengths[entry] if entry < len(lengths) else 0
            if text > limits.max_sheet_text_bytes:
                raise _too_large(
                    display, current, f"的单元格共享的文字展开后超过{limits.max_sheet_text_bytes}字节"
                )
        offset += 4 + len(data)


def _sheet_name(data: bytes) -> str:
    chars, flags = data[6], data[7]
    raw = data[8 : 8 + chars * (2 if flags & 0x01 else 1)]
    return raw.decode("utf-16-le" if flags & 0x01 else "latin-1", errors="replace")


# ------------------------------------------------------------------------------------------------- ODS
def check_ods(path: Path, limits: ReadLimits, display: str) -> None:
    """Refuse an ODS whose tables expand to more than ``max_sheet_cells`` cells that hold something."""
    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as content:
        parser = etree.iterparse(
            content,
            events=("start", "end"),
            tag=(
                f"{_TABLE}table",
                f"{_TABLE}table-row",
                f"{_TABLE}table-cell",
                f"{_TABLE}covered-table-cell",
            ),
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
        )
        sheet, cells, row_cells = "", 0, 0
        for event, element in parser:
            tag = element.tag
            if tag == f"{_TABLE}table" and event == "start":
                sheet, cells = element.get(f"{_TABLE}name", ""), 0
            elif tag == f"{_TABLE}table-row" and event == "start":
                row_cells = 0
            elif tag.endswith("table-cell") and event == "end":
                if element.get(f"{_OFFICE}value-type") is not None or len(element):
                    row_cells += _repeats(element.get(f"{_TABLE}number-columns-repeated"))
                element.clear()
            elif tag == f"{_TABLE}table-row" and event == "end":
                cells += row_cells * _repeats(element.get(f"{_TABLE}number-rows-repeated"))
                element.clear()
                while element.getprevious() is not None:  # rows already counted: drop them from the tree
                    del element.getparent()[0]
                if cells > limits.max_sheet_cells:
                    raise _too_large(display, sheet, f"重复的单元格展开后超过{limits.max_sheet_cells}个")


def _repeats(value: str | None) -> int:
    """A repeat count as written; what is not a positive number is counted once (calamine refuses it)."""
    return int(value) if value and value.isdigit() and int(value) > 0 else 1
