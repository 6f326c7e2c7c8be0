"""Refuse a workbook whose sheets would make calamine take far more memory than the file holds, up front.

calamine (behind python-calamine) reads a sheet whole, and two things let a small file ask it for gigabytes:

* shared strings: a cell typed ``t="s"`` names an entry of xl/sharedStrings.xml, and calamine gives every such
  cell its own copy of the entry. A 100 KB file whose 500,000 cells all name one 32,000-character string
  becomes some 48 GB of text, and the process is killed;
* the used range: calamine stores the rectangle from the first to the last filled cell densely, 32 bytes a
  cell. Two cells at A1 and XFD1048576 make it ask for 512 GiB, and a failed allocation in Rust aborts the
  whole process, with no exception to catch.

calamine has no option to bound either, so this pass measures both from the XML before calamine is asked
for a sheet, and the workbook is refused (E_TOO_LARGE) when a sheet's expanded text passes
``ReadLimits.max_sheet_text_bytes`` or its used range ``ReadLimits.max_sheet_cells``. Every worksheet is
measured, not only the one the mapping will read: which one that is is decided later, and none of them may
be handed to calamine unmeasured.

How, and why not with an XML parser: a sheet of 200,000 rows has four million cells, and any parser calling
Python per element (expat, lxml's iterparse) takes longer than calamine itself. The cells are found in the
raw bytes with numpy instead, for the layout every spreadsheet writer we know produces (Excel, WPS,
LibreOffice, openpyxl, xlsxwriter): ``<c r="B7" ...>`` and ``<v>12</v>``. A part that strays from it
anywhere (prefixed names, reordered or spaced attributes, cells without a reference) is measured by a
slower tokenizer that places cells by calamine's own rules (src/xlsx/cells_reader.rs). Both count too much
rather than too little: the fast path takes every whole number in a ``<v>`` as a shared-string index (a
number cell may be counted as the string it happens to number), and when that estimate passes the limit
the slow path counts exactly before the file is refused. Markup is split into chunks only at a "<" with a
whole tag after it, so a tag longer than ``_TAIL_BYTES`` is refused as malformed rather than half-read.
"""

from __future__ import annotations

import codecs
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_xml
import numpy as np
from defusedxml import DefusedXmlException

from gateway.intake.errors import ReadError
from gateway.intake.limits import ReadLimits

CHUNK_BYTES = 4 * 1024 * 1024
_TAIL_BYTES = 4096
"""Bytes kept after the last "<" a chunk is processed up to: every tag processed, and the value after a
cell's tag, is whole. Excel writes cell tags of a few dozen bytes."""
_METADATA_BYTES = 16 * 1024 * 1024
"""Largest workbook.xml or relationship part read to name a sheet in a refusal."""

_LT, _GT, _SLASH, _QUOTE = ord("<"), ord(">"), ord("/"), ord('"')
_PREFIXED_NAME = re.compile(rb":(?:c|v|row)[\s/>]")
"""A prefixed cell, value or row (<x:c>, as the OpenXML SDK writes them); a ":" is rare enough to search."""
_ODD_CELL_START = re.compile(rb"<c[\t\n\r/>]")
_ODD_VALUE_START = re.compile(rb"<v[^>]")
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si(?![\w.:-])")
_UNIQUE_COUNT = re.compile(rb"""uniqueCount\s*=\s*["']\s*([0-9]+)""")
_TOKEN = re.compile(rb"<(/?)(?:[A-Za-z_][\w.-]*:)?(row|c)(?![\w.:-])([^>]*)>")
_ATTRIBUTE_R = re.compile(rb"""(?:^|\s)r\s*=\s*["']([^"']*)["']""")
_ATTRIBUTE_T = re.compile(rb"""(?:^|\s)t\s*=\s*["']([^"']*)["']""")
_VALUE_AFTER = re.compile(rb"""\s*<(?:[A-Za-z_][\w.-]*:)?v(?:\s[^>]*)?>\s*([0-9]+)\s*<""")
_U32 = 2**32
_ENTRY_MARKUP = len("<si><t></t></si>")


