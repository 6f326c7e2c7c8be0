"""XML export files dropped in a feed folder (the courts' judicial exports) as a pulled source.

Each new file, in name order, becomes one pull; the cursor is canonical JSON of the last file taken and its
sha256, ``{"file": "judicial_20261115T0800_0002.xml", "sha256": "…"}``. "New" means a name after the
cursor's, or the cursor's own name with other content (the last export rewritten: it is read again, and the
store keeps unchanged records as they are). Exports must therefore be named so that name order is export
order (a timestamp or sequence number in the name); a file that turns up later under an earlier name is not
read. A file still being written (changed within ``settle_seconds``) stops the run there, so the order holds.

Every file is read twice, streaming, never whole:

1. the check (``check_file``): two libxml2 parsers read the same chunks — one checks well-formedness and
   refuses any DOCTYPE, building nothing; the other validates against the feed's own XSD — and the file is
   hashed on the way;
2. the pull (``FeedPull``): a third parse yields each record element flattened to one row — child element
   names become the headers (``subject/name`` for nested ones, ``@id`` for attributes), taken from the XSD,
   not from the data, so every file of a feed has the same columns.

So nothing is landed from a file that is not wholly valid. After each chunk everything that has ended is cut
from lxml's tree, and Python sees events only for the root and the records, so memory stays flat whatever
the size and the parsing runs in C. Parsing is hardened: any DOCTYPE is refused before the validating parser
sees it, entities are never resolved, no DTD is loaded and nothing is fetched from the network, libxml2's
limits on text size and entity amplification stay on (huge_tree off), and a file over ``max_bytes`` is
refused before and while reading.

A file that is not well-formed or not valid is rejected with a message naming the file, the line and the
reason (libxml2 reports validity errors without a line, so the line is found by a second pass that checks
record by record with xmlschema — only ever for a bad file). The other files go on: the rejected file is
recorded in the cursor (``rejected``) so that it is reported again on every run until it is removed from the
folder, and is never read again — a corrected export must come as a new file, after the ones already taken,
since reading an old export after newer ones would put old versions of records back.

:class:`FeedSource` is the connector ``connectors.pulled.run_pull`` opens for ``kind: xml_feed``: it yields
one Pull per new file, and each is landed (cursor advanced) before the next file is checked. The share the
folders are under comes from the Connection :class:`FeedShareHook` reads.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import xmlschema
from lxml import etree
from xmlschema.validators import XsdAnyElement, XsdAttribute, XsdComplexType, XsdElement, XsdGroup

from connectors.connection import ConnectionHook, ConnectionLike
from connectors.pulled import PullOnce, PullRun, RejectedFile, cursor_json, parse_cursor_json
from gateway.ids.resident_id import mask_in_text
from gateway.landing import Pull, source_id_of
from gateway.mapping.spec import MappingSpec
from gateway.settings import Settings

log = logging.getLogger(__name__)

KIND = "xml_feed"
PULL_KEYS = frozenset(
    {"kind", "connection", "folder", "pattern", "record_element", "xsd", "max_bytes", "settle_seconds"}
)
MAX_BATCH_ROWS = 5000  # gateway.landing.Pull: at most this many rows per batch
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_SETTLE_SECONDS = 60.0
READ_CHUNK = 1 << 16
_CLARK = re.compile(r"\{[^{}\s]*:[^{}\s]*\}")  # a namespace URI; never a regex quantifier like {16}
_NAMED_ELEMENT = re.compile(r"Element '([^']+)'")
_QUOTED_VALUE = re.compile(r"^'([^']*)'|The value '([^']*)'|key-sequence \['([^']*)'")


class FeedError(ValueError):
    """The pull block, the feed folder or the feed's XSD is wrong; the message says what to fix."""


class FeedFileError(RejectedFile):
    """One export file cannot be taken: not well-formed, not valid, too large. Names file, line, reason."""

    def __init__(self, file: str, reason: str, line: int | None = None) -> None:
        super().__init__(file, mask_ids(reason), line)


class FeedFileChanged(Exception):
    """The file changed while it was being read: it is still being written; the next run takes it."""


