"""Cross-field rules declared in the XSD's appinfo (e.g. a natural person needs an ID document; a fine
needs an amount), evaluated as boolean masks over whole columns."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from gateway.row_errors import RowError, errors_where
from gateway.schema.conditions import condition_mask
from gateway.schema.model import RecordType, Rule
from gateway.validation.fields import identifier_errors


def rule_errors(
    rtype: RecordType, table: pa.Table, header_of: Callable[[str], str], rule: Rule
) -> Iterator[RowError]:
    rows = table.column("__row__")
    applies = condition_mask(rule.condition, table)
    if not pc.any(applies).as_py():
        return
    for code in rule.require:
        missing = pc.and_(applies, pc.is_null(table.column(code)))
        yield from errors_where(missing, rows, field=header_of(code), code=rule.code, message=rule.message)
    if rule.require_any:
        none_filled = applies
        for code in rule.require_any:
            none_filled = pc.and_(none_filled, pc.is_null(table.column(code)))
        yield from errors_where(
            none_filled, rows, field=header_of(rule.require_any[0]), code=rule.code, message=rule.message
        )
    for code, kind in rule.check:
        yield from identifier_errors(
            table.column(code),
            rows,
            kind,
            header=header_of(code),
            code=rule.code,
            prefix=f"{rule.message}：",
            where=applies,
        )


def all_rule_errors(
    rtype: RecordType, table: pa.Table, header_of: Callable[[str], str] | Mapping[str, str]
) -> Iterator[RowError]:
    lookup = header_of.__getitem__ if isinstance(header_of, Mapping) else header_of
    for rule in rtype.rules:
        yield from rule_errors(rtype, table, lookup, rule)
