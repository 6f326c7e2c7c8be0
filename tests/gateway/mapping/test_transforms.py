from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from openpyxl.utils.datetime import from_excel

from gateway.mapping import transforms as t
from gateway.mapping.transforms import REGISTRY, Outcome, apply, get_transform, validate_params


def run(name: str, values: list[str | None], **params: object) -> Outcome:
    return apply(name, pa.array(values, pa.string()), params)


def as_lists(outcome: Outcome) -> tuple[list[str | None], list[bool] | None]:
    invalid = None if outcome.invalid is None else outcome.invalid.to_pylist()
    return outcome.values.to_pylist(), invalid


# --- trim, halfwidth and other text transforms -------------------------------------------------------


def test_trim_strips_every_kind_of_space_and_blank_becomes_null() -> None:
    values, invalid = as_lists(
        run(
            "trim", [" a ", "\u3000甲公司\u00a0", "\ufeff\u200b9114\u200b0000\t\n", "\u3000 \u200b", "", None]
        )
    )
    assert values == ["a", "甲公司", "91140000", None, None, None]
    assert invalid is None


def test_halfwidth_folds_full_width_ascii_and_keeps_chinese_punctuation() -> None:
    source = "ＡＢｃ１２３！～（）\u3000、。〔〕《》【】￥①㎡ｶ甲"
    (folded,), _ = as_lists(run("halfwidth", [source]))
    assert folded == "ABc123!~() 、。〔〕《》【】￥①㎡ｶ甲"


def test_halfwidth_covers_exactly_ff01_to_ff5e() -> None:
    every = "".join(chr(cp) for cp in range(0xFF01, 0xFF5F))
    neighbours = "\uff00\uff5f\uff60\uffe5\u3001\u3002"
    values, _ = as_lists(run("halfwidth", [every, neighbours]))
    assert values == ["".join(chr(cp) for cp in range(0x21, 0x7F)), neighbours]


def test_halfwidth_fixes_offsets_across_rows_nulls_and_slices() -> None:
    rows = ["ａ", None, "无全角", "", "９１１４０１０２ＭＡ０Ｌ３Ｘ８ＸＸ", "混合Ａ字", "\u3000"]
    arr = pa.array(["前缀Ｚ", *rows], pa.string()).slice(1)
    values, _ = as_lists(t.halfwidth(arr))
    assert values == ["a", None, "无全角", None, "91140102MA0L3X8XX", "混合A字", " "]


ALPHABET = [
    *"aZ9 -,.",
    "Ａ",
    "ｚ",
    "０",
    "，",
    "（",
    "\u3000",
    "\u00a0",
    "\u200b",
    "\ufeff",
    "甲",
    "、",
    "。",
    "《",
    "①",
    "㎡",
    "￥",
    "\uff5f",
    "😀",
    "é",
]
TO_ASCII = {**{cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}, 0x3000: 0x20}


def random_texts(count: int, seed: int) -> list[str | None]:
    rng = np.random.default_rng(seed)
    texts: list[str | None] = []
    for _ in range(count):
        size = int(rng.integers(0, 12))
        texts.append(None if size == 11 else "".join(rng.choice(ALPHABET, size)))
    return texts


def test_halfwidth_and_trim_agree_with_python_on_random_text() -> None:
    texts = random_texts(3000, seed=11)
    arr = pa.array(["Ｘ", *texts], pa.string()).slice(1)
    folded = [None if x is None else x.translate(TO_ASCII) or None for x in texts]
    assert t.halfwidth(arr).values.to_pylist() == folded
    spaces = t._SPACES + t._ZERO_WIDTH
    trimmed = [
        None if x is None else x.strip(spaces).replace("\u200b", "").replace("\ufeff", "") or None
        for x in texts
    ]
    assert t.trim(arr).values.to_pylist() == trimmed


def test_upper_lower_collapse() -> None:
    assert run("upper", ["91140102ma0l3x8xxk", None]).values.to_pylist() == ["91140102MA0L3X8XXK", None]
    assert run("lower", ["ABC甲"]).values.to_pylist() == ["abc甲"]
    collapsed = run("collapse_spaces", ["甲  乙\u3000\u3000丙\t\n丁\u00a0戊", None]).values.to_pylist()
    assert collapsed == ["甲 乙 丙 丁 戊", None]