def mask_ids(text: str) -> str:
    """Error messages quote values, and a value may be a personal ID number: never let one out whole.
    Namespaces go too ("{urn:…}regDate" → "regDate"): the reader knows the file's namespace."""
    return mask_in_text(_CLARK.sub("", text))


class FeedShareHook(ConnectionHook):
    """The share the feed folders are under, as its Airflow Connection (type fs) describes it."""

    def root(self) -> Path:
        """The extra ``path`` (as Airflow's fs connection type has it), else the host field."""
        path = self.extra.get("path") or self.connection.host
        if not path:
            raise FeedError(
                "Airflow 连接没有给出目录：请在 extra 中填写 path（fs 类型连接）或在 host 中填写目录"
            )
        return Path(str(path))

    def settle_seconds(self) -> float | None:
        """How files arrive is a property of the share, so its extra ``settle_seconds`` overrides the pull
        block's (a share that writes atomically needs none)."""
        value = self.extra.get("settle_seconds")
        return None if value is None else float(value)


# --------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class FeedConfig:
    """The connector's part of a mapping's ``pull:`` block (kind: xml_feed)."""

    folder: Path
    record_element: str
    xsd: Path
    pattern: str = "*.xml"
    max_bytes: int = DEFAULT_MAX_BYTES
    settle_seconds: float = DEFAULT_SETTLE_SECONDS

    @classmethod
    def from_pull(cls, pull: Mapping[str, Any], *, root: Path | None, base: Path) -> FeedConfig:
        """``root``: the share from the connection (folder must stay inside it); ``base``: where a relative
        xsd path starts (the repository, so ``schemas/sources/…`` works)."""
        unknown = sorted(set(pull) - PULL_KEYS)
        if unknown:
            raise FeedError(f"pull 配置中有无法识别的键 {unknown}（可用：{sorted(PULL_KEYS)}）")
        for key in ("folder", "record_element", "xsd"):
            if not isinstance(pull.get(key), str) or not pull[key]:
                raise FeedError(f"pull 配置缺少 {key}（文件夹、记录元素名和接口 XSD 都必须填写）")
        folder = Path(pull["folder"])
        if root is not None:
            folder = (root / folder).resolve()
            if not folder.is_relative_to(root.resolve()):
                raise FeedError(f"pull.folder {pull['folder']!r} 不在连接给出的目录 {root} 之内")
        xsd = Path(pull["xsd"])
        max_bytes = pull.get("max_bytes", DEFAULT_MAX_BYTES)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise FeedError(f"pull.max_bytes 必须是正整数（字节），实际为 {max_bytes!r}")
        settle = pull.get("settle_seconds", DEFAULT_SETTLE_SECONDS)
        if isinstance(settle, bool) or not isinstance(settle, (int, float)) or settle < 0:
            raise FeedError(f"pull.settle_seconds 必须是非负数，实际为 {settle!r}")
        pattern = pull.get("pattern", "*.xml")
        if not isinstance(pattern, str) or not pattern or "/" in pattern:
            raise FeedError("pull.pattern 必须是不含“/”的文件名通配符，例如 judicial_*.xml")
        return cls(
            folder=folder,
            record_element=pull["record_element"],
            xsd=xsd if xsd.is_absolute() else base / xsd,
            pattern=pattern,
            max_bytes=max_bytes,
            settle_seconds=float(settle),
        )


# ------------------------------------------------------------------------------------------------ the schema


