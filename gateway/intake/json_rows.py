"""Stream the records of a JSON export: an array of objects, an object with one array member, or JSON Lines.

Why an incremental parser of our own: ``json.load`` turns the whole document into Python objects (a
500 MB export needs several gigabytes), ijson is not in the environment, and pyarrow's JSON reader
takes only line-delimited input, infers types (an amount of 1.50 comes back as 1.5, a long number
typed as a number loses digits) and turns nested objects into struct columns instead of errors. The
standard library's ``JSONDecoder.raw_decode`` parses one value from an offset in a string at C
speed and says where it ended; around it, :class:`_Cursor` reads the text in chunks and steps over the
punctuation of the outer array or object, handing each record to ``raw_decode``. Only one record is
ever held as Python objects, and a record larger than ``ReadLimits.max_json_record_chars`` is refused.

Shapes, decided from the content (and the name, for JSON Lines):

* ``[{...}, {...}]``: an array of records;
* ``{"code": 0, "data": [{...}], "total": 1}``: an object with exactly one array member, whose
  elements are the records; the other members are envelope metadata and are skipped;
* JSON Lines (one value per line): when the name ends .jsonl/.ndjson, or the first line holds a
  complete object and more follows. A line that does not parse is a row error, not a file error;
* an object with no array member: a single record.

Values become text: strings as they are, numbers exactly as written (1.50 stays 1.50, an 18-digit
number keeps every digit; exponents are written out), true/false as TRUE/FALSE like XLSX cells, null
as empty. Nested objects and arrays, NaN/Infinity (which Python's json accepts and JSON does not), a
key repeated within a record and a record that is not an object are row errors naming the key.
Control characters inside strings are let through (they are not valid JSON) so that the validator
names the cell, instead of one stray character refusing the whole file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, TextIO

import pyarrow as pa

from gateway.intake.cells import FALSE_TEXT, PRECISION_LIMIT, PRECISION_MESSAGE, TRUE_TEXT
from gateway.intake.encoding import detect_encoding
from gateway.intake.errors import MalformedRow, ReadError
from gateway.intake.limits import ReadLimits
from gateway.intake.record_rows import (
    FIRST_ROW,
    RAW_BATCH_ROWS,
    Cells,
    FieldNames,
    RowBuffer,
    field_label,
    preview,
)

CHUNK_CHARS = 1024 * 1024
LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})

_TAIL_CHARS = 16
"""A decoding error this close to the end of the buffer may only mean the value goes on in the next chunk."""
_WRITTEN_OUT_EXPONENT = 30
"""Exponents up to this are written out (1e5 → 100000); 1e999999 would become a million digits."""
_SPACE = re.compile(r"[ \t\n\r]*")
_BLANK = " \t\r\n"
_MESSAGES = {
    "Expecting value": "缺少值",
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting ':' delimiter": "缺少冒号",
    "Expecting property name enclosed in double quotes": "键名须用双引号括起",
    "Unterminated string starting at": "字符串缺少结尾的引号",
    "Invalid \\escape": "转义字符无效",
    "Invalid \\uXXXX escape": "转义字符无效",
    "Invalid control character at": "含有控制字符",
}

_TRUNCATED = "文件内容在中途结束（可能上传时被截断，或引号、括号没有闭合）"

Mode = Literal["array", "object", "lines"]
"""How records are laid out; "object" is an envelope object (or a single record, see :class:`JsonRows`)."""


class _Object(list[tuple[str, object]]):
    """A decoded JSON object as its (key, value) pairs, so a repeated key stays visible."""


class _Number(str):
    """A JSON number, kept as written."""


class _Constant(str):
    """NaN, Infinity or -Infinity: accepted by Python's json module, but not JSON."""


@dataclass(frozen=True)
class _BadLine:
    """A JSON Lines line that could not be read as a value."""

    line: int
    reason: str
    text: str


def _decoder() -> json.JSONDecoder:
    return json.JSONDecoder(
        object_pairs_hook=_Object,
        parse_float=_Number,
        parse_int=_Number,
        parse_constant=_Constant,
        strict=False,
    )