class _NotCanonical(Exception):
    """The fast path met markup it does not read; the part is measured again by the slow path."""


@dataclass
class SheetCost:
    """What calamine would hold for one worksheet part: cells of its used range and bytes of its text."""

    part: str
    shared_bytes: int = 0
    """Bytes of shared strings the cells copy (an upper bound on the fast path, see the module docstring)."""
    exact: bool = False
    first: tuple[int, int] | None = None
    """(row, column), 0-based, of the used range's top-left corner; None when no cell has content."""
    last: tuple[int, int] = (0, 0)

    @property
    def text_bytes(self) -> int:
        """Only what sharing multiplies: text written in the part itself is bounded by the archive limits."""
        return self.shared_bytes

    @property
    def cells(self) -> int:
        if self.first is None:
            return 0
        return (self.last[0] - self.first[0] + 1) * (self.last[1] - self.first[1] + 1)

    def place(self, rows: np.ndarray, columns: np.ndarray) -> None:
        if rows.size:
            self.place_range((int(rows.min()), int(columns.min())), (int(rows.max()), int(columns.max())))

    def place_range(self, low: tuple[int, int], high: tuple[int, int]) -> None:
        if self.first is None:
            self.first, self.last = low, high
            return
        self.first = (min(self.first[0], low[0]), min(self.first[1], low[1]))
        self.last = (max(self.last[0], high[0]), max(self.last[1], high[1]))


@dataclass
class SharedStrings:
    """Byte length of each entry of a shared-string table, in order: an upper bound on its text."""

    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    declared: int = 0

    @property
    def longest(self) -> int:
        return int(self.lengths.max()) if self.lengths.size else 0

    def merged(self, other: SharedStrings) -> SharedStrings:
        """Entry by entry the larger: when a crafted archive holds two tables, count the worse."""
        size = max(self.lengths.size, other.lengths.size)
        lengths = np.zeros(size, dtype=np.int64)
        lengths[: self.lengths.size] = self.lengths
        lengths[: other.lengths.size] = np.maximum(lengths[: other.lengths.size], other.lengths)
        return SharedStrings(lengths, max(self.declared, other.declared))


def check_sheets(archive: zipfile.ZipFile, limits: ReadLimits, display: str) -> None:
    """Measure every worksheet-like part of ``archive``; refuse (E_TOO_LARGE) the first over a limit."""
    infos = [info for info in archive.infolist() if info.filename.lower().endswith(".xml")]
    tables = [info for info in infos if posixpath.basename(info.filename.lower()) == "sharedstrings.xml"]
    shared = SharedStrings()
    for info in tables:
        shared = shared.merged(_measure_shared_strings(archive, info, display))
    if shared.declared > max(shared.lengths.size, limits.max_sheet_cells):
        # calamine reserves room for uniqueCount entries before reading one: a declared trillion aborts it.
        raise _refusal(
            display, None, f"共享字符串表声明了{shared.declared}个字符串，实际只有{shared.lengths.size}个"
        )
    for info in infos:
        if info in tables:
            continue
        cost = measure_sheet(archive, info, shared, limits, display)
        if cost.cells > limits.max_sheet_cells or cost.text_bytes > limits.max_sheet_text_bytes:
            _refuse(archive, cost, limits, display)


def measure_sheet(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, shared: SharedStrings, limits: ReadLimits, display: str
) -> SheetCost:
    """The cost of one part: the fast path, then, if it cannot read the part or finds it over the text limit,
    the exact slow path."""
    try:
        cost = _fast(archive, info, shared, display)
    except _NotCanonical:
        return _slow(archive, info, shared, limits, display)
    if cost.text_bytes > limits.max_sheet_text_bytes:
        return _slow(archive, info, shared, limits, display)
    return cost