@dataclass
class _Node:
    """Where the parts of one element go in a row: its text, its attributes and its children's parts."""

    text: int | None = None
    attributes: dict[str, int] = field(default_factory=dict)
    children: dict[str, _Node] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedSchema:
    """The feed's XSD: the libxml2 validator, and the record element's columns as the XSD declares them."""

    path: Path
    record_tag: str  # Clark notation, as lxml names elements
    headers: tuple[str, ...]
    validator: etree.XMLSchema
    declaration: XsdElement  # xmlschema's view of the record element, for finding the line of an error
    columns: _Node
    roots: tuple[str, ...]  # the global elements: what a file's root element may be

    @classmethod
    def load(cls, path: Path, record_element: str) -> FeedSchema:
        path = path.resolve()
        if not path.is_file():
            raise FeedError(f"找不到接口 XSD：{path}")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        try:
            validator = etree.XMLSchema(etree.parse(str(path), parser))
            # local: includes from files only, never the network (not "sandbox": xmlschema then refuses to
            # check a record element held in memory); defuse: no entities in the schema either.
            model = xmlschema.XMLSchema10(str(path), allow="local", defuse="always")
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError, xmlschema.XMLSchemaException) as exc:
            raise FeedError(f"接口 XSD {path.name} 无法读取：{exc}") from exc
        found = {
            (e.name, id(e.type)): e
            for e in model.iter_components(XsdElement)
            if e.local_name == record_element or e.name == record_element
        }
        if len(found) != 1:
            raise FeedError(
                f"接口 XSD {path.name} 中名为 {record_element!r} 的元素声明应有且只有一种，"
                f"找到 {len(found)} 种"
            )
        (declaration,) = found.values()
        headers: list[str] = []
        columns = _columns(declaration, "", headers, path.name)
        if not columns.children and not columns.attributes:
            raise FeedError(
                f"接口 XSD {path.name} 中的记录元素 {record_element} 没有子元素或属性，无法展开为列"
            )
        roots = tuple(str(e.name) for e in model.elements.values())
        return cls(path, str(declaration.name), tuple(headers), validator, declaration, columns, roots)


def _columns(element: XsdElement, path: str, headers: list[str], xsd: str) -> _Node:
    """The columns of one element: its text when it has simple content (header = its path), its attributes
    ("path/@name") and, recursively, its children ("path/child"). A child that may repeat cannot be one
    column of one row, so such a schema is refused rather than flattened lossily."""

    def add(header: str) -> int:
        if header in headers:
            raise FeedError(f"接口 XSD {xsd}：展开后列名 {header!r} 重复（不同命名空间的同名元素？）")
        headers.append(header)
        return len(headers) - 1

    node = _Node()
    ctype = element.type
    if ctype.is_simple() or ctype.has_simple_content():
        if not path:
            raise FeedError(f"接口 XSD {xsd}：记录元素 {element.local_name} 只有文本内容，无法展开为列")
        node.text = add(path)
    if isinstance(ctype, XsdComplexType):
        for attribute in ctype.attributes.values():
            if isinstance(attribute, XsdAttribute):
                node.attributes[str(attribute.name)] = add(
                    f"{path}/@{attribute.local_name}" if path else f"@{attribute.local_name}"
                )
        if isinstance(ctype.content, XsdGroup):
            for child in _particles(ctype.content, element.local_name, xsd):
                child_path = f"{path}/{child.local_name}" if path else str(child.local_name)
                node.children[str(child.name)] = _columns(child, child_path, headers, xsd)
    return node


def _particles(group: XsdGroup, owner: str | None, xsd: str) -> Iterator[XsdElement]:
    if group.max_occurs != 1:
        raise FeedError(f"接口 XSD {xsd}：{owner} 的内容组可重复出现，一条记录无法展开为一行")
    for item in group:
        if isinstance(item, XsdGroup):
            yield from _particles(item, owner, xsd)
        elif isinstance(item, XsdElement):
            if item.max_occurs != 1:
                raise FeedError(
                    f"接口 XSD {xsd}：{owner} 的子元素 {item.local_name} 可重复出现，一条记录无法展开为一行"
                )
            yield item
        elif isinstance(item, XsdAnyElement):
            raise FeedError(f"接口 XSD {xsd}：{owner} 含有 xs:any，列无法由 XSD 确定")


# ---------------------------------------------------------------------------------------------- the parsing
#
# lxml builds a tree as it parses; a streamed file stays small because, after every chunk, everything that
# has ended is cut away except the path of elements still open (and an open record, which is still needed).
# Events are asked for only for the root and the record elements, so Python sees a few events per record
# instead of one per element: the parse itself runs in C.

_HARDENED = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
PROLOG_LIMIT = 1 << 20  # bytes before the root element (XML declaration, comments): more is not an export


class _DoctypeFound(Exception):
    """Raised by the well-formedness parser's target the moment it meets a DOCTYPE."""