def test_regex_replace_and_blank_result_becomes_null() -> None:
    out = run("regex_replace", ["晋忻市监罚〔2024〕12号", "号", None], pattern=r"号$", replacement="")
    assert out.values.to_pylist() == ["晋忻市监罚〔2024〕12", None, None]
    swapped = run("regex_replace", ["2024-03"], pattern=r"(\d+)-(\d+)", replacement=r"\2/\1")
    assert swapped.values.to_pylist() == ["03/2024"]


def test_regex_replace_rejects_a_bad_pattern_even_on_an_empty_column() -> None:
    with pytest.raises(ValueError, match="RE2"):
        validate_params("regex_replace", {"pattern": "(", "replacement": ""})


def test_constant_and_default() -> None:
    assert run("constant", ["x", None, ""], value="140900").values.to_pylist() == ["140900"] * 3
    assert run("default", ["x", None, ""], value="无").values.to_pylist() == ["x", "无", "无"]
    with pytest.raises(ValueError, match="引号"):
        run("constant", ["x"], value=140900)


# --- codelist ------------------------------------------------------------------------------------------

SUBJECT_KINDS = {"1": "法人及非法人组织", "法人": "法人及非法人组织", "2": "自然人", "3": "个体工商户"}


def test_codelist_translates_keys_keeps_targets_and_rejects_the_rest() -> None:
    out = run("codelist", [" 1 ", "法人", "自然人", "4", None, ""], map=SUBJECT_KINDS)
    values, invalid = as_lists(out)
    assert values == ["法人及非法人组织", "法人及非法人组织", "自然人", None, None, None]
    assert invalid == [False, False, False, True, False, False]
    assert out.code == "E_CODELIST"
    assert "法人及非法人组织、自然人、个体工商户" in out.message


def test_codelist_lenient_passes_unknown_values() -> None:
    values, invalid = as_lists(run("codelist", ["2", "其他"], map=SUBJECT_KINDS, strict=False))
    assert values == ["自然人", "其他"]
    assert invalid is None


def test_codelist_message_shows_at_most_ten_values() -> None:
    big = {str(i): f"值{i}" for i in range(25)}
    out = run("codelist", ["x"], map=big)
    assert "值9" in out.message and "值10" not in out.message and "等 25 个" in out.message


def test_codelist_requires_string_keys() -> None:
    with pytest.raises(ValueError, match="引号"):
        run("codelist", ["1"], map={1: "法人及非法人组织"})


# --- date -----------------------------------------------------------------------------------------------

DATE_FORMS = [
    "2024-03-05",
    "2024-3-5",
    "2024/3/5",
    "2024/03/05",
    "2024.3.5",
    "2024年3月5日",
    "2024年03月05日",
    "2024年3月5",
    "20240305",
    "2024-03-05 10:20:30",
    "2024/3/5 10:20",
    "2024-03-05T10:20:30",
    "2024-03-05T10:20:30.123+08:00",
    "2024-03-05 00:00:00.0",
    "45356",
    "45356.0",
    "45356.75",
    " ２０２４－０３－０５ ",
]


@pytest.mark.parametrize("form", DATE_FORMS)
def test_date_forms(form: str) -> None:
    out = run("date", [form])
    assert as_lists(out) == (["2024-03-05"], [False])


@pytest.mark.parametrize(
    "bad",
    [
        "2024-02-30",
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-04-31",
        "0000-00-00",
        "1899-12-31",
        "2024-03",
        "03/05/2024",
        "abc",
        "2024-03-05 25",
        "2024-03-05x",
        "2024-03-051",
        "2024年 3月5日",
        "60",
        "0",
        "1e5",
        "-45356",
        "3000000",
    ],
)
def test_impossible_or_unreadable_dates_are_invalid(bad: str) -> None:
    out = run("date", [bad])
    assert as_lists(out) == ([None], [True])
    assert out.code == "E_DATE" and "YYYY-MM-DD" in out.message


