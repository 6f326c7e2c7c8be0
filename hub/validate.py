"""Validate a decrypted batch against schemas/batch.xsd and read its records, in bounded memory.

Streaming passes over the file, none holding the document:
1. structure (defusedxml iterparse, DTDs forbidden): the Batch attributes must repeat what the signed
   manifest says (batchId, sender, seq), ``count`` must equal the number of Records and every Record must
   carry the element of the batch's recordType — what batch.xsd says XSD 1.0 cannot express;
2. XSD with libxml2 (lxml, validating while it parses; no DTD, entities or network): about a hundred times
   faster than xmlschema, which is pure Python and bounded the hub at about 1–5 MB/s. libxml2 is also what
   ``xmllint --schema`` runs, the check the batches are held to. It only says valid or not, with line
   numbers rather than records, so
3. when it says invalid: XSD again with xmlschema (lazy resource, entities and external references
   forbidden), whose error paths name each failing record for the receipt; and
4. the natural keys of the failing records.
Reading records for storage is a further pass (:meth:`BatchValidator.records`), done inside the
database transaction.

That careful path decides every batch the fast path (hub/fastpath.py) cannot vouch for. The fast path
checks the pieces hub/chunks.py cuts a batch into, each parsed and validated by libxml2 in one call
(:meth:`BatchValidator.parse_piece`, Python's lock released) against batch.xsd less its two identity
constraints, which span pieces and are checked in code from the same values
(:data:`IDENTITY_CONSTRAINTS`); the records are read from the validated trees
(:meth:`BatchValidator.read_piece`). It only ever accepts: any doubt sends the batch down the careful path,
so refusals and their messages are the careful path's.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError

import xmlschema
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from lxml import etree

from gateway.schema import (
    BATCH_ELEMENT,
    BATCH_SCHEMA,
    RECORD_TYPE,
    TARGET_NAMESPACE,
    batch_schema,
    element_to_type,
)
from gateway.transfer import Problem, Rejection
from gateway.transfer.receipt import MAX_MESSAGE

log = logging.getLogger(__name__)
_NS = f"{{{TARGET_NAMESPACE}}}"
_BATCH_TAG = _NS + BATCH_ELEMENT
_RECORD_TAG = _NS + RECORD_TYPE
_RECORD_PATH = re.compile(rf"^/(?:\w+:)?{BATCH_ELEMENT}/(?:\w+:)?{RECORD_TYPE}\[(\d+)\](.*)$")
MAX_REASON = 300
MAX_REASONS_PER_RECORD = 3
_XS = "{http://www.w3.org/2001/XMLSchema}"
# batch.xsd's identity constraints, as (element declaring it, kind, selector, fields): the fast path checks
# exactly these in code (hub/fastpath.py) because they span the pieces it validates apart. Should batch.xsd's
# differ, the fast path is off and every batch takes the careful path, which validates against all of it.
IDENTITY_CONSTRAINTS = frozenset(
    {
        (BATCH_ELEMENT, "unique", "xz:Record", ("@id", "@version")),
        (BATCH_ELEMENT, "unique", "xz:Record", ("@key", "@version")),
    }
)


def _json_encoder() -> Callable[[dict[str, str]], str]:
    """``json.dumps(fields, ensure_ascii=False, separators=(",", ":"))``, the same text, without building an
    encoder for every record: the C encoder made once and called directly (about 2 µs a record less, 0.4 s
    on a 187 MiB batch); the plain encoder where the interpreter has no C accelerator."""
    plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    if c_make_encoder is None:
        return plain.encode
    encode = c_make_encoder(None, plain.default, encode_basestring, None, ":", ",", False, False, True)
    return lambda fields: "".join(encode(fields, 0))


_JSON = _json_encoder()

# A stored record: idx, op, record_id, natural_key, version, entity, payload (JSON of the fields), reason.
Row = tuple[int, str, str, str, int, str | None, str, str | None]


class WrongRecordElement(Exception):
    """A Record of a piece carries another record type's element (the careful path names it)."""


