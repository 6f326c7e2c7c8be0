"""Stream the records of an XML export, refusing the constructs that make XML dangerous to parse.

Layout: the records are the child elements of the root, or of the container named by ``record_path``
(local names below the root, e.g. "Body/Rows" for ``<Response><Body><Rows><Row>…``); elements outside
the container are envelope and are skipped. A record's fields are its child elements, by local name
(namespaces dropped), and its attributes as "@name". Attributes of field elements are type hints and
the like and are ignored, except ``xsi:nil="true"``, which means empty. A field with child elements of
its own, a field repeated within a record and text directly inside a record are row errors naming the
element, since taking any one reading of them would be a guess.

Safety. Departments' systems and whoever sits between them and us are not trusted, so the parser is
defusedxml's (expat with the dangerous handlers replaced) and these are refused with E_XML_UNSAFE before
anything is expanded or fetched: entity declarations (the "billion laughs" bomb, external entities that
read /etc/passwd), a DOCTYPE naming an external DTD (which a validating parser would download) and
XInclude elements (which an XInclude processor would follow). A DOCTYPE with only an internal subset
and no entities is harmless and is read. Nesting deeper than ``ReadLimits.max_xml_depth`` is refused
(E_TOO_DEEP); the file size is capped by ``open_source`` before this module sees the file.

Encoding: the bytes decide, as for CSV (:func:`detect_encoding`), and the decoded text is fed to
expat, because expat cannot decode GBK or GB18030 itself ("multi-byte encodings are not supported")
and Chinese systems declare encoding="GBK" as often as UTF-8. The declaration is not trusted over
the bytes.

Streaming: the decoded text is fed to the parser in chunks and its start and end events are read after
each; a record is read at its end event and removed from its parent, as is every element above record level
once it ends, so memory holds one record at a time. Two things could still make one record huge or slow:

* a single piece of markup (a start tag with a 100 MB attribute, a comment): the expat in use (2.5.0, before
  the fix for CVE-2023-52425, and without the reparse-deferral switch Python 3.11.9 added) parses an
  unfinished token again from its start on every chunk fed, so time grows with the square of its length.
  After each chunk the bytes fed beyond the parser's last event are that token so far; past
  ``ReadLimits.max_xml_token_bytes`` the file is refused (E_TOO_LARGE) before the cost can grow;
* the text of an element, which expat hands over in pieces: beyond ``ReadLimits.max_cell_chars`` the pieces
  are counted and dropped as they arrive, and the cell, cut to the limit, is a row error as an over-long
  CSV cell is, so one 100 MB value costs its row, not the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLPullParser
from xml.parsers.expat import errors as expat_errors

import pyarrow as pa
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

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

CHUNK_CHARS = 64 * 1024
"""Characters decoded and fed at a time. Re-parsing an unfinished token costs its length per chunk, so with
1 MiB tokens at most some 16 chunks re-read at most 1 MiB each."""
XINCLUDE_NAMESPACE = "{http://www.w3.org/2001/XInclude}"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"

_EXPAT_REASONS = {
    expat_errors.codes[expat_errors.XML_ERROR_NO_ELEMENTS]: "文件内容不完整，在中途结束，可能上传时被截断",
    expat_errors.codes[expat_errors.XML_ERROR_UNCLOSED_TOKEN]: "文件内容不完整，在中途结束，可能上传时被截断",
    expat_errors.codes[expat_errors.XML_ERROR_TAG_MISMATCH]: "开始标签与结束标签不匹配",
    expat_errors.codes[expat_errors.XML_ERROR_INVALID_TOKEN]: "含有不合法的字符或标记",
    expat_errors.codes[expat_errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT]: "根元素结束后还有多余内容",
    expat_errors.codes[expat_errors.XML_ERROR_UNDEFINED_ENTITY]: "引用了未定义的实体",
    expat_errors.codes[expat_errors.XML_ERROR_SYNTAX]: "语法错误",
    expat_errors.codes[expat_errors.XML_ERROR_DUPLICATE_ATTRIBUTE]: "同一元素中属性重复",
}


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _refuse_external_dtd(name: str, system_id: str | None, public_id: str | None, internal: int) -> None:
    """expat's doctype handler: a DTD that lives elsewhere would be fetched by a validating parser."""
    if system_id or public_id:
        raise DTDForbidden(name, system_id, public_id)


