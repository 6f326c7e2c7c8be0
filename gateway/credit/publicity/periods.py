"""The publicity period of each record, computed over whole Arrow columns from the rules (publicity.yaml).

In this order, for the rows of one record type:

1. the decision date; a row without a readable one is set aside (``undated``) and reported by the caller;
2. the regime: the first whose conditions hold (authority, decision date);
3. the penalty kinds named in 处罚类别 (and ``other`` for what no kind recognises);
4. per kind, its tier in the regime (an amount compared with a threshold of the subject's category may
   decide); of the tiers a record's kinds give, the LONGEST;
5. the tier's minimum and maximum from the decision date; a sector's longer minimum; a restriction that
   lasts beyond the maximum extends it;
6. the record's own 公示截止期: kept when it lies between the minimum's end and the maximum's end, otherwise
   the maximum's end is used and the contradiction is written down (``conflict``).

Nothing here reads the database: compute.py feeds it the rows and stores what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc

from gateway.credit.publicity.dates import AMOUNT, add_months, parse_amounts, parse_dates
from gateway.credit.publicity.rules import (
    BINDINGS,
    OPERATORS,
    OTHER,
    Case,
    PublicityRules,
    RecordBinding,
    Regime,
    Threshold,
)

SECTOR_TEXT = "sector_text"
OUTPUT = pa.schema(
    [
        ("record_id", pa.int64()),
        ("regime", pa.string()),
        ("tier", pa.string()),
        ("basis", pa.string()),
        ("starts_on", pa.date32()),
        ("repairable_on", pa.date32()),
        ("ends_on", pa.date32()),
        ("own_end", pa.date32()),
        ("conflict", pa.string()),
    ]
)
_NO_TEXT = pa.scalar(None, pa.string())
_NO_DAY = pa.scalar(None, pa.date32())
_COMPARE = {"below": pc.less, "at_most": pc.less_equal, "at_least": pc.greater_equal}


@dataclass(frozen=True)
class Periods:
    rows: pa.Table  # OUTPUT, then the input's passthrough columns
    undated: pa.Table  # record_id, the passthrough columns and decided_on (the text that is not a date)


def periods(
    table: pa.Table, rules: PublicityRules, binding: RecordBinding, passthrough: tuple[str, ...] = ()
) -> Periods:
    """The period of every row of ``table``: ``record_id``, a column per binding (text; missing ones are
    taken as empty) and ``sector_text``. ``passthrough`` columns are carried to the result unchanged."""
    table = _complete(table)
    starts = parse_dates(_col(table, "decided_on"))
    dated = pc.is_valid(starts)
    undated = table.filter(pc.invert(dated)).select(["record_id", *passthrough, "decided_on"])
    table, starts = table.filter(dated), starts.filter(dated)
    present = _kinds(_col(table, "kinds"), rules)
    regimes = rules.regimes_for(binding.record_type)
    which = _regime_of(table, starts, regimes)
    schema = pa.schema([*OUTPUT, *(table.schema.field(name) for name in passthrough)])
    parts = []
    for i, regime in enumerate(regimes):
        mine = pc.fill_null(pc.equal(which, i), False)
        if not pc.any(mine).as_py():
            continue
        rows = table.filter(mine)
        masks = {kind: mask.filter(mine) for kind, mask in present.items()}
        columns = _in_regime(regime, rows, starts.filter(mine), masks, rules)
        arrays = [columns[f.name].cast(f.type) for f in OUTPUT] + [rows[name] for name in passthrough]
        parts.append(pa.Table.from_arrays(arrays, schema=schema))
    rows = pa.concat_tables(parts) if parts else schema.empty_table()
    return Periods(rows, undated)


# ----------------------------------------------------------------------------------------------- steps
def _complete(table: pa.Table) -> pa.Table:
    """Every binding as a text column (null where the record type does not bind it), and sector_text."""
    table = table.combine_chunks()
    for name in (*BINDINGS, SECTOR_TEXT):
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table


def _kinds(texts: pa.Array, rules: PublicityRules) -> dict[str, pa.Array]:
    """Per kind id, which rows name it; ``OTHER``: rows with a piece no kind recognises, or with none."""
    texts = pc.fill_null(pc.utf8_trim_whitespace(texts), "")
    present = {
        kind.id: _any([pc.match_substring(texts, word) for word in kind.written], len(texts))
        for kind in rules.kinds
    }
    pieces = pc.split_pattern_regex(texts, rules.separators)
    flat = pc.list_flatten(pieces)
    words = [word for kind in rules.kinds for word in kind.written]
    known = _any([pc.match_substring(flat, word) for word in words], len(flat))
    stray = pc.and_(pc.not_equal(flat, ""), pc.invert(known))
    rows = pc.unique(pc.filter(pc.list_parent_indices(pieces), stray))
    unrecognised = pc.is_in(pa.array(range(len(texts)), pa.int64()), value_set=pc.cast(rows, pa.int64()))
    nothing = pc.invert(_any(list(present.values()), len(texts)))
    present[OTHER] = pc.or_(unrecognised, nothing)
    return present


def _regime_of(table: pa.Table, starts: pa.Array, regimes: tuple[Regime, ...]) -> pa.Array:
    """The position of each row's regime: the first whose conditions hold (the last has none)."""
    which = pa.nulls(table.num_rows, pa.int32())
    for i, regime in enumerate(regimes):
        applies = regime.applies
        holds = pa.array([True] * table.num_rows, pa.bool_())
        if applies.by_authority:
            name = pc.fill_null(_col(table, "authority"), "")
            code = pc.fill_null(pc.utf8_trim_whitespace(_col(table, "authority_code")), "")
            by_name = [pc.match_substring(name, word) for word in applies.authority_contains]
            by_code = pc.is_in(code, value_set=pa.array(applies.authority_codes, pa.string()))
            holds = pc.and_(holds, pc.or_(_any(by_name, table.num_rows), by_code))
        if applies.decided_from is not None:
            holds = pc.and_(holds, pc.greater_equal(starts, pa.scalar(applies.decided_from, pa.date32())))
        if applies.decided_before is not None:
            holds = pc.and_(holds, pc.less(starts, pa.scalar(applies.decided_before, pa.date32())))
        which = pc.if_else(pc.and_(pc.is_null(which), holds), pa.scalar(i, pa.int32()), which)
    return which