def _reason(message: str) -> str:
    for prefix, text in _MESSAGES.items():
        if message.startswith(prefix):
            return text
    return message


class _RecordTooLarge(Exception):
    """A value grew past ``ReadLimits.max_json_record_chars``; the reader, which counts records, words it."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Cursor:
    """The file's text, held one chunk (or one record) at a time, with a read position."""

    def __init__(self, stream: TextIO, limit: int, display: str) -> None:
        self.text = ""
        self.pos = 0
        self._stream = stream
        self._limit = limit
        self._display = display
        self._eof = False
        self._lines_before = 0
        self._decoder = _decoder()

    def peek(self) -> str:
        """The next character that is not whitespace (whitespace is consumed); "" at the end of the file."""
        while True:
            match = _SPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._fill(CHUNK_CHARS):
                return ""

    def expect(self, char: str, what: str) -> None:
        found = self.peek()
        if found != char:
            raise self.unexpected(found, what)
        self.pos += 1

    def expect_end(self) -> None:
        found = self.peek()
        if found:
            raise self.corrupt("JSON数据结束后还有多余内容")

    def value(self) -> object:
        """Decode the value at the position, reading on while it may continue in the next chunk."""
        if not self.peek():  # raw_decode does not skip leading whitespace
            raise self.corrupt(_TRUNCATED)
        while True:
            try:
                value, end = self._decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                unterminated = exc.msg.startswith("Unterminated string")
                if (unterminated or exc.pos >= len(self.text) - _TAIL_CHARS) and self._grow():
                    continue
                # At the end of the file the error's position is final: there, the text simply stopped.
                if unterminated or exc.pos >= len(self.text.rstrip()):
                    raise self.corrupt(_TRUNCATED, len(self.text)) from exc
                raise self.corrupt(f"不是有效的JSON（{_reason(exc.msg)}）", exc.pos) from exc
            except RecursionError as exc:
                line = self.line(self.pos)
                raise ReadError(
                    "E_TOO_DEEP", f"文件“{self._display}”第{line}行附近的JSON嵌套层数过深，无法读取"
                ) from exc
            if end == len(self.text) and self._grow():
                continue  # a number at the end of the buffer may have more digits in the next chunk
            if end - self.pos > self._limit:
                raise self._too_large()
            self.pos = end
            return value

    def line(self, position: int) -> int:
        return self._lines_before + self.text.count("\n", 0, position) + 1

    def corrupt(self, reason: str, position: int | None = None) -> ReadError:
        line = self.line(self.pos if position is None else position)
        return ReadError("E_CORRUPT", f"文件“{self._display}”第{line}行附近{reason}")

    def unexpected(self, found: str, what: str) -> ReadError:
        if not found:
            return self.corrupt(_TRUNCATED)
        return self.corrupt(f"不是有效的JSON（此处应为{what}）")

    def _grow(self) -> bool:
        """Read more for the value at the position; refuse it once it passes the record limit."""
        if self._eof:
            return False
        if len(self.text) - self.pos > self._limit:
            raise self._too_large()
        # Reading as much again as is held keeps re-parsing a long record linear overall.
        return self._fill(max(CHUNK_CHARS, len(self.text) - self.pos))

    def _too_large(self) -> _RecordTooLarge:
        return _RecordTooLarge(self.line(self.pos))

    def _fill(self, size: int) -> bool:
        chunk = self._stream.read(size)
        if not chunk:
            self._eof = True
            return False
        if self.pos:
            self._lines_before += self.text.count("\n", 0, self.pos)
            self.text = self.text[self.pos :]
            self.pos = 0
        self.text += chunk
        return True


def _items(cursor: _Cursor) -> Iterator[object]:
    """The elements of the array at the position."""
    cursor.expect("[", "“[”")
    if cursor.peek() == "]":
        cursor.pos += 1
        return
    while True:
        yield cursor.value()
        separator = cursor.peek()
        if separator not in (",", "]"):
            raise cursor.unexpected(separator, "逗号或“]”")
        cursor.pos += 1
        if separator == "]":
            return