@dataclass(frozen=True)
class StoredRecord:
    idx: int
    record_type: str
    op: str
    record_id: str
    natural_key: str
    version: int
    entity: str | None
    payload: str
    reason: str | None = None  # why the sender withdrew it (op d): publicity_expired | credit_repaired


@dataclass
class Verdict:
    record_type: str = ""
    count: int = 0
    problem: Problem | None = None
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class _Findings:
    batch: list[str] = field(default_factory=list)
    records: dict[int, list[str]] = field(default_factory=dict)
    total: int = 0

    def add(self, index: int | None, reason: str) -> None:
        self.total += 1
        if index is None:
            self.batch.append(reason)
        else:
            self.records.setdefault(index, []).append(reason)


def _iter_records(fh: IO[bytes]) -> Iterator[tuple[Element, Element]]:
    """Yield (root, child) for each child of the root once it is complete, then drop it from the tree so
    memory stays flat however many records there are.

    The first item is ``(root, root)``, at the root's start event, so callers can read the Batch
    attributes before (and without) any record.
    """
    depth = 0
    root: Element | None = None
    for event, elem in iterparse(fh, events=("start", "end"), forbid_dtd=True):
        if event == "start":
            if root is None:
                root = elem
                yield root, root
            depth += 1
            continue
        depth -= 1
        if depth == 1 and root is not None:
            yield root, elem
            root.remove(elem)


def _libxml2_schema(xsd: Path) -> etree.XMLSchema:
    """batch.xsd compiled by libxml2; its includes are our own files, read from disk, never the network."""
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(xsd), parser))


