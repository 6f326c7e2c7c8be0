from __future__ import annotations

import pytest

from gateway.mapping.headers import match_headers, normalize_header


@pytest.mark.parametrize(
    "header",
    [
        "行政相对人代码_1（统一社会信用代码）",
        "行政相对人代码_1 (统一社会信用代码)",
        "* 行政相对人代码_1(统一社会信用代码)",
        "行政相对人代码_1\n（统一社会信用代码）*",
        "\u3000行政相对人代码_1\u00a0(统一社会信用代码)（必填）",
        "\ufeff行政相对人代码_1（统一社会信用代码）\u200b",
    ],
)
def test_template_spellings_normalise_equal(header: str) -> None:
    assert normalize_header(header) == "行政相对人代码_1(统一社会信用代码)"


def test_ascii_is_lower_cased_and_full_width_folded() -> None:
    assert normalize_header("ＣＦ_XDR_MC") == "cf_xdr_mc"
    assert normalize_header("备注【选填】") == "备注[选填]"


def test_markers_only_at_the_ends_and_other_characters_kept() -> None:
    assert normalize_header("处罚决定日期（选填）*") == "处罚决定日期"
    assert normalize_header("金额*单价") == "金额*单价"
    assert normalize_header("面积㎡①、《》") == "面积㎡①、《》"


CANDIDATES = {
    "CF_XDR_MC": ("行政相对人名称", "CF_XDR_MC"),
    "CF_XDR_SHXYM": ("行政相对人代码_1(统一社会信用代码)", "CF_XDR_SHXYM"),
    "CF_JDRQ": ("处罚决定日期", "CF_JDRQ"),
}


def test_match_by_label_or_code() -> None:
    match = match_headers(["序号", "cf_xdr_mc", "* 行政相对人代码_1（统一社会信用代码）", ""], CANDIDATES)
    assert match.matched == {"CF_XDR_MC": 1, "CF_XDR_SHXYM": 2}
    assert match.unmatched == (0, 3)
    assert match.missing == ("CF_JDRQ",)
    assert match.conflicts == {}
    assert match.duplicates == ()


def test_two_columns_for_one_field_are_reported_not_guessed() -> None:
    headers = ["处罚决定日期", "行政相对人名称", "CF_JDRQ", "处罚决定日期 (必填)"]
    match = match_headers(headers, CANDIDATES)
    assert "CF_JDRQ" not in match.matched
    assert match.conflicts == {"CF_JDRQ": (0, 2, 3)}
    assert match.duplicates == ("处罚决定日期", "CF_JDRQ", "处罚决定日期 (必填)")
    assert match.matched == {"CF_XDR_MC": 1}
    assert "CF_JDRQ" not in match.missing


def test_one_spelling_for_two_fields_is_a_mapping_error() -> None:
    with pytest.raises(ValueError, match="歧义"):
        match_headers(["名称"], {"A": ("名称",), "B": ("名称 ",)})