def _members(cursor: _Cursor) -> Iterator[str]:
    """The keys of the object at the position; the caller consumes each member's value before resuming."""
    cursor.expect("{", "“{”")
    if cursor.peek() == "}":
        cursor.pos += 1
        return
    while True:
        if cursor.peek() != '"':
            raise cursor.unexpected(cursor.peek(), "双引号括起的键名")
        key = cursor.value()
        cursor.expect(":", "冒号")
        yield str(key)
        separator = cursor.peek()
        if separator not in (",", "}"):
            raise cursor.unexpected(separator, "逗号或“}”")
        cursor.pos += 1
        if separator == "}":
            return


def _lines(stream: TextIO, limit: int) -> Iterator[object | _BadLine]:
    """One value per non-blank line; a line that is not one JSON value is a _BadLine."""
    decoder = _decoder()
    number = 0
    while line := stream.readline(limit):
        number += 1
        if not line.endswith("\n") and len(line) >= limit:
            while (rest := stream.readline(limit)) and not rest.endswith("\n"):
                pass
            yield _BadLine(number, f"超过{limit}个字符", line)
            continue
        text = line.strip(" \t\r\n\ufeff")
        if not text:
            continue
        try:
            value, end = decoder.raw_decode(text)
        except json.JSONDecodeError as exc:
            yield _BadLine(number, f"不是有效的JSON（{_reason(exc.msg)}）", text)
            continue
        except RecursionError:
            yield _BadLine(number, "JSON嵌套层数过深", text)
            continue
        if end != len(text):
            yield _BadLine(number, "一行中有多个JSON值", text)
            continue
        yield value


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "数组"
    if isinstance(value, _Number | _Constant):
        return "数值"
    if isinstance(value, str):
        return "字符串"
    if isinstance(value, bool):
        return "布尔值"
    return "null"


def _render(value: object, depth: int = 0) -> str:
    """Compact JSON of a value for the landing copy of a rejected cell, shallow and short."""
    if isinstance(value, _Object):
        if depth >= 2:
            return "{…}"
        inner = ", ".join(
            f"{json.dumps(key, ensure_ascii=False)}: {_render(item, depth + 1)}" for key, item in value[:5]
        )
        return "{" + inner + (", …" if len(value) > 5 else "") + "}"
    if isinstance(value, list):
        if depth >= 2:
            return "[…]"
        inner = ", ".join(_render(item, depth + 1) for item in value[:5])
        return "[" + inner + (", …" if len(value) > 5 else "") + "]"
    if isinstance(value, _Number | _Constant):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: object) -> tuple[str | None, str | None]:
    """A value's cell text and, if it cannot be taken as it is, the reason (Chinese)."""
    if isinstance(value, _Constant):
        return str(value), f"值为{value}，不是有效的JSON数值"
    if isinstance(value, _Number):
        return _number_text(value)
    if isinstance(value, str):
        if _SURROGATE.search(value):
            # JSON's \ud800 escapes can name half of a UTF-16 pair alone, which is no character at all:
            # the cell cannot be stored or sent, so its row is refused and the receipt shows U+FFFD there.
            return _SURROGATE.sub(
                "\ufffd", value
            ), "含有无法识别的字符（孤立的代理码位，如\\ud800），请检查导出程序的字符编码"
        return value or None, None
    if isinstance(value, bool):
        return (TRUE_TEXT if value else FALSE_TEXT), None
    if value is None:
        return None, None
    shape = "对象" if isinstance(value, _Object) else "数组"
    return preview(_render(value)), f"值是嵌套的{shape}，不能作为单一字段值读取，请将其展开为单独的字段"


def _number_text(written: str) -> tuple[str, str | None]:
    """Numbers keep the digits as written: JSON carries them as text, so nothing was lost on the way.

    Only a fraction or exponent marks a number that went through floating point at the sender, where
    digits past the 15th of an ID number typed into a number column are already gone.
    """
    if written.isdigit() or (written.startswith("-") and written[1:].isdigit()):
        return written, None
    number = Decimal(written)  # JSON's number grammar is a subset of Decimal's
    problem = PRECISION_MESSAGE if abs(number) >= PRECISION_LIMIT else None
    if ("e" in written or "E" in written) and abs(number.adjusted()) <= _WRITTEN_OUT_EXPONENT:
        return format(number, "f"), problem
    return written, problem