class _Prolog:
    """Target of the well-formedness parser: builds nothing (so it runs at C speed), refuses any DTD."""

    def doctype(self, *_: object) -> None:
        raise _DoctypeFound

    def close(self) -> None:
        return None


def _pull_parser(events: tuple[str, ...], tags: list[str], schema: etree.XMLSchema | None = None) -> Any:
    return etree.XMLPullParser(
        events=events, tag=tags, schema=schema, remove_comments=True, remove_pis=True, **_HARDENED
    )


def _prune(root: Any, keep: str | None) -> None:
    """Cut away every element that has ended, keeping the path still open; an element tagged ``keep`` is
    kept whole (the record being read). Safe for the validator, which keeps its own state."""
    node = root
    while node is not None and node.tag != keep and len(node):
        if len(node) > 1:
            del node[:-1]
        node = node[-1]


def _no_root(name: str, schema: FeedSchema) -> FeedFileError:
    expected = "、".join(etree.QName(tag).localname for tag in schema.roots)
    return FeedFileError(name, f"文件开头 {PROLOG_LIMIT} 字节内没有接口 XSD 声明的根元素（应为 {expected}）")


def _records(read: Callable[[int], bytes], schema: FeedSchema, name: str) -> Iterator[Any]:
    """Each record element once it has ended, whole (it is cut away once the caller moves on)."""
    parser = _pull_parser(("start", "end"), [*schema.roots, schema.record_tag])
    root, fed = None, 0
    while True:
        chunk = read(READ_CHUNK)
        fed += len(chunk)
        if chunk:
            parser.feed(chunk)
        else:
            parser.close()
        for event, element in parser.read_events():
            if root is None:
                root = element.getroottree().getroot()
                if element.getroottree().docinfo.doctype:
                    raise FeedFileError(name, "文件含有 DOCTYPE 声明；为防止实体注入，接口文件不得含 DTD")
            if event == "end" and element.tag == schema.record_tag:
                yield element
        if root is not None:
            _prune(root, schema.record_tag)
        elif fed > PROLOG_LIMIT:
            raise _no_root(name, schema)
        if not chunk:
            return


def _fill(element: Any, node: _Node, row: list[str | None]) -> None:
    if node.attributes:
        for attribute, value in element.items():
            index = node.attributes.get(attribute)
            if index is not None:
                row[index] = value
    for child in element:
        sub = node.children.get(child.tag)
        if sub is None:
            continue
        if sub.text is not None:
            row[sub.text] = child.text
        if sub.attributes or sub.children:
            _fill(child, sub, row)


# ----------------------------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class CheckedFile:
    path: Path
    sha256: str
    size: int
    signature: tuple[int, int, int]  # (size, mtime_ns, inode) when checked: a change means it was rewritten


def _signature(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns, info.st_ino


def check_file(path: Path, schema: FeedSchema, max_bytes: int) -> CheckedFile:
    """Pass 1: well-formed, free of DTDs, valid against the feed's XSD, within the size limit; returns its
    sha256. Raises FeedFileError for a bad file and FeedFileChanged for one still being written.

    Two libxml2 parsers read the same chunks, because lxml loses well-formedness errors (a bare "&", a
    truncated file) when it validates with resolve_entities=False, and resolving entities is not an
    option: the first parser checks well-formedness and meets any DOCTYPE before the second sees the
    chunk it is in; the second only validates.
    """
    name = path.name
    before = _signature(path)
    if before[0] > max_bytes:
        raise FeedFileError(name, f"文件大小 {before[0]} 字节超过上限 {max_bytes} 字节")
    well_formed = etree.XMLParser(target=_Prolog(), **_HARDENED)
    valid = _pull_parser(("start",), list(schema.roots), schema.validator)
    digest, size, lines, root = hashlib.sha256(), 0, 0, None
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK)
            size += len(chunk)
            if size > max_bytes:
                raise FeedFileError(name, f"文件超过大小上限 {max_bytes} 字节（读取中仍在增长）")
            digest.update(chunk)
            try:
                if chunk:
                    well_formed.feed(chunk)
                else:
                    well_formed.close()
            except _DoctypeFound:
                at = chunk.find(b"<!DOCTYPE")
                line = lines + chunk[:at].count(b"\n") + 1 if at >= 0 else None
                reason = "文件含有 DOCTYPE 声明；为防止实体注入，接口文件不得含 DTD"
                raise FeedFileError(name, reason, line) from None
            except etree.XMLSyntaxError as exc:
                if _signature(path) != before:
                    raise FeedFileChanged(name) from exc
                raise FeedFileError(name, f"XML 格式错误：{exc.msg}", exc.lineno or None) from None
            lines += chunk.count(b"\n")
            try:
                if chunk:
                    valid.feed(chunk)
                else:
                    valid.close()
            except etree.XMLSyntaxError as exc:
                if _signature(path) != before:
                    raise FeedFileChanged(name) from exc
                line, reason = _locate(path, schema, str(exc.msg))
                raise FeedFileError(name, f"不符合接口 XSD {schema.path.name}：{reason}", line) from None
            for _, element in valid.read_events():
                root = element
            if root is not None:
                _prune(root, None)
            elif size > PROLOG_LIMIT:
                raise _no_root(name, schema)
            if not chunk:
                break
    if _signature(path) != before:
        raise FeedFileChanged(name)
    return CheckedFile(path, digest.hexdigest(), size, before)


