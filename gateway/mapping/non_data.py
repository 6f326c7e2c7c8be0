"""Rows that are not records: the template's example row, instructions under the header, signatures and
totals under the data.

People export from the official templates and from office systems that add such rows. Treated as records
they would be rejected (skewing the rejection threshold) or, worse, an example row that happens to be valid
would reach the province under the city's name. They are recognised by rules kept as data
(``non_data_rows`` in mappings/defaults.yaml), over whole columns with Arrow: only the rows found become
Python objects, for the receipt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from gateway.ids.resident_id import mask_in_text
from gateway.mapping.spec import DEFAULTS_FILE, MappingError

ROW = "__row__"
KINDS = {"example": "示例行", "note": "填写说明行", "footer": "表尾（签名、日期、合计）"}
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class KindRule:
    any_cell: tuple[str, ...] = ()
    first_cell: tuple[str, ...] = ()
    every_cell: str | None = None
    max_filled_cells: int | None = None


@dataclass(frozen=True)
class SkippedRow:
    row: int
    kind: str  # example | note | footer
    text: str  # the row's first filled cell, shortened, ID numbers masked

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "kind": self.kind, "label": KINDS[self.kind], "text": self.text}


def _patterns(value: object, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise MappingError(f"{where}: expected a pattern or a list of patterns")
    return tuple(items)


@cache
def _rules_cached(path: Path, _mtime: float) -> tuple[tuple[str, KindRule], ...]:
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("non_data_rows") or {}
    rules = []
    for kind, spec in raw.items():
        where = f"{path.name}:non_data_rows.{kind}"
        if kind not in KINDS or not isinstance(spec, dict):
            raise MappingError(f"{where}: kinds are {sorted(KINDS)}, each a mapping of rules")
        unknown = set(spec) - {"any_cell", "first_cell", "every_cell", "max_filled_cells"}
        if unknown:
            raise MappingError(f"{where}: unknown keys {sorted(unknown)}")
        every = spec.get("every_cell")
        if every is not None and not isinstance(every, str):
            raise MappingError(f"{where}.every_cell: expected one pattern")
        rule = KindRule(
            any_cell=_patterns(spec.get("any_cell", []), f"{where}.any_cell"),
            first_cell=_patterns(spec.get("first_cell", []), f"{where}.first_cell"),
            every_cell=every,
            max_filled_cells=spec.get("max_filled_cells"),
        )
        for pattern in (*rule.any_cell, *rule.first_cell, *([every] if every else [])):
            try:
                pc.match_substring_regex(pa.array([""]), pattern)
            except pa.ArrowInvalid as exc:
                raise MappingError(f"{where}: bad pattern {pattern!r}: {exc}") from exc
        rules.append((kind, rule))
    return tuple(rules)


def load_row_rules(mappings_dir: Path) -> tuple[tuple[str, KindRule], ...]:
    """The rules of ``mappings_dir``/defaults.yaml, in the order written (the first kind that fits wins)."""
    path = mappings_dir / DEFAULTS_FILE
    return _rules_cached(path.resolve(), path.stat().st_mtime)


def _trimmed(column: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _either(patterns: Sequence[str]) -> str | None:
    return "|".join(f"(?:{pattern})" for pattern in patterns) if patterns else None


def _any(masks: Sequence[pa.Array], length: int) -> np.ndarray:
    out = np.zeros(length, dtype=bool)
    for mask in masks:
        out |= pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    return out


def split_non_data(
    batch: pa.RecordBatch, rules: Sequence[tuple[str, KindRule]]
) -> tuple[pa.RecordBatch, list[SkippedRow]]:
    """The batch without its non-data rows, and those rows (row number, kind, what they said)."""
    n = batch.num_rows
    cells = [_trimmed(batch.column(name)) for name in batch.schema.names if name != ROW]
    if not rules or not cells or n == 0:
        return batch, []
    filled = np.zeros(n, dtype=np.int64)
    for column in cells:
        filled += pc.is_valid(column).to_numpy(zero_copy_only=False)
    first = pc.coalesce(*cells)
    kinds = np.full(n, -1, dtype=np.int64)
    for index, (_kind, rule) in enumerate(rules):
        # One alternation per kind of rule: each column is scanned once, not once per pattern.
        any_cell, first_cell = _either(rule.any_cell), _either(rule.first_cell)
        hit = _any([pc.match_substring_regex(c, any_cell) for c in cells] if any_cell else [], n)
        hit |= _any([pc.match_substring_regex(first, first_cell)] if first_cell else [], n)
        if rule.every_cell is not None:
            every = np.ones(n, dtype=bool)
            for column in cells:
                matches = pc.fill_null(pc.match_substring_regex(column, rule.every_cell), False)
                every &= matches.to_numpy(zero_copy_only=False) | ~pc.is_valid(column).to_numpy(
                    zero_copy_only=False
                )
            hit |= every & (filled > 0)
        if rule.max_filled_cells is not None:
            hit &= filled <= rule.max_filled_cells
        kinds = np.where((kinds < 0) & hit, index, kinds)
    found = np.flatnonzero(kinds >= 0)
    if len(found) == 0:
        return batch, []
    rows = batch.column(ROW).take(pa.array(found)).to_pylist()
    texts = first.take(pa.array(found)).to_pylist()
    skipped = [
        SkippedRow(row, rules[kinds[i]][0], _shown(text))
        for i, row, text in zip(found, rows, texts, strict=True)
    ]
    return batch.filter(pa.array(kinds < 0)), skipped


def _shown(text: str | None) -> str:
    text = mask_in_text(text or "")
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