def _in_regime(
    regime: Regime,
    table: pa.Table,
    starts: pa.Array,
    present: Mapping[str, pa.Array],
    rules: PublicityRules,
) -> dict[str, pa.Array]:
    n = table.num_rows
    listed = set(regime.kinds)
    # A kind the regime does not list is one of its "other" kinds.
    other = _any([present[OTHER], *(mask for kind, mask in present.items() if kind not in listed)], n)
    gives = {tier.id: pa.array([False] * n, pa.bool_()) for tier in regime.tiers}
    because: list[tuple[str, pa.Array, pa.Array | pa.Scalar]] = []  # (tier, rows, what to say)
    for kind_id, cases in regime.kinds.items():
        remaining = other if kind_id == OTHER else present[kind_id]
        label = (
            _other_label(present, listed, table, rules) if kind_id == OTHER else _kind_label(kind_id, rules)
        )
        amount = next((c.amount for c in cases if c.amount is not None), None)
        for case in cases:
            rows = remaining
            if case.threshold is not None:
                rows = pc.and_(remaining, _meets(case, table, rules.thresholds[case.threshold]))
            gives[case.tier] = pc.or_(gives[case.tier], rows)
            because.append((case.tier, rows, _case_label(case, label, amount, table, rules)))
            remaining = pc.and_(remaining, pc.invert(rows))

    # The longest tier among those the kinds give: later (longer) tiers overwrite earlier ones.
    order = regime.longest_last()
    position = pa.nulls(n, pa.int32())
    for i, tier in enumerate(order):
        position = pc.if_else(gives[tier.id], pa.scalar(i, pa.int32()), position)
    tier_id = pc.take(pa.array([t.id for t in order]), position)
    tier_label = pc.take(pa.array([t.label for t in order]), position)
    shortest = pc.take(pa.array([t.min.months for t in order], pa.int64()), position)
    longest = pc.take(pa.array([t.max.months for t in order], pa.int64()), position)
    repairable = pc.less(shortest, longest)

    notes: list[pa.Array] = []
    for sector in regime.sectors:
        text = pc.fill_null(_col(table, SECTOR_TEXT), "")
        inside = pc.and_(_any([pc.match_substring(text, w) for w in sector.contains], n), repairable)
        raised = pc.min_element_wise(pc.max_element_wise(shortest, sector.min.months), longest)
        shortest = pc.if_else(inside, raised, shortest)
        notes.append(pc.if_else(inside, pa.scalar(f"{sector.label}领域，最短公示期 {sector.min}"), _NO_TEXT))

    min_end = add_months(starts, shortest)
    max_end = add_months(starts, longest)
    if regime.restriction is not None:
        restricted = _any([present[k] for k in regime.restriction.kinds], n)
        until = parse_dates(_col(table, regime.restriction.until))
        extend = pc.fill_null(pc.and_(restricted, pc.greater(until, max_end)), False)
        max_end = pc.if_else(extend, until, max_end)
        repairable = pc.or_(repairable, extend)
        notes.append(
            pc.if_else(
                extend, _join("限制期至 ", pc.cast(until, pa.string()), "，按实际限制期限公示"), _NO_TEXT
            )
        )

    # The record's own end: kept when the rules allow it, otherwise reported and replaced.
    own_text = pc.fill_null(pc.utf8_trim_whitespace(_col(table, "own_end")), "")
    own = parse_dates(own_text)
    unreadable = pc.and_(pc.not_equal(own_text, ""), pc.is_null(own))
    early = pc.fill_null(pc.less(own, min_end), False)
    late = pc.fill_null(pc.greater(own, max_end), False)
    kept = pc.and_(pc.is_valid(own), pc.invert(pc.or_(early, late)))
    ends = pc.if_else(kept, own, max_end)
    rule_end = _join("，按规则截止日 ", pc.cast(max_end, pa.string()))
    conflict = pc.if_else(
        unreadable,
        _join("公示截止期“", own_text, "”不是日期（YYYY-MM-DD）", rule_end),
        pc.if_else(
            early,
            _join(
                "公示截止期 ",
                pc.cast(own, pa.string()),
                " 早于规则最短公示期（",
                tier_label,
                "，最短 ",
                _period_text(shortest),
                "）的截止日 ",
                pc.cast(min_end, pa.string()),
                rule_end,
            ),
            pc.if_else(
                late,
                _join(
                    "公示截止期 ",
                    pc.cast(own, pa.string()),
                    " 晚于规则最长公示期（",
                    tier_label,
                    "，最长 ",
                    _period_text(longest),
                    "）的截止日 ",
                    pc.cast(max_end, pa.string()),
                    rule_end,
                ),
                _NO_TEXT,
            ),
        ),
    )

    deciding = [
        pc.if_else(pc.and_(rows, pc.equal(tier_id, tier)), said, _NO_TEXT) for tier, rows, said in because
    ]
    decided_by = _join_present(deciding, "、", n)
    extra = _join_present(notes, "；", n)
    extra = pc.if_else(pc.equal(pc.fill_null(extra, ""), ""), _NO_TEXT, _join("；", extra))
    basis = _join(
        f"{regime.label}｜", tier_label, "：依据 ", pc.fill_null(decided_by, "—"), pc.fill_null(extra, "")
    )
    return {
        "record_id": _col(table, "record_id"),
        "regime": pa.array([regime.id] * n, pa.string()),
        "tier": tier_id,
        "basis": basis,
        "starts_on": starts,
        "repairable_on": pc.if_else(repairable, min_end, _NO_DAY),
        "ends_on": ends,
        "own_end": own,
        "conflict": conflict,
    }


