"""Render a delivery batch as the XML document of schemas/batch.xsd, streaming, one record at a time.

Written by hand rather than through an ElementTree because a batch can hold hundreds of thousands of records
and must never sit in memory whole; the structure is flat enough that escaping is the only subtle part, and
the tests validate every rendered batch against the XSD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from gateway.schema.model import RecordType

NAMESPACE = "urn:cn:xinzhou:gateway:1"
SCHEMA_VERSION = "1"
# Characters XML 1.0 cannot carry at all; validation rejects them earlier, this is the last line of defence.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class RenderRow:
    op: str
    record_id: int
    key: str
    version: int
    payload: str  # canonical JSON of the fields
    entity: str | None = None
    attach: str | None = None
    source_sha256: str | None = None
    source_row: int | None = None
    reason: str | None = None  # a withdrawal the gateway decided: publicity_expired | credit_repaired


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def _attr(value: str) -> str:
    return quoteattr(_NOT_XML.sub("", value))


def render_batch(
    out: BinaryIO,
    *,
    rtype: RecordType,
    batch_id: str,
    seq: int,
    sender: str,
    created_at: datetime,
    count: int,
    rows: Iterable[RenderRow],
) -> int:
    """Write the batch document; returns the number of records written (must equal ``count``)."""
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Batch xmlns="{NAMESPACE}" batchId={_attr(batch_id)} '
        f'seq="{seq}" sender={_attr(sender)} recordType={_attr(rtype.name)} '
        f'createdAt="{created_at.strftime("%Y-%m-%dT%H:%M:%SZ")}" count="{count}" '
        f'schemaVersion="{SCHEMA_VERSION}">\n'
    )
    out.write(head.encode())
    written = 0
    codes = rtype.codes
    for row in rows:
        attrs = [
            f"op={_attr(row.op)}",
            f'id="r-{row.record_id}"',
            f"key={_attr(row.key)}",
            f'version="{row.version}"',
        ]
        if row.entity:
            attrs.append(f"entity={_attr(row.entity)}")
        if row.attach:
            attrs.append(f"attach={_attr(row.attach)}")
        if row.source_sha256:
            attrs.append(f'sourceSha256="{row.source_sha256}"')
        if row.source_row:
            attrs.append(f'sourceRow="{row.source_row}"')
        if row.reason:
            attrs.append(f"reason={_attr(row.reason)}")
        fields = json.loads(row.payload)
        body = "".join(f"<{code}>{_text(fields[code])}</{code}>" for code in codes if code in fields)
        out.write(
            f"  <Record {' '.join(attrs)}><{rtype.element}>{body}</{rtype.element}></Record>\n".encode()
        )
        written += 1
    out.write(b"</Batch>\n")
    if written != count:
        raise ValueError(f"batch {batch_id}: header says {count} records, wrote {written}")
    return written