@dataclass
class JsonRows:
    """Raw batches of a JSON export; create with :meth:`open`, which reads the file once for the header."""

    path: Path
    display: str
    encoding: str
    mode: Mode
    single: bool
    """For mode "object": True when the object has no array member and is itself the one record."""
    headers: list[str]
    limits: ReadLimits

    @classmethod
    def open(cls, path: Path, display: str, limits: ReadLimits) -> JsonRows:
        encoding = detect_encoding(path, display)
        mode = _sniff_mode(path, encoding, display, limits)
        names = FieldNames(limits.max_columns, display)
        reader = cls(
            path=path, display=display, encoding=encoding, mode=mode, single=False, headers=[], limits=limits
        )
        records = objects = 0
        first_bad: _BadLine | None = None
        for record in reader._records(first_pass=True):
            records += 1
            if isinstance(record, _Object):
                objects += 1
                for key, _value in record:
                    names.add(key.strip())
            elif isinstance(record, _BadLine) and first_bad is None:
                first_bad = record
        if records == 0:
            raise ReadError("E_EMPTY", f"文件“{display}”中没有任何记录")
        if objects == 0 and first_bad is not None:
            raise ReadError(
                "E_CORRUPT",
                f"文件“{display}”中没有一行能读取为JSON对象（例如第{first_bad.line}行{first_bad.reason}）",
            )
        if objects == 0:
            raise ReadError(
                "E_FORMAT",
                f"文件“{display}”中的记录都不是JSON对象（键值对），无法得到字段，"
                '应为对象数组，例如 [{"名称": "…"}]',
            )
        if not names:
            raise ReadError("E_NO_HEADER", f"文件“{display}”中的记录都没有字段")
        reader.headers = names.names
        return reader

    def label(self, index: int) -> str:
        return field_label(self.headers[index] if index < len(self.headers) else "")

    def raw_batches(self, batch_rows: int, errors: list[MalformedRow]) -> Iterator[pa.RecordBatch]:
        index = {name: position for position, name in enumerate(self.headers)}
        buffer = RowBuffer(len(self.headers))
        for row, record in enumerate(self._records(first_pass=False), start=FIRST_ROW):
            cells, fallback = self._cells(record, row, index, errors)
            buffer.add(row, cells, flagged=fallback is not None, fallback=fallback or "")
            if len(buffer) >= min(batch_rows, RAW_BATCH_ROWS):
                yield buffer.take()
        if len(buffer):
            yield buffer.take()

    def _records(self, *, first_pass: bool) -> Iterator[object | _BadLine]:
        """Every record in file order. The first pass also settles, for mode "object", envelope vs single."""
        count = 0
        try:
            for record in self._read(first_pass=first_pass):
                count += 1
                yield record
        except _RecordTooLarge as exc:
            raise ReadError(
                "E_TOO_LARGE",
                f"文件“{self.display}”第{FIRST_ROW + count}行（文件第{exc.line}行）附近的记录超过"
                f"{self.limits.max_json_record_chars}个字符（单条记录的上限；单元格的上限为"
                f"{self.limits.max_cell_chars}个字符），"
                "通常是某个字符串的引号没有闭合，整份文件未接收",
            ) from exc

    def _read(self, *, first_pass: bool) -> Iterator[object | _BadLine]:
        with self.path.open(encoding=self.encoding, newline="") as stream:
            if self.mode == "lines":
                yield from _lines(stream, self.limits.max_json_record_chars)
                return
            cursor = _Cursor(stream, self.limits.max_json_record_chars, self.display)
            if self.mode == "array":
                yield from _items(cursor)
            elif first_pass:
                yield from self._scan_object(cursor)
            else:
                yield from self._object_records(cursor)
            cursor.expect_end()

    def _scan_object(self, cursor: _Cursor) -> Iterator[object]:
        arrays: list[str] = []
        pairs = _Object()
        for key in _members(cursor):
            if cursor.peek() == "[":
                arrays.append(key)
                if len(arrays) > 1:
                    names = "、".join(f"“{name}”" for name in arrays)
                    raise ReadError(
                        "E_FORMAT",
                        f"文件“{self.display}”的JSON对象中有多个数组成员（{names}），无法确定哪一个是数据，"
                        "请只保留数据数组",
                    )
                yield from _items(cursor)
            else:
                pairs.append((key, cursor.value()))
        self.single = not arrays
        if self.single:
            yield pairs

    def _object_records(self, cursor: _Cursor) -> Iterator[object]:
        pairs = _Object()
        for key in _members(cursor):
            if not self.single and cursor.peek() == "[":
                yield from _items(cursor)
            elif self.single:
                pairs.append((key, cursor.value()))
            else:
                cursor.value()
        if self.single:
            yield pairs

    def _cells(
        self, record: object, row: int, index: dict[str, int], errors: list[MalformedRow]
    ) -> tuple[Cells, str | None]:
        """The record's cells and, when it has a reader error, what to show if all its cells are blank."""
        if isinstance(record, _BadLine):
            errors.append(MalformedRow(row, f"第{row}行（文件第{record.line}行）：{record.reason}，无法读取"))
            return [], record.text
        if not isinstance(record, _Object):
            errors.append(MalformedRow(row, f"第{row}行：该条记录是{_kind(record)}，不是JSON对象（键值对）"))
            return [], _render(record)
        cells: Cells = []
        taken: set[int] = set()
        fallback: str | None = None
        for key, value in record:
            name = key.strip()
            position = index.get(name)
            if position is None:
                raise ReadError(
                    "E_CHANGED", f"文件“{self.display}”在读取过程中被修改，请等文件完整上传后再处理"
                )
            if position in taken:
                errors.append(
                    MalformedRow(row, f"第{row}行{field_label(name)}：同一条记录中出现了多次，只读取第一个")
                )
                fallback = fallback or _render(value)
                continue
            taken.add(position)
            text, problem = _text(value)
            if problem is not None:
                errors.append(MalformedRow(row, f"第{row}行{field_label(name)}：{problem}"))
                fallback = fallback or text or _render(value)
            if text is not None:
                cells.append((position, text))
        return cells, fallback


