"""Field facets from the XSD (required, length, pattern, code list, date, decimal, identifier check),
checked over whole Arrow columns. Each check yields RowErrors only for the rows that fail."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from gateway.arrow_bytes import CONTROL, may_hold
from gateway.ids import columns as id_columns
from gateway.ids import orgcode, regno, resident_id, uscc
from gateway.ids.errors import message as id_message
from gateway.row_errors import RowError, errors_where
from gateway.schema.model import FieldSpec, IdentifierCheck

# Control characters other than tab, newline and carriage return cannot be carried in XML 1.0 and are never
# intended in an export; they usually mean a binary paste or an encoding accident.
CONTROL_CHARS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
DECIMAL_TEXT = r"^-?\d+(\.\d+)?$"
SHOWN_CODES = 10

IDENTIFIER_CHECKS: Mapping[str, Callable[[pa.Array], pa.Array]] = id_columns.CHECKS
IDENTIFIER_LABELS: Mapping[str, str] = {
    "uscc": uscc.LABEL,
    "org_code": orgcode.LABEL,
    "regno": regno.LABEL,
    "resident_id": resident_id.LABEL,
}


def identifier_errors(
    values: pa.Array,
    rows: pa.Array,
    kind: IdentifierCheck,
    *,
    header: str,
    code: str,
    prefix: str = "",
    where: pa.Array | None = None,
    echo: pa.Array | None = None,
) -> Iterator[RowError]:
    """Check an identifier column; ``where`` limits the check to rows a rule selects; ``echo``: the values
    to quote in errors when they differ from the checked ones (as typed, before compaction)."""
    reasons = IDENTIFIER_CHECKS[kind](values)
    failing = pc.is_valid(reasons)
    if where is not None:
        failing = pc.and_(failing, pc.fill_null(where, False))
    indices = pc.indices_nonzero(failing)
    if len(indices) == 0:
        return
    reason_texts = pc.take(reasons, indices).to_pylist()
    label = IDENTIFIER_LABELS[kind]
    messages = pa.array([f"{prefix}{label}无效：{id_message(r)}" for r in reason_texts], pa.string())
    yield from errors_where(
        pa.array([True] * len(indices)),
        pc.take(rows, indices),
        field=header,
        code=code,
        message=messages,
        values=pc.take(values if echo is None else echo, indices),
        mask_value=kind == "resident_id",
    )


def field_errors(
    spec: FieldSpec,
    values: pa.Array,
    rows: pa.Array,
    header: str,
    *,
    sensitive: bool = False,
    echo: pa.Array | None = None,
) -> Iterator[RowError]:
    """``echo``: the values to quote in errors, when the checked ones were normalised from them."""
    label = spec.label
    present = pc.is_valid(values)
    shown = {"values": values if echo is None else echo, "mask_value": sensitive}
    if spec.required:
        yield from errors_where(
            pc.invert(present),
            rows,
            field=header,
            code="E_REQUIRED",
            message=f"「{label}」为必填项，不能为空",
        )
    if pc.sum(present).as_py() in (0, None):
        return
    if may_hold(values, CONTROL):  # nearly never: the byte scan spares the regex kernel (arrow_bytes)
        yield from errors_where(
            pc.match_substring_regex(values, CONTROL_CHARS),
            rows,
            field=header,
            code="E_CONTROL_CHAR",
            message=f"「{label}」含有不可见的控制字符",
            **shown,
        )
    if spec.check is not None:
        # Format characters (Unicode Cf) that compaction does not remove — bidirectional overrides, say — are
        # invisible, so "wrong length" would mislead: say what is there. (Validation compacts identifiers
        # first, gateway.validation.canonical_identifiers, so soft hyphens and zero-width spaces are gone.)
        yield from errors_where(
            pc.match_substring_regex(values, r"\p{Cf}"),
            rows,
            field=header,
            code="E_FORMAT_CHAR",
            message=f"「{label}」含有不可见的格式字符（如文字方向控制符），请删除后重新填写",
            **shown,
        )
        # The identifier check names the precise fault (length, illegal letter, check character), so the
        # generic length and pattern facets of the same field would only repeat it less helpfully.
        yield from identifier_errors(
            values, rows, spec.check, header=header, code=f"E_{spec.check.upper()}", echo=echo
        )
        return
    lengths = pc.utf8_length(values)
    if spec.max_length is not None:
        too_long = pc.greater(lengths, spec.max_length)
        yield from errors_where(
            too_long,
            rows,
            field=header,
            code="E_TOO_LONG",
            message=pc.binary_join_element_wise(
                f"「{label}」长度为 ",
                pc.cast(lengths, pa.string()),
                f" 个字符，超过上限 {spec.max_length} 个字符",
                "",
            ),
            values=values,
            mask_value=sensitive,
        )
    if spec.min_length is not None:
        yield from errors_where(
            pc.less(lengths, spec.min_length),
            rows,
            field=header,
            code="E_TOO_SHORT",
            message=f"「{label}」至少应有 {spec.min_length} 个字符",
            **shown,
        )
    if spec.pattern is not None:
        bad = pc.invert(pc.match_substring_regex(values, f"^(?:{spec.pattern})$"))
        yield from errors_where(
            bad, rows, field=header, code="E_PATTERN", message=f"「{label}」格式不正确", **shown
        )
    if spec.enumeration:
        allowed = "、".join(spec.enumeration[:SHOWN_CODES]) + (
            "等" if len(spec.enumeration) > SHOWN_CODES else ""
        )
        bad = pc.invert(pc.is_in(values, value_set=pa.array(spec.enumeration, pa.string())))
        yield from errors_where(
            pc.and_(bad, present),
            rows,
            field=header,
            code="E_CODELIST",
            message=f"「{label}」的值不在代码表中，应为：{allowed}",
            **shown,
        )
    if spec.base == "date":
        bad = pc.invert(pc.match_substring_regex(values, DATE_TEXT))
        yield from errors_where(
            bad,
            rows,
            field=header,
            code="E_DATE",
            message=f"「{label}」不是有效日期，应为 YYYY-MM-DD",
            **shown,
        )
    elif spec.base == "decimal":
        yield from _decimal_errors(spec, values, rows, header)


def _decimal_errors(spec: FieldSpec, values: pa.Array, rows: pa.Array, header: str) -> Iterator[RowError]:
    label = spec.label
    well_formed = pc.match_substring_regex(values, DECIMAL_TEXT)
    yield from errors_where(
        pc.invert(well_formed),
        rows,
        field=header,
        code="E_DECIMAL",
        message=f"「{label}」不是有效数字",
        values=values,
    )
    if spec.fraction_digits is not None:
        too_precise = pc.match_substring_regex(values, rf"\.\d{{{spec.fraction_digits + 1},}}$")
        yield from errors_where(
            too_precise,
            rows,
            field=header,
            code="E_DECIMAL",
            message=f"「{label}」最多保留 {spec.fraction_digits} 位小数",
            values=values,
        )
    if spec.total_digits is not None:
        digits = pc.utf8_length(pc.replace_substring_regex(values, r"[^0-9]", ""))
        yield from errors_where(
            pc.and_(well_formed, pc.greater(digits, spec.total_digits)),
            rows,
            field=header,
            code="E_DECIMAL",
            message=f"「{label}」数字位数超过 {spec.total_digits} 位",
            values=values,
        )
