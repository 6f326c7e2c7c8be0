"""The canonical payload equals json.dumps(sort_keys, compact, ensure_ascii=False) of the non-null fields."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from gateway.schema.model import FieldSpec, RecordType, SubjectSpec
from gateway.store.records import canonical_payloads, natural_keys

RTYPE = RecordType(
    name="probe",
    element="Probe",
    label="测试",
    version="1",
    fields=tuple(FieldSpec(code, code) for code in ("B", "A", "C_1")),
    natural_key=("A", "B"),
    subject=SubjectSpec(name="A"),
)
VALUES = [
    '忻州"市"',
    "back\\slash",
    "line\nbreak\r\ttab",
    "",
    "U+2028\u2028 ok",
    "\x7f del",
    "😀 emoji",
    None,
]


def test_payloads_match_json_dumps() -> None:
    rows = [{"A": a, "B": b, "C_1": c} for a in VALUES for b in VALUES[::-1] for c in (None, "x")]
    table = pa.table({code: pa.array([r[code] for r in rows], pa.string()) for code in ("B", "A", "C_1")})
    payloads, hashes = canonical_payloads(RTYPE, table)
    for row, payload, digest in zip(rows, payloads, hashes, strict=True):
        expected = json.dumps(
            {k: v for k, v in row.items() if v is not None},
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )
        assert payload == expected
        assert digest == hashlib.sha256(expected.encode()).hexdigest()


def test_natural_key_joins_fields_in_declared_order() -> None:
    table = pa.table({"A": ["k1", None], "B": ["b", "b2"], "C_1": [None, None]})
    assert natural_keys(RTYPE, table).to_pylist() == ["k1|b", "|b2"]