# ------------------------------------------------------------------------------------------------ reading


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, display: str) -> Iterator[tuple[bytes, int]]:
    """``(buffer, cut)``: the part as UTF-8, where "<" positions before ``cut`` are processed now and the rest
    comes again at the start of the next buffer. zipguard has already checked every part inflates."""
    carried = b""
    decode = None
    with archive.open(info) as stream:
        first = True
        while chunk := stream.read(CHUNK_BYTES):
            if first:
                decode = _utf16_decoder(chunk)
                first = False
            if decode is not None:
                chunk = decode(chunk).encode("utf-8")
            buffer = carried + chunk
            cut = buffer.rfind(b"<", 0, max(len(buffer) - _TAIL_BYTES, 0) + 1)
            if cut <= 0:
                cut = max(len(buffer) - _TAIL_BYTES, 0)
            yield buffer, cut
            carried = buffer[cut:]
    if carried:
        yield carried, len(carried)


def _utf16_decoder(head: bytes) -> Callable[[bytes], str] | None:
    """XML parts may be UTF-16 (a BOM or a NUL next to the first "<"); the byte patterns here need UTF-8."""
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        codec = "utf-16"
    elif head[:2] == b"<\x00":
        codec = "utf-16-le"
    elif head[:2] == b"\x00<":
        codec = "utf-16-be"
    else:
        return None
    return codecs.getincrementaldecoder(codec)(errors="replace").decode


def _tag_ends(array: np.ndarray, starts: np.ndarray, display: str, part: str) -> np.ndarray:
    """The ">" closing each tag that opens at ``starts``; a tag with none within _TAIL_BYTES is refused."""
    closers = np.flatnonzero(array == _GT)
    index = np.searchsorted(closers, starts)
    if starts.size == 0:
        return starts
    if index[-1] >= closers.size or np.any(closers[index] - starts > _TAIL_BYTES):
        raise _refusal(display, part, f"含有超过{_TAIL_BYTES}字节的XML标记", named=False)
    return closers[index]


# ------------------------------------------------------------------------------------------ shared strings


def _measure_shared_strings(archive: zipfile.ZipFile, info: zipfile.ZipInfo, display: str) -> SharedStrings:
    """Each entry's length is the distance from its <si> to the next (the last: to the part's end), less the
    16 bytes of <si><t></t></si> that any entry with text has: an upper bound on its text, whatever entities,
    runs or whitespace it is written with."""
    starts: list[np.ndarray] = []
    offset = 0
    declared = 0
    for buffer, cut in _chunks(archive, info, display):
        if not declared and (found := _UNIQUE_COUNT.search(buffer, 0, cut + 256)):
            declared = int(found.group(1)[:20])
        positions = [match.start() for match in _SHARED_STRING.finditer(buffer, 0) if match.start() < cut]
        starts.append(np.asarray(positions, dtype=np.int64) + offset)
        offset += cut
    if not starts:
        return SharedStrings(declared=declared)
    edges = np.concatenate([*starts, np.asarray([offset], dtype=np.int64)])
    return SharedStrings(np.maximum(np.diff(edges) - _ENTRY_MARKUP, 0), declared)


# ------------------------------------------------------------------------------------------------ fast path


def _fast(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shared: SharedStrings, display: str) -> SheetCost:
    cost = SheetCost(info.filename)
    for buffer, cut in _chunks(archive, info, display):
        region = buffer[:cut]
        if (
            _PREFIXED_NAME.search(region)
            or _ODD_CELL_START.search(region)
            or region.count(b"<c ") != region.count(b'<c r="')
            or _ODD_VALUE_START.search(region)
        ):
            raise _NotCanonical
        array = np.frombuffer(buffer + bytes(32), dtype=np.uint8)
        opens = np.flatnonzero(array[:cut] == _LT)
        cells = opens[_followed_by(array, opens, b'<c r="')]
        ends = _tag_ends(array, cells, display, info.filename)
        filled = array[ends - 1] != _SLASH  # <c r="B7" s="3"/> holds nothing; calamine skips it
        rows, columns = _references(array, cells[filled] + 6)
        cost.place(rows, columns)
        values = opens[_followed_by(array, opens, b"<v>")]
        cost.shared_bytes += _shared_bytes(array, values + 3, shared)
    return cost


def _followed_by(array: np.ndarray, positions: np.ndarray, pattern: bytes) -> np.ndarray:
    mask = np.ones(positions.size, dtype=bool)
    for offset, byte in enumerate(pattern):
        mask &= array[positions + offset] == byte
    return mask