def _locate(path: Path, schema: FeedSchema, message: str) -> tuple[int | None, str]:
    """The line of a validity error (libxml2 reports none when it validates a stream): the first record
    that xmlschema finds invalid; failing that (the error is outside the records), the first element the
    message names, with the value it quotes. Only ever run for a file already known to be invalid."""
    with path.open("rb") as handle:
        for record in _records(handle.read, schema, path.name):
            error = next(iter(schema.declaration.iter_errors(record)), None)
            if error is not None:
                element = error.elem if error.elem is not None else record
                local = etree.QName(element).localname
                return error.sourceline or record.sourceline, f"元素 {local}：{error.reason or message}"
    named = _NAMED_ELEMENT.search(message)
    if named is None:
        return None, message
    quoted = _QUOTED_VALUE.search(message[named.end() :].lstrip(": "))
    value = next((g for g in quoted.groups() if g is not None), None) if quoted else None
    wanted = 2 if "Duplicate key-sequence" in message else 1  # the second element with the same key
    tag = named.group(1)
    at = "start" if tag in schema.roots else "end"  # a root's attributes are known at its start
    parser = _pull_parser(("start", "end"), [*schema.roots, tag])
    with path.open("rb") as handle:
        root = None
        while chunk := handle.read(READ_CHUNK):
            parser.feed(chunk)
            for event, element in parser.read_events():
                root = root if root is not None else element.getroottree().getroot()
                if element.tag != tag or event != at:
                    continue
                if value is None or value in (element.text, *element.values()):
                    wanted -= 1
                    if wanted == 0:
                        return element.sourceline, message
            if root is not None:
                _prune(root, None)
    return None, message


# ------------------------------------------------------------------------------------------------- the pull


class _HashingReader:
    """The file as pass 2 reads it: hashed on the way, so a file changed since pass 1 is noticed, and never
    beyond the size pass 1 saw (a file still growing cannot keep the pull reading)."""

    def __init__(self, handle: BinaryIO, limit: int) -> None:
        self._handle = handle
        self._left = limit
        self.digest = hashlib.sha256()

    def read(self, size: int) -> bytes:
        data = self._handle.read(min(size, self._left))
        self._left -= len(data)
        self.digest.update(data)
        return data