def test_date_nulls_blanks_and_leap_days() -> None:
    values, invalid = as_lists(run("date", [None, "", " ", "2024-02-29", "2000-02-29", "1900-03-01"]))
    assert values == [None, None, None, "2024-02-29", "2000-02-29", "1900-03-01"]
    assert invalid == [False] * 6
    assert as_lists(run("date", ["1900-02-29", "2100-02-29"])) == ([None, None], [True, True])


def test_long_term_words() -> None:
    values, _ = as_lists(run("date", ["长期", " 永久 ", "长期有效", "2099/12/31"]))
    assert values == ["2099-12-31"] * 4
    assert run("date", ["长期"], long_term="9999-12-31").values.to_pylist() == ["9999-12-31"]
    assert as_lists(run("date", ["长期"], long_term=None)) == ([None], [True])
    with pytest.raises(ValueError, match="long_term"):
        run("date", ["长期"], long_term="2099/12/31")


def test_excel_serials_agree_with_openpyxl_and_skip_the_phantom_leap_day() -> None:
    serials = [s for s in range(1, 80001, 7) if s != 60] + [59, 61, 2958465]
    out = run("date", [str(s) for s in serials])
    expected = [from_excel(s).date().isoformat() for s in serials]
    assert out.values.to_pylist() == expected
    assert not any(out.invalid.to_pylist())


def test_serial_range_and_switch() -> None:
    assert as_lists(run("date", ["45356", "100"], serial_min=20000)) == (["2024-03-05", None], [False, True])
    assert as_lists(run("date", ["45356", "20240305"], serial=False)) == ([None, "2024-03-05"], [True, False])


def test_year_range() -> None:
    values, invalid = as_lists(
        run("date", ["1949-10-01", "2024-03-05", "2101-01-01", "2"], min_year=1950, max_year=2100)
    )
    assert values == [None, "2024-03-05", None, None]
    assert invalid == [True, False, True, True]


def test_every_day_of_two_centuries_round_trips() -> None:
    first = dt.date(1900, 1, 1)
    days = [first + dt.timedelta(days=int(i)) for i in range(0, 73414, 3)]
    compact = [d.strftime("%Y%m%d") for d in days]
    chinese = [f"{d.year}年{d.month}月{d.day}日" for d in days]
    expected = [d.isoformat() for d in days]
    assert run("date", expected).values.to_pylist() == expected
    assert run("date", compact).values.to_pylist() == expected
    assert run("date", chinese).values.to_pylist() == expected


def test_date_on_sliced_and_chunked_input() -> None:
    arr = pa.array(["x", "2024/3/5", None, "2024-02-30", "45356"]).slice(1, 3)
    assert as_lists(t.date(arr)) == (["2024-03-05", None, None], [False, False, True])
    chunked = pa.chunked_array([["2024/3/5"], [], [None, "45356.0"]], pa.string())
    assert as_lists(apply("date", chunked)) == (["2024-03-05", None, "2024-03-05"], [False, False, False])


def test_large_string_and_all_null_columns_are_read_as_text() -> None:
    assert t.date(pa.array(["2024/3/5"], pa.large_string())).values.to_pylist() == ["2024-03-05"]
    assert as_lists(t.date(pa.nulls(2))) == ([None, None], [False, False])


# --- amounts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("12000", "1.2"),
        ("12,000.00", "1.2"),
        ("1.2万", "1.2"),
        ("1.2万元", "1.2"),
        ("12000元", "1.2"),
        ("￥12000", "1.2"),
        ("¥ 12,000 元", "1.2"),
        ("人民币12000元", "1.2"),
        ("RMB 12000", "1.2"),
        ("rmb12,000元", "1.2"),
        ("１２，０００．００", "1.2"),
        ("0", "0"),
        ("0.00", "0"),
        ("+500", "0.05"),
        ("007", "0.0007"),
        ("100000000", "10000"),
        ("0.01", "0.000001"),
        ("1,234,567.891234", "123.456789"),
        ("1234.5600000000002", "0.123456"),
        ("0.005", "0"),
        ("0.015", "0.000002"),
        ("0.025", "0.000002"),
        ("999999999999999.99999", "100000000000"),
    ],
)
def test_yuan_to_wanyuan(given: str, expected: str) -> None:
    assert as_lists(run("yuan_to_wanyuan", [given])) == ([expected], [False])