def _sniff_mode(path: Path, encoding: str, display: str, limits: ReadLimits) -> Mode:
    """Array, envelope object or JSON Lines, from the first characters and the first line."""
    if path.suffix.lower() in LINES_SUFFIXES:
        return "lines"
    with path.open(encoding=encoding, newline="") as stream:
        first, rest = _first_line(stream, limits.max_json_record_chars)
        if not first:
            raise ReadError("E_EMPTY", f"文件“{display}”中没有任何记录")
        if first.startswith("["):
            return "array"
        if not first.startswith("{"):
            raise ReadError(
                "E_FORMAT", f"文件“{display}”不是JSON数组或对象（顶层应为“[”或“{{”），无法读取记录"
            )
        try:
            value, end = _decoder().raw_decode(first)
        except (json.JSONDecodeError, RecursionError):
            return "object"  # the first line is only the start of an object: an envelope, pretty-printed
        if end != len(first) or not isinstance(value, _Object):
            return "object"
        if rest.strip(_BLANK):
            return "lines"
        while more := stream.read(CHUNK_CHARS):
            if more.strip(_BLANK):
                return "lines"
    return "object"


def _first_line(stream: TextIO, limit: int) -> tuple[str, str]:
    """The first line with content, stripped, and what was read after it. Blank space is skipped a chunk
    at a time: a file of millions of empty lines must not cost a Python step each."""
    while chunk := stream.read(CHUNK_CHARS):
        chunk = chunk.lstrip(_BLANK + "\ufeff")
        if not chunk:
            continue
        line, newline, rest = chunk.partition("\n")
        if not newline:
            line += stream.readline(max(limit - len(line), 1))
        return line.strip(_BLANK + "\ufeff"), rest
    return "", ""
