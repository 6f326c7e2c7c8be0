"""Units of amounts: what a header states, and amounts that are evidently in the wrong unit.

The 双公示 templates keep amounts in 万元; departments keep them in 元, and write the unit in the header
(罚款金额（元）) or not at all. A 元 amount stored as 万元 is 10 000 times too large — in the province's
data, under the city's name — and nothing downstream would notice. So the unit a header states decides the
conversion (exactly, in decimal arithmetic: gateway/mapping/transforms.py), a header whose unit contradicts
its mapping is refused before any row is read, and under a 万元 header a value that is evidently in 元 is
refused with its own error code: one above a plausibility bound, or one equal to the amount in 元 that the
record's own text states. The bound and the text fields are configuration (``amounts`` in
mappings/defaults.yaml; a mapping may set ``max_wanyuan``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from gateway.row_errors import RowError, errors_where
from gateway.schema.model import FieldSpec

if TYPE_CHECKING:
    from gateway.mapping.spec import TransformStep

WANYUAN, YUAN = "万元", "元"
# A unit in brackets at the end of a header: 罚款金额（元）, 金额(单位：元), 没收金额（万元）.
_DECLARED = re.compile(r"[(（]\s*(?:单位\s*[:：]\s*)?(万元|元)\s*[)）]\s*$")
_NUMBER = r"(?P<yuan>[0-9][0-9,，]*(?:\.[0-9]+)?)"


class UnitConflict(ValueError):
    """A header states a unit its column's mapping contradicts; the message says which, in Chinese."""


@dataclass(frozen=True)
class StatedIn:
    """Where a record's text states an amount in 元: the text field and the words before the number."""

    field: str
    words: str


@dataclass(frozen=True)
class AmountRules:
    """The ``amounts`` block of mappings/defaults.yaml (gateway.mapping.spec loads it)."""

    max_wanyuan: Decimal | None = None
    stated_in: Mapping[str, Mapping[str, StatedIn]] = field(default_factory=dict)  # record type → field →


def declared_unit(header: str) -> str | None:
    """The unit a header states at its end.

    >>> declared_unit("罚款金额（元）"), declared_unit("罚款金额(单位：万元)"), declared_unit("罚款金额")
    ('元', '万元', None)
    """
    match = _DECLARED.search(header.strip())
    return match.group(1) if match else None


def yuan_spellings(spec: FieldSpec) -> tuple[str, ...]:
    """A 万元 field's header spellings with the unit written 元, for national templates: a department that
    keeps the template's columns but its own unit is read, and its amounts converted.

    >>> field = FieldSpec(code="F", label="罚款金额（万元）", unit="万元", aliases=("罚款数额（万元）",))
    >>> yuan_spellings(field)
    ('罚款金额（元）', '罚款数额（元）')
    """
    if spec.unit != WANYUAN:
        return ()
    return tuple(
        s[: m.start(1)] + YUAN + s[m.end(1) :]
        for s in (spec.label, *spec.aliases)
        if (m := _DECLARED.search(s)) and m.group(1) == WANYUAN
    )


def steps_for_unit(
    spec: FieldSpec, header: str, steps: tuple[TransformStep, ...]
) -> tuple[tuple[TransformStep, ...], str | None]:
    """The transform steps of a column given the unit its header states, and a note for the receipt when
    that unit changed them. Raises UnitConflict when the header and the mapping disagree."""
    stated = declared_unit(header)
    if spec.unit is None or stated is None:
        return steps, None
    names = {step.name for step in steps}
    if spec.unit == WANYUAN and stated == YUAN:
        if "yuan_to_wanyuan" in names:
            return steps, None
        if "wanyuan" in names:
            converted = tuple(replace(s, name="yuan_to_wanyuan") if s.name == "wanyuan" else s for s in steps)
            return converted, f"列「{header}」的表头写明单位为元，已按 1 万元 = 10000 元精确换算为万元"
    elif spec.unit == stated and "yuan_to_wanyuan" not in names:
        return steps, None
    raise UnitConflict(
        f"列「{header}」的表头写明单位为{stated}，而该列对应的字段「{spec.label}」以{spec.unit}为单位，"
        "映射文件的换算与表头不一致；请核对表头单位，或请平台管理员修改映射"
    )


def unit_errors(
    spec: FieldSpec,
    values: pa.Array,
    rows: pa.Array,
    header: str,
    *,
    bound: Decimal | None,
    stated: StatedIn | None,
    texts: pa.Array | None,
) -> Iterator[RowError]:
    """Rows of a column claimed to be in 万元 whose value is evidently in 元. ``values``: the column after its
    transforms (canonical decimal text); ``texts``: the record's text field that may state the amount."""
    amounts = pc.cast(values, pa.float64(), safe=False) if len(values) else pa.array([], pa.float64())
    # The text's own amount is the more telling evidence, so it is reported first (one error per cell).
    if stated is not None and texts is not None:
        pattern = f"(?:{stated.words})[^0-9，。；;]{{0,8}}?{_NUMBER}\\s*元"
        found = pc.struct_field(pc.extract_regex(texts, pattern), "yuan")
        in_text = pc.cast(pc.replace_substring_regex(found, "[,，]", ""), pa.float64(), safe=False)
        same = pc.and_(pc.equal(amounts, in_text), pc.greater(amounts, 0.0))
        yield from errors_where(
            same,
            rows,
            field=header,
            code="E_AMOUNT_UNIT",
            message=pc.binary_join_element_wise(
                f"「{spec.label}」应以万元为单位，填写的数值与处罚内容中写明的「",
                pc.cast(found, pa.string()),
                "元」相同，看来是以元填写的；请换算为万元后重新报送",
                "",
            ),
            values=values,
        )
    if bound is not None:
        yield from errors_where(
            pc.greater(amounts, float(bound)),
            rows,
            field=header,
            code="E_AMOUNT_UNIT",
            message=f"「{spec.label}」应以万元为单位，该值超过合理上限 {bound} 万元，疑为以元填写；"
            "请换算为万元后重新报送（如确为万元，请联系平台管理员调整上限）",
            values=values,
        )