@pytest.mark.parametrize(
    "bad",
    ["-5", "-0", "abc", "1,5", "12,00", "1e4", "1.2E+04", ".5", "5.", "12 000", "1000000000000000", "万元"],
)
def test_amount_rejects(bad: str) -> None:
    out = run("yuan_to_wanyuan", [bad])
    assert as_lists(out) == ([None], [True])
    assert out.code == "E_AMOUNT" and "元" in out.message


def test_amounts_are_exact_decimals_not_floats() -> None:
    out = run("wanyuan", ["0.1", "0.2", "0.3", "0.30000000000000004"])
    assert out.values.to_pylist() == ["0.1", "0.2", "0.3", "0.3"]
    rng = np.random.default_rng(7)
    fen = rng.integers(0, 10**13, size=2000)
    texts = [f"{f // 100}.{f % 100:02d}" for f in fen]
    expected = [f"{(Decimal(x) / 10000).normalize():f}" for x in texts]
    assert run("yuan_to_wanyuan", texts).values.to_pylist() == expected


def test_wanyuan_keeps_the_unit_unless_told_otherwise() -> None:
    values, invalid = as_lists(run("wanyuan", ["1.2", "1.2万元", "12000元", "1.23456789", None, "-1"]))
    assert values == ["1.2", "1.2", "1.2", "1.234568", None, None]
    assert invalid == [False, False, False, False, False, True]


def test_amounts_on_chunked_input_with_nulls() -> None:
    chunked = pa.chunked_array([["12000", None], ["x", "3万"]], pa.string())
    assert as_lists(t.yuan_to_wanyuan(chunked)) == (["1.2", None, None, "3"], [False, False, True, False])


# --- decimal --------------------------------------------------------------------------------------------


def test_decimal_normalises_text() -> None:
    values, invalid = as_lists(
        run("decimal", ["１２,０００.５０", "007", "-0.0000001", "0", "-0.00", "1.5万", "1,5", None])
    )
    assert values == ["12000.5", "7", "-0.0000001", "0", "0", None, None, None]
    assert invalid == [False, False, False, False, False, True, True, False]


def test_decimal_scale_rounds_half_even_and_negative_switch() -> None:
    rounded = run("decimal", ["2.5", "3.5", "-2.5", "1.005"], scale=0).values.to_pylist()
    assert rounded == ["2", "4", "-2", "1"]
    assert run("decimal", ["1.005", "1.015"], scale=2).values.to_pylist() == ["1", "1.02"]
    assert as_lists(run("decimal", ["-1", "1"], negative=False)) == ([None, "1"], [True, False])


def test_decimal_limits_do_not_overflow() -> None:
    values, invalid = as_lists(
        run("decimal", ["9999999999999999999.5", "99999999999999999999", "0." + "1" * 19], scale=0)
    )
    assert values == ["10000000000000000000", None, None]
    assert invalid == [False, True, True]


# --- registry -------------------------------------------------------------------------------------------


def test_registry_lookup_and_parameter_errors() -> None:
    assert get_transform("date") is t.date
    assert {"trim", "halfwidth", "date", "yuan_to_wanyuan", "wanyuan", "codelist"} <= set(REGISTRY)
    with pytest.raises(KeyError, match="yuan_to_wanyuan"):
        get_transform("yuan2wanyuan")
    with pytest.raises(ValueError, match="参数"):
        validate_params("date", {"long_trem": "2099-12-31"})
    with pytest.raises(ValueError, match="serial_min"):
        validate_params("date", {"serial_min": "1"})
    with pytest.raises(ValueError, match="参数"):
        validate_params("constant", {})


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - {"constant", "default", "codelist", "regex_replace"}))
def test_every_parameterless_transform_keeps_length_nulls_and_type(name: str) -> None:
    out = run(name, ["x", None, "2024-03-05", "12000"])
    assert out.values.type == pa.string()
    assert len(out.values) == 4
    assert out.values[1].as_py() is None
    if out.invalid is not None:
        assert out.invalid.type == pa.bool_() and out.invalid.null_count == 0
        assert out.invalid[1].as_py() is False