# ------------------------------------------------------------------------------------------- helpers
def _col(table: pa.Table, name: str) -> pa.Array:
    """A column as one array: Arrow's element-wise joins mis-handle chunked inputs of several arguments."""
    return table.column(name).combine_chunks()


def _any(masks: list[pa.Array], n: int) -> pa.Array:
    if not masks:
        return pa.array([False] * n, pa.bool_())
    return reduce(pc.or_, (pc.fill_null(m, False) for m in masks))


def _join_present(columns: list[pa.Array], separator: str, n: int) -> pa.Array:
    """The non-null texts of each row joined by ``separator`` (null where there is none).

    Not Arrow's join with null_handling="skip": in Arrow 26 it drops the rows where every input is null, and
    its result no longer lines up with the table. Each present text is prefixed with the separator, the
    prefixed texts are concatenated and the first separator is cut off."""
    if not columns:
        return pa.nulls(n, pa.string())
    empty = pa.scalar("")
    prefixed = [pc.if_else(pc.is_valid(c), _join(separator, c), empty) for c in columns]
    joined = pc.binary_join_element_wise(*prefixed, "") if len(prefixed) > 1 else prefixed[0]
    cut = pc.utf8_slice_codeunits(joined, len(separator))
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), cut)


def _join(*parts: str | pa.Scalar | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Texts and text columns end to end; null where a column is null."""
    values = [pa.scalar(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*values, "")


def _period_text(months: pa.Array) -> pa.Array:
    """3 个月, 1 年 — as rules.Period says a period."""
    years = pc.divide(months, 12)
    whole = pc.and_(pc.equal(pc.subtract(months, pc.multiply(years, 12)), 0), pc.greater(months, 0))
    return pc.if_else(
        whole, _join(pc.cast(years, pa.string()), " 年"), _join(pc.cast(months, pa.string()), " 个月")
    )


def _kind_label(kind_id: str, rules: PublicityRules) -> pa.Scalar:
    kind = rules.kind(kind_id)
    return pa.scalar(kind.label if kind else kind_id)


def _other_label(
    present: Mapping[str, pa.Array], listed: set[str], table: pa.Table, rules: PublicityRules
) -> pa.Array:
    """What falls to a regime's ``other``: the kinds it does not list, and text no kind recognises."""
    named = [
        pc.if_else(mask, _kind_label(kind, rules), _NO_TEXT)
        for kind, mask in present.items()
        if kind != OTHER and kind not in listed
    ]
    text = pc.fill_null(_col(table, "kinds"), "")
    stray = pc.if_else(present[OTHER], _join("“", text, "”"), _NO_TEXT)
    return _join("其他处罚类别 ", pc.fill_null(_join_present([*named, stray], "、", table.num_rows), ""))


def _threshold_per_row(threshold: Threshold, subject: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each row's threshold in 万元 (for comparing) and in words (元, for the basis), by subject category."""
    subject = pc.fill_null(pc.utf8_trim_whitespace(subject), "")

    def wan(yuan: Decimal) -> pa.Scalar:
        return pa.scalar(yuan / 10000, AMOUNT)

    def said(yuan: Decimal) -> pa.Scalar:
        return pa.scalar(f"{threshold.label} {yuan.normalize():f} 元")

    value = pa.array([wan(threshold.otherwise).as_py()] * len(subject), AMOUNT)
    words = pa.array([said(threshold.otherwise).as_py()] * len(subject), pa.string())
    for category, yuan in threshold.by_subject.items():
        match = pc.equal(subject, category)
        value = pc.if_else(match, wan(yuan), value)
        words = pc.if_else(match, said(yuan), words)
    return value, words


def _meets(case: Case, table: pa.Table, threshold: Threshold) -> pa.Array:
    amount = parse_amounts(_col(table, str(case.amount)))
    limit, _ = _threshold_per_row(threshold, _col(table, "subject_category"))
    return pc.fill_null(_COMPARE[str(case.op)](amount, limit), False)


def _case_label(
    case: Case, label: pa.Array | pa.Scalar, amount: str | None, table: pa.Table, rules: PublicityRules
) -> pa.Array | pa.Scalar:
    """What a case says in a basis: the kind; its amount where the kind's cases look at one, and for an
    amount case the threshold it met."""
    if amount is None:
        return label
    given = pc.utf8_trim_whitespace(_col(table, amount))
    with_amount = pc.if_else(
        pc.is_valid(given), _join(label, " ", given, " 万元"), _join(label, "（金额未填）")
    )
    if case.threshold is None:
        return with_amount
    _, words = _threshold_per_row(rules.thresholds[case.threshold], _col(table, "subject_category"))
    return _join(with_amount, f"（{OPERATORS[str(case.op)]}", words, "）")
