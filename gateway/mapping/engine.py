"""Bind a mapping to one file's header row, then map its record batches column by column with Arrow.

Choosing the mapping happens once per file (``plan_for``); applying it is pure column work (``apply_plan``):
every transform runs over a whole column, and only rows that fail become Python objects (RowError).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from gateway.mapping import transforms
from gateway.mapping.headers import match_headers
from gateway.mapping.spec import MappingSpec, TransformStep, check_against, for_source
from gateway.mapping.units import WANYUAN, UnitConflict, steps_for_unit, unit_errors
from gateway.row_errors import RowError, errors_where
from gateway.schema.model import RecordType

ROW = "__row__"


class UnknownHeaders(ValueError):
    """No mapping recognises the file's header row. The message says what was expected, in Chinese."""

    def __init__(self, message: str, *, missing: Sequence[str] = (), unknown: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.missing = list(missing)
        self.unknown = list(unknown)

    def __reduce__(self) -> tuple[object, ...]:
        """Picklable with its keyword fields (gateway.read_process carries exceptions between processes)."""
        return _unknown_headers, (self.message, self.missing, self.unknown)


def _unknown_headers(message: str, missing: list[str], unknown: list[str]) -> UnknownHeaders:
    return UnknownHeaders(message, missing=missing, unknown=unknown)


@dataclass(frozen=True)
class Plan:
    spec: MappingSpec
    record_type: RecordType
    headers: tuple[str, ...]
    columns: Mapping[str, int]  # field code → index of the file column that fills it
    constants: Mapping[str, str]
    ignored: tuple[str, ...] = ()  # file headers no field takes
    duplicates: tuple[str, ...] = ()  # headers of columns that claim the same field (never guessed between)
    conflicts: frozenset[str] = field(default=frozenset())  # the fields those columns claim
    steps: Mapping[str, tuple[TransformStep, ...]] = field(default_factory=dict)  # field code → transforms
    notes: tuple[str, ...] = ()  # what the receipt should say about how columns were read (units)
    unit_conflict: str | None = None  # a header's unit contradicts the mapping: the plan cannot be used

    def header_of(self, code: str) -> str:
        """The column header as written in the file; for constant or unmapped fields, the field label."""
        if code in self.columns:
            return self.headers[self.columns[code]]
        return self.record_type.field(code).label


@dataclass(frozen=True)
class Mapped:
    table: pa.Table  # one string column per field code of the record type, plus __row__
    errors: list[RowError]


def _missing_required(spec: MappingSpec, rtype: RecordType, plan: Plan) -> list[str]:
    """Required fields neither a column nor a constant fills (a field claimed twice is not missing)."""
    filled = set(plan.columns) | set(plan.constants) | plan.conflicts
    return [f.code for f in rtype.fields if f.required and f.code not in filled]


def _bind(spec: MappingSpec, rtype: RecordType, headers: Sequence[str]) -> Plan:
    match = match_headers(list(headers), spec.header_candidates(rtype))
    steps: dict[str, tuple[TransformStep, ...]] = {}
    notes: list[str] = []
    conflict = None
    for spec_field in rtype.fields:
        default = spec.steps_for(spec_field)
        column = match.matched.get(spec_field.code)
        if column is None:
            steps[spec_field.code] = default
            continue
        try:
            steps[spec_field.code], note = steps_for_unit(spec_field, headers[column], default)
        except UnitConflict as exc:
            conflict, steps[spec_field.code], note = conflict or str(exc), default, None
        if note:
            notes.append(note)
    return Plan(
        spec=spec,
        record_type=rtype,
        headers=tuple(headers),
        columns=dict(match.matched),
        constants=spec.constants(),
        ignored=tuple(headers[i] for i in match.unmatched),
        duplicates=tuple(match.duplicates),
        conflicts=frozenset(match.conflicts),
        steps=steps,
        notes=tuple(notes),
        unit_conflict=conflict,
    )


@dataclass(frozen=True)
class Candidate:
    """A mapping bound to a header row, and how well it fits: the header locator compares these."""

    score: int
    plan: Plan
    missing: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing


def best_candidate(
    headers: Sequence[str],
    specs: Mapping[str, MappingSpec],
    record_types: Mapping[str, RecordType],
    source: str | None = None,
) -> Candidate | None:
    """The mapping that fills most of the record type from these headers (the source's own first).

    A candidate that misses a required field scores far below any that does not; among complete ones, the
    one that uses most of the file's columns wins."""
    best: Candidate | None = None
    for spec in for_source(specs, source):
        rtype = record_types.get(spec.record_type)
        if rtype is None:
            raise UnknownHeaders(f"映射 {spec.id} 指向未知的数据类型 {spec.record_type}")
        check_against(spec, rtype)
        plan = _bind(spec, rtype, headers)
        missing = _missing_required(spec, rtype, plan)
        own = source is not None and source in spec.sources
        score = len(plan.columns) - 1000 * len(missing) + (1 if own else 0)
        if best is None or score > best.score:
            best = Candidate(score, plan, missing)
    return best


def plan_for(
    headers: Sequence[str],
    specs: Mapping[str, MappingSpec],
    record_types: Mapping[str, RecordType],
    source: str | None = None,
) -> Plan:
    """Pick the mapping that fills every required field from these headers (the source's own first).

    Among complete candidates the one that uses most of the file's columns wins; if none is complete the
    error names the closest candidate and the columns it lacks, so a department can fix its header row.
    """
    best = best_candidate(headers, specs, record_types, source)
    if best is None:
        raise UnknownHeaders("没有可用的映射：请检查 mappings/ 目录")
    return usable(best)


def usable(candidate: Candidate, where: str = "") -> Plan:
    """The candidate's plan, or UnknownHeaders saying what is wrong with it (``where``: "第 3 行的" …)."""
    plan, missing = candidate.plan, candidate.missing
    if missing:
        labels = "、".join(f"「{plan.record_type.field(c).label}」" for c in missing)
        raise UnknownHeaders(
            f"{where}表头无法识别：最接近的模板是「{plan.spec.label}」，但缺少必填列 {labels}。"
            f"请使用国家标准模板的表头，或为本单位提供映射文件。",
            missing=missing,
            unknown=list(plan.ignored),
        )
    if plan.duplicates:
        names = "、".join(f"「{h}」" for h in plan.duplicates)
        raise UnknownHeaders(
            f"表头重复：{names} 对应同一字段，无法确定使用哪一列", unknown=list(plan.duplicates)
        )
    if plan.unit_conflict:
        raise UnknownHeaders(plan.unit_conflict)
    return plan


def plan_by_id(headers: Sequence[str], spec: MappingSpec, record_types: Mapping[str, RecordType]) -> Plan:
    """Bind a mapping chosen by the caller (``gateway check --source``) and report what it lacks."""
    rtype = record_types[spec.record_type]
    check_against(spec, rtype)
    plan = _bind(spec, rtype, headers)
    missing = _missing_required(spec, rtype, plan)
    if missing:
        labels = "、".join(f"「{rtype.field(c).label}」" for c in missing)
        raise UnknownHeaders(
            f"按映射「{spec.label}」缺少必填列 {labels}", missing=missing, unknown=list(plan.ignored)
        )
    if plan.unit_conflict:
        raise UnknownHeaders(plan.unit_conflict)
    return plan


def apply_plan(plan: Plan, batch: pa.RecordBatch) -> Mapped:
    """Map one record batch of raw string columns (c0, c1, …, __row__) to the record type's fields."""
    rows = batch.column(ROW)
    n = batch.num_rows
    columns: dict[str, pa.Array] = {}
    errors: list[RowError] = []
    for spec_field in plan.record_type.fields:
        code = spec_field.code
        if code in plan.columns:
            values: pa.Array = batch.column(f"c{plan.columns[code]}")
        elif code in plan.constants:
            values = pa.array([plan.constants[code]] * n, pa.string())
        else:
            columns[code] = pa.nulls(n, pa.string())
            continue
        original = values
        for step in plan.steps.get(code, ()) if code in plan.columns else plan.spec.steps_for(spec_field):
            outcome = transforms.apply(step.name, values, step.params)
            if outcome.invalid is not None:
                errors.extend(
                    errors_where(
                        outcome.invalid,
                        rows,
                        field=plan.header_of(code),
                        code=outcome.code,
                        message=outcome.message,
                        values=original,
                        mask_value=code in plan.record_type.personal_id_fields,
                    )
                )
                outcome_values = pc.if_else(outcome.invalid, pa.scalar(None, pa.string()), outcome.values)
            else:
                outcome_values = outcome.values
            values = outcome_values
        columns[code] = values.cast(pa.string())
    errors.extend(_unit_errors(plan, columns, rows))
    columns[ROW] = rows
    return Mapped(pa.table(columns), errors)


def _unit_errors(plan: Plan, columns: Mapping[str, pa.Array], rows: pa.Array) -> Iterator[RowError]:
    """Columns taken to be in 万元 (by header or template), checked for values evidently in 元."""
    rtype, rules = plan.record_type, plan.spec.amounts
    for spec_field in rtype.fields:
        code = spec_field.code
        if spec_field.unit != WANYUAN or code not in plan.columns:
            continue
        if any(step.name == "yuan_to_wanyuan" for step in plan.steps.get(code, ())):
            continue  # read as 元 and converted: the mapping or the header said so
        stated = rules.stated_in.get(rtype.name, {}).get(code)
        yield from unit_errors(
            spec_field,
            columns[code],
            rows,
            plan.header_of(code),
            bound=rules.max_wanyuan,
            stated=stated,
            texts=columns.get(stated.field) if stated else None,
        )
