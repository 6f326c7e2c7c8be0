"""The peer: frictionless validating the same source against the same rules, as a Table Schema.

The schema is derived from the record type (schemas/*.xsd) and the mapping the gateway itself chose for the
source, so both sides check the same columns: required, maxLength, pattern, enum, dates (format "any",
dateutil's parser), numbers. What Table Schema cannot say is left out, which flatters the peer: identifier
check characters (USCC, resident ID), cross-field rules, and the mapping's transforms (the peer sees the raw
cells). Errors frictionless would stop at are not limited (``limit_errors``), and "missing-cell" is skipped
for XLSX (Excel leaves trailing empty cells out of a row; the gateway reads them as empty, and so should the
peer).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from frictionless import Checklist, Resource, Schema, fields, formats

from gateway.mapping.engine import Plan

NO_LIMIT = 10**9


def table_schema(plan: Plan) -> Schema:
    """One field per source column; the columns a record-type field is mapped from carry its facets."""
    by_column = {index: plan.record_type.field(code) for code, index in plan.columns.items()}
    out = []
    for index, header in enumerate(plan.headers):
        spec = by_column.get(index)
        if spec is None:
            out.append(fields.StringField(name=header))
            continue
        constraints: dict[str, Any] = {}
        if spec.required:
            constraints["required"] = True
        if spec.base == "date":
            out.append(fields.DateField(name=header, format="any", constraints=constraints))
            continue
        if spec.base == "decimal":
            out.append(fields.NumberField(name=header, constraints=constraints))
            continue
        if spec.max_length is not None:
            constraints["maxLength"] = spec.max_length
        if spec.pattern is not None:
            constraints["pattern"] = spec.pattern
        if spec.enumeration:
            constraints["enum"] = list(spec.enumeration)
        out.append(fields.StringField(name=header, constraints=constraints))
    return Schema(fields=out)


def validate(
    kind: str, path: Path, plan: Plan, *, rows: int, encoding: str | None, table: str | None
) -> dict:
    """Validate the first ``rows`` rows; returns seconds, rows validated and errors found."""
    schema = table_schema(plan)
    checklist = Checklist(skip_errors=["missing-cell"] if kind == "xlsx" else [])
    if kind == "csv":
        resource = Resource(
            path=path.name, basepath=str(path.parent), format="csv", encoding=encoding, schema=schema
        )
    elif kind == "xlsx":
        resource = Resource(path=path.name, basepath=str(path.parent), format="xlsx", schema=schema)
    elif kind == "sql":
        resource = Resource(path=f"sqlite:///{path}", control=formats.SqlControl(table=table), schema=schema)
    else:
        raise ValueError(f"frictionless has no reader for {kind}")
    start = time.perf_counter()
    report = resource.validate(checklist=checklist, limit_rows=rows, limit_errors=NO_LIMIT)
    seconds = time.perf_counter() - start
    task = report.tasks[0]
    failures = [e for e in task.errors if e.type in ("resource-error", "source-error", "scheme-error")]
    if failures:
        raise RuntimeError(f"frictionless could not read {path.name}: {failures[0].message}")
    return {
        "seconds": seconds,
        "rows": int(task.stats["rows"] or 0),
        "errors": int(task.stats["errors"] or 0),
    }