def _lean_schema(xsd: Path) -> etree.XMLSchema | None:
    """batch.xsd without the identity constraints on Batch (checked in code by the fast path), or None
    when they are not the ones that code checks (:data:`IDENTITY_CONSTRAINTS`)."""
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    document = etree.parse(str(xsd), parser)
    found = set()
    for kind in ("unique", "key", "keyref"):
        for constraint in list(document.getroot().iter(_XS + kind)):
            owner = constraint.getparent()
            selector = constraint.find(_XS + "selector")
            fields = tuple(field.get("xpath", "") for field in constraint.iter(_XS + "field"))
            xpath = selector.get("xpath", "") if selector is not None else ""
            found.add((owner.get("name", ""), kind, xpath, fields))
            owner.remove(constraint)
    if found != IDENTITY_CONSTRAINTS:
        log.warning("batch.xsd 的标识约束与快速校验所查的不同：所有批次改走完整校验 (%s)", sorted(found))
        return None
    return etree.XMLSchema(document)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class BatchValidator:
    def __init__(
        self,
        schema: xmlschema.XMLSchema10,
        fast_schema: etree.XMLSchema,
        element_types: dict[str, str],
        *,
        max_rejections: int = 1000,
        lean_schema: etree.XMLSchema | None = None,
    ) -> None:
        self.schema = schema
        self.element_types = dict(element_types)
        self.max_rejections = max_rejections
        self.fast_schema = fast_schema
        self.lean_schema = lean_schema  # None: no fast path, every batch is checked the careful way
        self.type_elements = {rtype: element for element, rtype in self.element_types.items()}

    @classmethod
    def from_dir(cls, schema_dir: Path, *, max_rejections: int = 1000) -> BatchValidator:
        return cls(
            batch_schema(schema_dir),
            _libxml2_schema(schema_dir / BATCH_SCHEMA),
            element_to_type(schema_dir),
            max_rejections=max_rejections,
            lean_schema=_lean_schema(schema_dir / BATCH_SCHEMA),
        )

    # ------------------------------------------------------------------------- fast path (pieces)

    def piece_parser(self) -> etree.XMLParser:
        """A parser validating against the lean schema while it parses; one per thread, as lxml wants.
        No DTD is loaded, no entity resolved and nothing fetched; the chunker has refused a DOCTYPE."""
        return etree.XMLParser(
            schema=self.lean_schema,
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
        )

    def parse_piece(self, piece: bytes, parser: etree.XMLParser) -> etree._Element:
        """Parse and validate one piece in a single libxml2 call, which releases Python's lock: this is
        what runs on the second core. Raises lxml.etree.XMLSyntaxError when malformed or invalid."""
        return etree.fromstring(piece, parser)

    def read_piece(self, root: etree._Element, *, start: int, element: str, careful: bool) -> list[Row]:
        """The records of a validated piece, numbered from ``start``, as :meth:`records` reads them.

        Every Record must carry ``element`` (the batch's record type): WrongRecordElement when one does
        not (the careful path then says which). ``careful`` is for pieces with comments, processing
        instructions or CDATA sections inside: comments and instructions are skipped and a field's text is
        all of its text, where the quick loop reads the first child and ``.text`` (all there is when a
        piece has none of them)."""
        tag = _NS + element
        cut = len(_NS)
        rows: list[Row] = []
        append = rows.append
        # Without comments and processing instructions every child of the root is a Record (the piece is
        # valid) and every child of a Record its one record element.
        records = root.iterchildren(_RECORD_TAG) if careful else root
        for idx, rec in enumerate(records, start):
            if careful:
                (body,) = rec.iterchildren(etree.Element)  # the XSD allows exactly one
                if body.tag != tag:
                    raise WrongRecordElement(body.tag)
                fields = {c.tag[cut:]: "".join(c.itertext()) for c in body.iterchildren(etree.Element)}
            else:
                body = rec[0]
                if body.tag != tag:
                    raise WrongRecordElement(body.tag)
                fields = {c.tag[cut:]: c.text or "" for c in body}
            get = rec.get
            append(
                (
                    idx,
                    get("op", ""),
                    get("id", ""),
                    get("key", ""),
                    int(get("version", "0")),
                    get("entity"),
                    _JSON(fields),
                    get("reason"),
                )
            )
        return rows

    def check(self, path: Path, *, batch_id: str, sender: str, seq: int) -> Verdict:
        verdict = Verdict()
        findings = _Findings()
        try:
            self._check_structure(path, verdict, findings, batch_id=batch_id, sender=sender, seq=seq)
            if not findings.total:
                libxml2_error = self._libxml2_error(path)
                if libxml2_error is not None:
                    self._check_xsd(path, findings, lazy=verdict.count > 0)
                    if not findings.total:  # the two validators disagree: libxml2 (xmllint's) prevails
                        findings.add(None, f"libxml2：{libxml2_error[:MAX_REASON]}")
            else:
                self._check_xsd(path, findings, lazy=verdict.count > 0)
        except (ParseError, DefusedXmlException, xmlschema.XMLResourceError) as exc:
            verdict.problem = Problem("invalid_xml", f"批次不是合法、安全的 XML：{str(exc)[:MAX_REASON]}")
            return verdict
        if findings.total:
            keys = self._keys(path, set(findings.records))
            verdict.rejections = [
                Rejection(
                    index=index,
                    key=keys.get(index, ""),
                    code="invalid_record",
                    message="；".join(reasons[:MAX_REASONS_PER_RECORD]),
                )
                for index, reasons in sorted(findings.records.items())[: self.max_rejections]
            ]
            summary = f"批次不符合 batch.xsd：{findings.total} 处错误，涉及 {len(findings.records)} 条记录"
            if findings.batch:
                summary += "；批次级错误：" + "；".join(findings.batch[:MAX_REASONS_PER_RECORD])
            verdict.problem = Problem("invalid_xml", summary[:MAX_MESSAGE])
        return verdict

    def _check_structure(
        self, path: Path, verdict: Verdict, findings: _Findings, *, batch_id: str, sender: str, seq: int
    ) -> None:
        expected = {"batchId": batch_id, "sender": sender, "seq": str(seq)}
        declared: str | None = None
        with path.open("rb") as fh:
            for root, elem in _iter_records(fh):
                if elem is root:
                    if root.tag != _BATCH_TAG:
                        findings.add(
                            None, f"根元素应为 {BATCH_ELEMENT}（{TARGET_NAMESPACE}），实际为 {root.tag}"
                        )
                        return
                    verdict.record_type = root.get("recordType", "")
                    declared = root.get("count")
                    for attr, value in expected.items():
                        if root.get(attr) != value:
                            findings.add(
                                None, f"Batch/@{attr} 为 {root.get(attr)!r}，与签名清单中的 {value!r} 不符"
                            )
                    continue
                index = verdict.count
                verdict.count += 1
                children = list(elem)
                if elem.tag == _RECORD_TAG and len(children) == 1:  # other shapes: reported by the XSD pass
                    element = _local(children[0].tag)
                    record_type = self.element_types.get(element)
                    if record_type is not None and record_type != verdict.record_type:
                        findings.add(
                            index, f"记录元素 {element}（{record_type}）与批次类型 {verdict.record_type} 不符"
                        )
        if declared != str(verdict.count):
            findings.add(None, f"Batch/@count 为 {declared}，实际有 {verdict.count} 条记录")

    def _libxml2_error(self, path: Path) -> str | None:
        """libxml2's first complaint about the batch, or None when it is valid; one streaming pass that
        keeps no finished record in memory."""
        try:
            for _event, elem in etree.iterparse(
                str(path),
                events=("end",),
                tag=_RECORD_TAG,  # Python sees one event per record, not one per field
                schema=self.fast_schema,
                resolve_entities=False,
                load_dtd=False,
                no_network=True,
                huge_tree=False,
            ):
                elem.clear(keep_tail=False)
                while elem.getprevious() is not None:  # drop finished siblings from the tree as well
                    del elem.getparent()[0]
        except etree.XMLSyntaxError as exc:  # invalid or not well-formed: xmlschema's pass says where
            return str(exc) or "invalid"
        return None

    def _check_xsd(self, path: Path, findings: _Findings, *, lazy: bool) -> None:
        # Lazy (subtree-at-a-time) validation keeps memory flat; it is skipped for a record-less batch
        # because xmlschema 4.3 raises KeyError on identity constraints of an element with no children
        # in lazy mode (such a batch is a few hundred bytes anyway).
        with path.open("rb") as fh:
            resource = xmlschema.XMLResource(fh, lazy=lazy, defuse="always", allow="none")
            for error in self.schema.iter_errors(resource):
                match = _RECORD_PATH.match(error.path or "")
                reason = (error.reason or error.message or "")[:MAX_REASON]
                if match is None:
                    findings.add(None, f"{error.path}：{reason}")
                else:
                    where = match.group(2).rsplit("/", 1)[-1] or RECORD_TYPE
                    findings.add(int(match.group(1)) - 1, f"{where}：{reason}")

    def _keys(self, path: Path, indexes: set[int]) -> dict[int, str]:
        keys: dict[int, str] = {}
        index = -1
        with path.open("rb") as fh:
            for root, elem in _iter_records(fh):
                if elem is root:
                    continue
                index += 1
                if index in indexes:
                    keys[index] = elem.get("key", "")
        return keys

    def records(self, path: Path, record_type: str) -> Iterator[StoredRecord]:
        """The records of a batch that passed :meth:`check`, with their fields as a JSON object."""
        index = -1
        with path.open("rb") as fh:
            for root, elem in _iter_records(fh):
                if elem is root:
                    continue
                index += 1
                (body,) = list(elem)
                fields = {_local(child.tag): child.text or "" for child in body}
                yield StoredRecord(
                    idx=index,
                    record_type=record_type,
                    op=elem.get("op", ""),
                    record_id=elem.get("id", ""),
                    natural_key=elem.get("key", ""),
                    version=int(elem.get("version", "0")),
                    entity=elem.get("entity"),
                    payload=json.dumps(fields, ensure_ascii=False, separators=(",", ":")),
                    reason=elem.get("reason"),
                )