@dataclass
class FeedPull(PullOnce):
    """One export file as a pull (gateway.landing.Pull): pass 2, flattening its record elements."""

    source_id: str
    schema: FeedSchema
    checked: CheckedFile
    cursor_from: str | None
    next_cursor: str | None
    kind: str = "xml"
    headers: list[str] = field(init=False)
    rows: int = 0

    def __post_init__(self) -> None:
        self.headers = list(self.schema.headers)

    def batches(self) -> Iterator[pa.RecordBatch]:
        path, width = self.checked.path, len(self.headers)
        names = [*(f"c{i}" for i in range(width)), "__row__"]
        rows: list[list[str | None]] = []
        with path.open("rb") as handle:
            reader = _HashingReader(handle, self.checked.size)
            try:
                for record in _records(reader.read, self.schema, path.name):
                    row: list[str | None] = [None] * width
                    _fill(record, self.schema.columns, row)
                    rows.append(row)
                    if len(rows) == MAX_BATCH_ROWS:
                        yield self._batch(rows, names)
                        rows = []
            except (etree.XMLSyntaxError, FeedFileError) as exc:
                raise FeedFileChanged(path.name) from exc
        if reader.digest.hexdigest() != self.checked.sha256 or _signature(path) != self.checked.signature:
            raise FeedFileChanged(path.name)
        if rows:
            yield self._batch(rows, names)
        self._finish(self.next_cursor)

    def _batch(self, rows: list[list[str | None]], names: list[str]) -> pa.RecordBatch:
        arrays = [pa.array(column, pa.string()) for column in zip(*rows, strict=True)]
        arrays.append(pa.array(range(self.rows + 1, self.rows + len(rows) + 1), pa.int64()))
        self.rows += len(rows)
        return pa.RecordBatch.from_arrays(arrays, names=names)


@dataclass
class _CursorOnly:
    """A pull with no rows that only moves the cursor (a file rejected, or one that went away)."""

    source_id: str
    headers: list[str]
    cursor_from: str | None
    cursor_to: str | None
    kind: str = "xml"

    def batches(self) -> Iterator[pa.RecordBatch]:
        return iter(())


# ------------------------------------------------------------------------------------------------ the cursor


@dataclass(frozen=True)
class FeedCursor:
    """The last file taken (name, sha256) and the rejected files still in the folder (name → sha, error)."""

    file: str | None = None
    sha256: str | None = None
    rejected: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> FeedCursor:
        if text is None:
            return cls()
        data = parse_cursor_json(text, ("file", "sha256", "rejected"), FeedError)
        rejected = data.get("rejected") or {}
        if not isinstance(rejected, dict) or not all(
            isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())
            for entry in rejected.values()
        ):
            raise FeedError(f"游标中的 rejected 格式不对：{text!r}")
        return cls(data.get("file"), data.get("sha256"), rejected)

    def text(self) -> str | None:
        data: dict[str, Any] = {}
        if self.file is not None:
            data.update(file=self.file, sha256=self.sha256)
        if self.rejected:
            data["rejected"] = {name: dict(entry) for name, entry in self.rejected.items()}
        return cursor_json(data) if data else None

    def advance(self, name: str, sha256: str) -> FeedCursor:
        return FeedCursor(name, sha256, {k: v for k, v in self.rejected.items() if k != name})

    def reject(self, name: str, sha256: str, error: FeedFileError) -> FeedCursor:
        entry = {"sha256": sha256, "line": str(error.line or ""), "error": error.reason[:500]}
        return FeedCursor(name, sha256, {**self.rejected, name: entry})


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# ---------------------------------------------------------------------------------------------------- a run