class _TokenTooLarge(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _BoundedParser(DefusedXMLParser):
    """defusedxml's parser, keeping at most ``cap`` characters of any one text and counting the rest.

    ``cut`` maps each element whose text was cut to the text's full length; the reader turns that into a
    row error. (The text between or after child elements is bounded the same way, without a note: in a
    record it is an error of its own, and a field with children is one already.)
    """

    def __init__(self, cap: int) -> None:
        super().__init__(
            target=TreeBuilder(),
            encoding="utf-8",
            forbid_dtd=False,
            forbid_entities=True,
            forbid_external=True,
        )
        # ``self.parser`` is the expat parser defusedxml itself installs its handlers on.
        self.parser.StartDoctypeDeclHandler = _refuse_external_dtd
        self.parser.CharacterDataHandler = self._data
        self._keep = self.target.data
        self.cut: dict[Element, int] = {}
        self._cap = cap
        self._room = cap
        self._dropped = 0

    def _data(self, text: str) -> None:
        if len(text) <= self._room:
            self._room -= len(text)
            self._keep(text)
            return
        self._dropped += len(text) - self._room
        if self._room:
            self._keep(text[: self._room])
            self._room = 0

    # The two below are ElementTree's XMLParser._start and _end (Python 3.11) with the text count reset
    # added: they run for every tag, and calling the originals from overrides cost a fifth of the parse.
    def _start(self, tag: str, attr_list: list[str]) -> Element:
        self._room = self._cap
        self._dropped = 0
        fixname = self._fixname  # type: ignore[attr-defined]
        attrib = {}
        if attr_list:
            for i in range(0, len(attr_list), 2):
                attrib[fixname(attr_list[i])] = attr_list[i + 1]
        return self.target.start(fixname(tag), attrib)  # type: ignore[no-any-return]

    def _end(self, tag: str) -> Element:
        element: Element = self.target.end(self._fixname(tag))  # type: ignore[attr-defined]
        if self._dropped:
            if not len(element):
                self.cut[element] = self._cap + self._dropped
            self._dropped = 0
        self._room = self._cap
        return element


@dataclass
class XmlRows:
    """Raw batches of an XML export; create with :meth:`open`, which reads the file once for the header."""

    path: Path
    display: str
    encoding: str
    container: tuple[str, ...]
    """Local names of the record container's ancestors-or-self below the root; empty: the root itself."""
    headers: list[str]
    limits: ReadLimits
    _cut: dict[Element, int] = field(default_factory=dict, repr=False)
    """The parser's note of the fields whose text it cut (see _BoundedParser)."""

    @classmethod
    def open(cls, path: Path, display: str, limits: ReadLimits, record_path: str | None = None) -> XmlRows:
        encoding = detect_encoding(path, display)
        container = tuple(part for part in (record_path or "").split("/") if part)
        reader = cls(
            path=path, display=display, encoding=encoding, container=container, headers=[], limits=limits
        )
        names = FieldNames(limits.max_columns, display)
        records = 0
        for record in reader._records():
            records += 1
            for attribute in record.attrib:
                names.add("@" + _local(attribute))
            for child in record:
                names.add(_local(child.tag))
        if records == 0:
            where = f"路径“{record_path}”下" if container else "根元素下"
            raise ReadError("E_EMPTY", f"文件“{display}”的{where}没有任何记录")
        if not names:
            raise ReadError("E_NO_HEADER", f"文件“{display}”中的记录都没有字段（子元素或属性）")
        reader.headers = names.names
        return reader

    def label(self, index: int) -> str:
        return field_label(self.headers[index] if index < len(self.headers) else "")

    def raw_batches(self, batch_rows: int, errors: list[MalformedRow]) -> Iterator[pa.RecordBatch]:
        index = {name: position for position, name in enumerate(self.headers)}
        buffer = RowBuffer(len(self.headers))
        for row, record in enumerate(self._records(), start=FIRST_ROW):
            cells, fallback = self._cells(record, row, index, errors)
            buffer.add(row, cells, flagged=fallback is not None, fallback=fallback or "")
            if len(buffer) >= min(batch_rows, RAW_BATCH_ROWS):
                yield buffer.take()
        if len(buffer):
            yield buffer.take()

    def _records(self) -> Iterator[Element]:
        """Each record element, complete, in document order; it is discarded once the caller resumes.

        This loop runs for every start and end tag of the file, so it does as little as it can below
        record level: fields are freed with their record and need no bookkeeping of their own.
        """
        record_depth = len(self.container) + 2
        container = list(self.container)
        max_depth = self.limits.max_xml_depth
        ancestors: list[Element] = []  # the open elements above record level
        names: list[str] = []  # their local names
        depth = 0
        yielded = 0
        with self.path.open(encoding=self.encoding, newline="") as stream:
            try:
                for event, element in self._events(stream):
                    if event == "start":
                        depth += 1
                        if depth > max_depth:
                            raise self._too_deep()
                        if element.tag.startswith(XINCLUDE_NAMESPACE):
                            raise self._unsafe("含有XInclude引用（可用于把服务器上的其他文件包含进来）")
                        if depth < record_depth:
                            ancestors.append(element)
                            names.append(_local(element.tag))
                        continue
                    depth -= 1
                    if depth >= record_depth:
                        continue
                    if depth == record_depth - 1:
                        if names[1:] == container:
                            yielded += 1
                            yield element
                    else:
                        ancestors.pop()
                        names.pop()
                    if ancestors:
                        ancestors[-1].remove(element)  # records and envelope parts alike, once ended
            except _TokenTooLarge as exc:
                raise self._token_too_large(exc.line, FIRST_ROW + yielded) from exc
            except ParseError as exc:
                raise self._corrupt(exc) from exc
            except EntitiesForbidden as exc:
                raise self._unsafe(_entity_reason(exc)) from exc
            except DTDForbidden as exc:
                raise self._unsafe(
                    "引用了外部DTD（文档类型定义），处理它需要从外部地址下载文件，可能泄露服务器信息"
                ) from exc
            except ExternalReferenceForbidden as exc:
                raise self._unsafe("引用了外部资源，可能用于读取服务器上的文件") from exc

    def _events(self, stream: TextIO) -> Iterator[tuple[str, Element]]:
        """(event, element) for every start and end tag, fed a chunk at a time with the token guard between.

        What ElementTree's iterparse does, except that after each chunk the bytes fed past the parser's last
        event are checked: that is how long the token it is still inside has grown.
        """
        parser = _BoundedParser(self.limits.max_cell_chars)
        self._cut = parser.cut
        pull = XMLPullParser(events=("start", "end"), _parser=parser)  # type: ignore[call-arg]
        expat = parser.parser
        fed = 0
        while chunk := stream.read(CHUNK_CHARS):
            data = chunk.encode("utf-8")
            pull.feed(data)
            fed += len(data)
            if fed - expat.CurrentByteIndex > self.limits.max_xml_token_bytes:
                raise _TokenTooLarge(expat.CurrentLineNumber)
            yield from pull.read_events()
        pull.close()
        yield from pull.read_events()

    def _token_too_large(self, line: int, row: int) -> ReadError:
        return ReadError(
            "E_TOO_LARGE",
            f"文件“{self.display}”第{row}行（文件第{line}行）附近有一个XML标记（带属性的开始标签、注释等）"
            f"超过上限{self.limits.max_xml_token_bytes}字节（单元格的上限为{self.limits.max_cell_chars}个字符），"
            "疑似恶意构造的文件，整份文件未接收",
        )

    def _too_deep(self) -> ReadError:
        return ReadError(
            "E_TOO_DEEP",
            f"文件“{self.display}”的XML元素嵌套超过{self.limits.max_xml_depth}层，"
            "数据导出不需要这么深的结构，疑似恶意构造的文件",
        )

    def _cells(
        self, record: Element, row: int, index: dict[str, int], errors: list[MalformedRow]
    ) -> tuple[Cells, str | None]:
        """The record's cells and, when it has a reader error, what to show if all its cells are blank."""
        cells: Cells = []
        taken: set[int] = set()
        fallback: str | None = None
        for attribute, value in record.attrib.items():
            position = self._position(index, "@" + _local(attribute))
            taken.add(position)
            if value:
                cells.append((position, value))
        loose = [record.text or ""]
        for child in record:
            loose.append(child.tail or "")
            name = _local(child.tag)
            position = self._position(index, name)
            if position in taken:
                errors.append(
                    MalformedRow(row, f"第{row}行{field_label(name)}：同一条记录中出现了多次，只读取第一个")
                )
                fallback = fallback or _element_text(child, name)
                continue
            taken.add(position)
            length = self._cut.pop(child, None)
            if length is not None:
                errors.append(
                    MalformedRow(
                        row,
                        f"第{row}行{field_label(name)}：单元格内容过长（{length}个字符，"
                        f"上限{self.limits.max_cell_chars}），已截断",
                    )
                )
            if len(child):
                errors.append(
                    MalformedRow(
                        row,
                        f"第{row}行{field_label(name)}：字段中含有子元素，不能作为单一字段值读取，"
                        "请将其展开为单独的字段",
                    )
                )
                text = _element_text(child, name)
                fallback = fallback or text
                cells.append((position, text))
            elif child.get(XSI_NIL) not in ("true", "1") and child.text:
                cells.append((position, child.text))
        stray = "".join(loose).strip()
        if stray:
            errors.append(MalformedRow(row, f"第{row}行：记录元素中有不属于任何字段的文本"))
            fallback = fallback or stray
        return cells, fallback

    def _position(self, index: dict[str, int], name: str) -> int:
        position = index.get(name)
        if position is None:
            raise ReadError("E_CHANGED", f"文件“{self.display}”在读取过程中被修改，请等文件完整上传后再处理")
        return position

    def _corrupt(self, exc: ParseError) -> ReadError:
        line, column = exc.position
        reason = _EXPAT_REASONS.get(exc.code, str(exc).split(":", 1)[0])
        return ReadError(
            "E_CORRUPT", f"文件“{self.display}”第{line}行第{column + 1}列附近XML格式错误：{reason}"
        )

    def _unsafe(self, reason: str) -> ReadError:
        return ReadError(
            "E_XML_UNSAFE", f"文件“{self.display}”{reason}，出于安全考虑不予处理，请导出不含此类声明的普通XML"
        )


def _entity_reason(exc: EntitiesForbidden) -> str:
    if exc.sysid or exc.pubid:
        return f"声明了外部实体“{exc.name}”（可用于读取服务器上的文件，即XXE攻击）"
    return f"声明了实体“{exc.name}”（可层层展开成海量数据，即“XML炸弹”）"


def _element_text(element: Element, name: str) -> str:
    """What a field with child elements holds, for the landing copy of its rejected row."""
    text = " ".join(part.strip() for part in element.itertext() if part.strip())
    return preview(text) if text else f"<{name}>…</{name}>"
