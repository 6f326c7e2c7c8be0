"""Cross-field rules declared in the XSD's appinfo (e.g. a natural person needs an ID document; a fine
needs an amount), evaluated as boolean masks over whole columns."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from gateway.row_errors import RowError, errors_where
from gateway.schema.model import Condition, RecordType, Rule
from gateway.validation.fields import identifier_errors


def condition_mask(condition: Condition | None, table: pa.Table) -> pa.Array:
    """Rows where the rule applies; a null field never satisfies a condition."""
    if condition is None:
        return pa.array([True] * table.num_rows, pa.bool_())
    values = table.column(condition.field)
    value_set = pa.array(condition.values, pa.string())
    if condition.op == "in":
        mask = pc.is_in(values, value_set=value_set)
    elif condition.op == "not_in":
        mask = pc.invert(pc.is_in(values, value_set=value_set))
    elif condition.op == "present":
        mask = pc.is_valid(values)
    elif condition.op == "equals":
        mask = pc.equal(values, pa.scalar(condition.values[0], pa.string()))
    else:  # contains: any of the values occurs in the text (e.g. 处罚类别 "警告;罚款" contains 罚款)
        mask = pa.array([False] * table.num_rows, pa.bool_())
        for needle in condition.values:
            mask = pc.or_(mask, pc.match_substring(values, needle))
    return pc.and_(pc.fill_null(mask, False), pc.is_valid(values))


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