class FeedSource:
    """One source reading one feed folder: each run takes every new file in order."""

    def __init__(self, source_id: str, config: FeedConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.source_id = source_id
        self.config = config
        self.schema = FeedSchema.load(config.xsd, config.record_element)
        self._clock = clock

    @classmethod
    def open(
        cls,
        settings: Settings,
        spec: MappingSpec,
        conn: ConnectionLike,
        *,
        clock: Callable[[], float] = time.time,
    ) -> FeedSource:
        """The folder inside the share ``conn`` names; a relative xsd path starts beside the schemas folder
        (``schemas/sources/…``)."""
        share = FeedShareHook(conn)
        pull = dict(spec.pull or {})
        settle = share.settle_seconds()
        if settle is not None:
            pull["settle_seconds"] = settle
        config = FeedConfig.from_pull(pull, root=share.root(), base=settings.schemas_dir.parent)
        return cls(source_id_of(spec), config, clock=clock)

    def files(self) -> list[Path]:
        """Regular files matching the pattern, in name order (symlinks are never followed)."""
        folder = self.config.folder
        if not folder.is_dir():
            raise FeedError(f"接口文件夹不存在：{folder}")
        found = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not fnmatch.fnmatchcase(entry.name, self.config.pattern):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    log.warning(
                        "%s: %s is not a regular file (symlink?), skipped", self.source_id, entry.name
                    )
                    continue
                found.append(Path(entry.path))
        return sorted(found, key=lambda p: p.name)

    def pulls(self, cursor: str | None, run: PullRun) -> Generator[Pull, None, None]:
        """One Pull per new file; a rejected file (and a review of earlier ones) only moves the cursor.

        A file that turns out to be still being written — before it is read, or while it is landed (the
        landing's exception comes back in at the ``yield``) — ends the run there: later files wait with it,
        so that name order stays landing order."""
        position = FeedCursor.parse(cursor)
        files = self.files()
        reviewed = self._review_rejected(position, {p.name: p for p in files}, run)
        if reviewed != position:
            yield self._move(position, reviewed)
            position = reviewed
        for path in files:
            try:
                if not self._is_new(path, position):
                    continue
                if not self._settled(path):
                    run.waiting.append(path.name)
                    log.info(
                        "%s: %s is still being written; it and later files wait", self.source_id, path.name
                    )
                    break
                checked = check_file(path, self.schema, self.config.max_bytes)
                nxt = position.advance(path.name, checked.sha256)
                pull = FeedPull(self.source_id, self.schema, checked, position.text(), nxt.text())
                yield pull
            except FileNotFoundError:
                log.warning("%s: %s went away before it was read; skipped", self.source_id, path.name)
                continue
            except FeedFileChanged:
                run.waiting.append(path.name)
                log.info(
                    "%s: %s changed while being read; it and later files wait", self.source_id, path.name
                )
                break
            except FeedFileError as error:
                nxt = position.reject(path.name, _sha256(path), error)
                yield self._move(position, nxt)
                run.rejected.append(error)
                log.error("%s: 接口文件被拒收：%s", self.source_id, error.message)
            else:
                run.files.append(path.name)
                log.info("%s: %s → %d records", self.source_id, path.name, pull.rows)
            position = nxt

    def _is_new(self, path: Path, cursor: FeedCursor) -> bool:
        if cursor.file is None or path.name > cursor.file:
            return True
        if path.name == cursor.file and _sha256(path) != cursor.sha256:
            log.warning(
                "%s: %s, the last file taken, was rewritten; it is read again", self.source_id, path.name
            )
            return True
        return False

    def _settled(self, path: Path) -> bool:
        info = path.stat()
        return self._clock() - max(info.st_mtime, info.st_ctime) >= self.config.settle_seconds

    def _review_rejected(self, cursor: FeedCursor, present: Mapping[str, Path], run: PullRun) -> FeedCursor:
        """Report every rejected file still in the folder; forget the ones an engineer has removed."""
        kept: dict[str, Mapping[str, str]] = {}
        for name, entry in cursor.rejected.items():
            path = present.get(name)
            if path is None:
                log.info("%s: rejected file %s was removed from the folder", self.source_id, name)
                continue
            kept[name] = entry
            replaced = _sha256(path) != entry.get("sha256")
            if replaced and name == cursor.file:
                continue  # the latest file, rewritten: it is simply read again (see _is_new)
            line = int(entry["line"]) if entry.get("line") else None
            reason = str(entry.get("error", ""))
            if replaced:
                reason = (
                    "文件已被原地替换，但它排在已处理的文件之前，为保证处理顺序不再读取；"
                    f"请以排在 {cursor.file} 之后的新文件名重新导出（原拒收原因：{reason}）"
                )
            error = FeedFileError(name, reason, line)
            run.still_rejected.append(error)
            log.warning("%s: 接口文件仍处于拒收状态：%s", self.source_id, error.message)
        return replace(cursor, rejected=kept)

    def _move(self, before: FeedCursor, after: FeedCursor) -> _CursorOnly:
        """A cursor change that lands no rows, stored through land_pull like every other cursor change."""
        return _CursorOnly(self.source_id, list(self.schema.headers), before.text(), after.text())
