"""Validate mapped records against their record type: field facets, then cross-field rules.

The result keeps one error per (row, field): a cell a transform could not read is reported once, not again
as "required" after it became empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from gateway.ids.normalize import compact_array
from gateway.row_errors import RowError
from gateway.schema.model import RecordType
from gateway.validation.fields import field_errors
from gateway.validation.rules import all_rule_errors

ROW = "__row__"


@dataclass(frozen=True)
class Validated:
    good: pa.Table
    errors: list[RowError]
    bad_rows: int
    normalised: dict[str, int] = field(default_factory=dict)
    """Field code → how many identifiers of this batch were written differently from their standard form
    (spaces, hyphens, invisible characters, full-width forms, lower-case letters), which the receipt says."""


def canonical_identifiers(rtype: RecordType, table: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """Identifier fields in the form their check reads (gateway.ids.normalize.compact).

    The check compacts before it computes, so a code with a soft hyphen or a zero-width space inside passes
    it; stored as typed, it would then be a second, invisibly different key for the same entity. Storing the
    compact form makes what is checked, stored, attached and sent the same string; a format character that
    compaction does not remove (a bidirectional override, say) leaves the code invalid and refused."""
    changed: dict[str, int] = {}
    for spec in rtype.fields:
        if spec.check is None:
            continue
        column = table.column(spec.code)
        compacted = compact_array(column).cast(column.type)
        differs = pc.sum(pc.fill_null(pc.not_equal(column, compacted), False)).as_py() or 0
        if differs:
            changed[spec.code] = differs
            table = table.set_column(table.schema.get_field_index(spec.code), spec.code, compacted)
    return table, changed


def first_per_cell(errors: Iterable[RowError]) -> list[RowError]:
    seen: set[tuple[int, str]] = set()
    kept = []
    for error in errors:
        key = (error.row, error.field)
        if key not in seen:
            seen.add(key)
            kept.append(error)
    return kept


def validate(
    rtype: RecordType,
    table: pa.Table,
    header_of: Callable[[str], str],
    earlier: Iterable[RowError] = (),
) -> Validated:
    """Check ``table`` (string columns named by field code plus __row__) and split off the bad rows.

    ``earlier`` are errors already found for these rows (by the reader or the mapping); they count as bad
    rows too and win over later errors on the same cell.
    """
    typed = table
    table, normalised = canonical_identifiers(rtype, table)
    rows = table.column(ROW)
    sensitive = rtype.personal_id_fields
    found: list[RowError] = list(earlier)
    for spec in rtype.fields:
        found.extend(
            field_errors(
                spec,
                table.column(spec.code),
                rows,
                header_of(spec.code),
                sensitive=spec.code in sensitive,
                echo=typed.column(spec.code) if spec.code in normalised else None,
            )
        )
    found.extend(all_rule_errors(rtype, table, header_of))
    errors = sorted(first_per_cell(found), key=lambda e: (e.row, e.field))
    bad = sorted({e.row for e in errors})
    if bad:
        is_bad = pc.is_in(rows, value_set=pa.array(bad, rows.type))
        good = table.filter(pc.invert(is_bad))
    else:
        good = table
    return Validated(good=good, errors=errors, bad_rows=table.num_rows - good.num_rows, normalised=normalised)
