"""What a record type's condition (schema.model.Condition) selects in a table of its fields: the guard of a
cross-field rule (gateway.validation.rules) and a withdrawal (gateway.store.records), as a boolean mask."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from gateway.schema.model import Condition


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
