"""Find the cells of an XLSX sheet that hold an Excel error value (#N/A, #DIV/0!, #REF! ...).

python-calamine turns error cells into empty strings, which would let a failed VLOOKUP in the ID
column pass as "not filled in". The department needs to hear that the cell holds an error, so the
sheet's XML is scanned here for cells typed ``t="e"``. The scan searches the raw bytes for that
attribute instead of parsing every element: error cells are rare, and a regex over the inflated
stream costs a fraction of building millions of XML elements in Python.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path

import defusedxml.ElementTree as safe_xml

CHUNK_BYTES = 1024 * 1024
OVERLAP_BYTES = 64 * 1024
"""Bytes carried into the next chunk so an error cell cut by a chunk boundary is seen whole;
a cell with its formula is far shorter (Excel caps formulas at 8192 characters)."""
CONTEXT_BYTES = 4096
"""Bytes kept before the resume point, so the start of a cell tag cut by a boundary is still there."""

_ERROR_TYPE = re.compile(rb"""\bt\s*=\s*["']e["']""")
_CELL_TAG = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?c\s[^<>]*>""")
_REFERENCE = re.compile(rb"""\br\s*=\s*["']\$?([A-Za-z]{1,3})\$?([0-9]{1,7})["']""")
_VALUE = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?v\s*>([^<]*)</""")
_CELL_END = re.compile(rb"""</(?:[A-Za-z_][\w.-]*:)?c\s*>""")

_RELATIONSHIPS_NS = "relationships"

ErrorCells = dict[int, dict[int, str]]
"""Spreadsheet row number (1-based) -> column index (0-based, from column A) -> error text."""


def sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The archive path of the worksheet named ``sheet_name``, via workbook.xml and its rels."""
    workbook = safe_xml.fromstring(archive.read("xl/workbook.xml"))
    relation: str | None = None
    for element in workbook.iter():
        if _local(element.tag) == "sheet" and element.get("name") == sheet_name:
            relation = next(
                (
                    value
                    for key, value in element.attrib.items()
                    if _RELATIONSHIPS_NS in key and _local(key) == "id"
                ),
                None,
            )
            break
    if relation is None:
        return None
    rels = safe_xml.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for element in rels.iter():
        if _local(element.tag) == "Relationship" and element.get("Id") == relation:
            target = element.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    return None


def error_cells(path: Path, sheet_name: str) -> ErrorCells:
    """Every error cell of the sheet; empty when the sheet cannot be located (nothing to add then)."""
    found: ErrorCells = {}
    with zipfile.ZipFile(path) as archive:
        part = sheet_part(archive, sheet_name)
        if part is None or part not in archive.namelist():
            return found
        with archive.open(part) as stream:
            carried = b""
            resume = 0
            while chunk := stream.read(CHUNK_BYTES):
                buffer = carried + chunk
                # Matches in the last OVERLAP_BYTES wait for the next chunk, which completes their cell.
                cut = max(len(buffer) - OVERLAP_BYTES, resume)
                _scan(buffer, resume, cut, found)
                keep = max(cut - CONTEXT_BYTES, 0)
                carried, resume = buffer[keep:], cut - keep
            _scan(carried, resume, len(carried), found)
    return found


def _scan(buffer: bytes, start: int, stop: int, found: ErrorCells) -> None:
    """Record the error cells whose ``t="e"`` attribute starts in ``buffer[start:stop]``."""
    if b'"e"' not in buffer and b"'e'" not in buffer:
        return  # the common case, found by a plain byte search, far faster than the regex
    for match in _ERROR_TYPE.finditer(buffer, start):
        if match.start() >= stop:
            break  # not endpos: that would also drop a match that starts before stop and ends after it
        tag_start = buffer.rfind(b"<", 0, match.start())
        tag = _CELL_TAG.match(buffer, tag_start) if tag_start >= 0 else None
        if tag is None or tag.end() <= match.start():
            continue  # the text t="e" inside a string value or another element, not a cell type
        reference = _REFERENCE.search(tag.group(0))
        if reference is None:
            continue  # cells without an r attribute cannot be placed; Excel always writes it
        row = int(reference.group(2))
        column = _column_index(reference.group(1).decode("ascii"))
        if tag.group(0).endswith(b"/>"):
            body = b""
        else:
            end = _CELL_END.search(buffer, tag.end())
            body = buffer[tag.end() : end.start()] if end else b""
        value = _VALUE.search(body)
        text = value.group(1).decode("utf-8", "replace").strip() if value else ""
        found.setdefault(row, {})[column] = text or "#ERROR"


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + (ord(letter) - ord("A") + 1)
    return index - 1


def column_letters(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA": how Excel names a column in the receipt."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]
