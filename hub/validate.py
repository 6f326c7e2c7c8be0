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
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
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

_NS = f"{{{TARGET_NAMESPACE}}}"
_BATCH_TAG = _NS + BATCH_ELEMENT
_RECORD_TAG = _NS + RECORD_TYPE
_RECORD_PATH = re.compile(rf"^/(?:\w+:)?{BATCH_ELEMENT}/(?:\w+:)?{RECORD_TYPE}\[(\d+)\](.*)$")
MAX_REASON = 300
MAX_REASONS_PER_RECORD = 3


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
    ) -> None:
        self.schema = schema
        self.element_types = dict(element_types)
        self.max_rejections = max_rejections
        self.fast_schema = fast_schema

    @classmethod
    def from_dir(cls, schema_dir: Path, *, max_rejections: int = 1000) -> BatchValidator:
        return cls(
            batch_schema(schema_dir),
            _libxml2_schema(schema_dir / BATCH_SCHEMA),
            element_to_type(schema_dir),
            max_rejections=max_rejections,
        )

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