def _leading(window: np.ndarray, low: int, high: int) -> np.ndarray:
    """How many bytes at the start of each window row lie in [low, high]."""
    inside = (window >= low) & (window <= high)
    return np.where(inside.all(axis=1), window.shape[1], np.argmin(inside, axis=1))


def _references(array: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based (row, column) of the references ``B7"`` at ``starts``; anything but 1-3 capitals, 1-7 digits
    and the closing quote sends the part to the slow path, which follows calamine's own arithmetic."""
    window = array[starts[:, None] + np.arange(12)]
    letters = _leading(window, ord("A"), ord("Z"))
    rows = np.arange(starts.size)[:, None]
    after = window[rows, np.minimum(letters[:, None] + np.arange(9), 11)]  # what follows the letters
    digits = _leading(after, ord("0"), ord("9"))
    closing = after[np.arange(starts.size), np.minimum(digits, 8)]
    if np.any((letters < 1) | (letters > 3) | (digits < 1) | (digits > 7) | (closing != _QUOTE)):
        raise _NotCanonical
    column = np.zeros(starts.size, dtype=np.int64)
    for k in range(3):
        column = np.where(k < letters, column * 26 + window[:, k].astype(np.int64) - ord("A") + 1, column)
    row = np.zeros(starts.size, dtype=np.int64)
    for k in range(7):
        row = np.where(k < digits, row * 10 + after[:, k].astype(np.int64) - ord("0"), row)
    return row - 1, column - 1


def _shared_bytes(array: np.ndarray, starts: np.ndarray, shared: SharedStrings) -> int:
    """Bytes of the shared strings numbered by the whole numbers at ``starts`` (value texts)."""
    if starts.size == 0 or shared.lengths.size == 0:
        return 0
    window = array[starts[:, None] + np.arange(12)]
    digits = _leading(window, ord("0"), ord("9"))
    closing = window[np.arange(window.shape[0]), np.minimum(digits, 11)]
    whole = (digits > 0) & (closing == _LT)
    if np.any(digits > 10):
        raise _NotCanonical  # leading zeros can hide a small index in a long number
    number = np.zeros(starts.size, dtype=np.int64)
    for k in range(10):
        number = np.where(k < digits, number * 10 + window[:, k].astype(np.int64) - ord("0"), number)
    named = number[whole & (number < shared.lengths.size)]
    return int(shared.lengths[named].sum())


# ------------------------------------------------------------------------------------------------ slow path


@dataclass
class _Placer:
    """Where calamine puts each cell (xlsx/cells_reader.rs, next_cell): at its r attribute when it has one,
    else after the previous cell of the row; rows at their r attribute, else after the previous row."""

    row: int = 0
    column: int = 0


def _slow(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, shared: SharedStrings, limits: ReadLimits, display: str
) -> SheetCost:
    cost = SheetCost(info.filename, exact=True)
    place = _Placer()
    longest = shared.longest
    for buffer, cut in _chunks(archive, info, display):
        for match in _TOKEN.finditer(buffer):
            if match.start() >= cut:
                break
            closing, name, attributes = match.groups()
            if attributes.count(b'"') % 2 or attributes.count(b"'") % 2:
                # A ">" inside an attribute value ended the match early: what follows it is unread.
                raise _refusal(display, info.filename, "含有无法识别的单元格标记", named=False)
            if name == b"row":
                _row(place, closing, attributes)
                continue
            if closing:
                continue
            empty = attributes.rstrip().endswith(b"/")
            reference = _ATTRIBUTE_R.search(attributes)
            if reference is not None:
                place.row, place.column = _calamine_position(reference.group(1), place.row)
            if not empty:
                cost.place_range((place.row, place.column), (place.row, place.column))
                kind = _ATTRIBUTE_T.search(attributes)
                if kind is not None and kind.group(1) == b"s":
                    cost.shared_bytes += _named_length(buffer, match.end(), shared, longest)
            place.column += 1
            if cost.cells > limits.max_sheet_cells or cost.text_bytes > limits.max_sheet_text_bytes:
                return cost  # already over: no need to read the rest
    return cost


def _row(place: _Placer, closing: bytes, attributes: bytes) -> None:
    if closing:
        place.row += 1
        place.column = 0
        return
    number = _ATTRIBUTE_R.search(attributes)
    if number is not None and number.group(1).isdigit():
        place.row = (int(number.group(1)[:12]) - 1) % _U32
    if attributes.rstrip().endswith(b"/"):  # <row r="5"/>: calamine sees a start and an end
        place.row += 1
        place.column = 0


def _calamine_position(reference: bytes, row: int) -> tuple[int, int]:
    """calamine's get_row_column: letters then digits, u32 arithmetic wrapping; a malformed reference makes
    calamine fail the sheet, so any placement will do."""
    column = 0
    number = 0
    index = 0
    while index < len(reference) and chr(reference[index]).isalpha() and reference[index] < 128:
        column = (column * 26 + (reference[index] | 0x20) - ord("a") + 1) % _U32
        index += 1
    digits = reference[index:]
    if not digits.isdigit():
        return row, 0
    for digit in digits:
        number = (number * 10 + digit - ord("0")) % _U32
    return (number - 1) % _U32, (column - 1) % _U32


def _named_length(buffer: bytes, end: int, shared: SharedStrings, longest: int) -> int:
    value = _VALUE_AFTER.match(buffer, end)
    if value is None:
        return longest  # the index is not where calamine looks first: assume the worst string
    digits = value.group(1).lstrip(b"0") or b"0"
    if len(digits) > 12:
        return 0
    index = int(digits)
    return int(shared.lengths[index]) if index < shared.lengths.size else 0


# ---------------------------------------------------------------------------------------------- refusing


def _refuse(archive: zipfile.ZipFile, cost: SheetCost, limits: ReadLimits, display: str) -> None:
    sheet = _sheet_names(archive).get(cost.part)
    if cost.cells > limits.max_sheet_cells:
        assert cost.first is not None
        corner = f"{_cell_name(cost.first)}到{_cell_name(cost.last)}"
        reason = f"数据区域从{corner}，共{cost.cells}个单元格，超过上限{limits.max_sheet_cells}个"
    else:
        reason = (
            f"各单元格引用的共享字符串展开后至少有{cost.text_bytes}字节文字，"
            f"超过上限{limits.max_sheet_text_bytes}字节"
        )
    raise _refusal(display, sheet or cost.part, reason, named=sheet is not None)


def _refusal(display: str, where: str | None, reason: str, *, named: bool = True) -> ReadError:
    place = "" if where is None else (f"的工作表“{where}”" if named else f"的部件{where}")
    return ReadError(
        "E_TOO_LARGE",
        f"文件“{display}”{place}{reason}，读取时会占用远超文件本身的内存，疑似恶意构造的文件，请检查后重新导出",
    )


def _cell_name(position: tuple[int, int]) -> str:
    letters = ""
    index = position[1] + 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{position[0] + 1}"


def _sheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Part name -> sheet name, via workbook.xml and its relationships; {} when they cannot be read."""
    try:
        workbook = _metadata(archive, "xl/workbook.xml")
        relations = _metadata(archive, "xl/_rels/workbook.xml.rels")
    except (KeyError, ValueError, SyntaxError, DefusedXmlException):
        return {}
    targets: dict[str, str] = {}
    for element in relations.iter():
        if element.tag.rsplit("}", 1)[-1] == "Relationship":
            target = element.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
            targets[element.get("Id", "")] = part
    names: dict[str, str] = {}
    for element in workbook.iter():
        if element.tag.rsplit("}", 1)[-1] == "sheet":
            relation = next((v for k, v in element.attrib.items() if k.rsplit("}", 1)[-1] == "id"), "")
            if relation in targets:
                names[targets[relation]] = element.get("name", "")
    return names


def _metadata(archive: zipfile.ZipFile, name: str) -> Element:
    info = archive.getinfo(name)
    if info.file_size > _METADATA_BYTES:
        raise ValueError(name)
    return safe_xml.fromstring(archive.read(info))
