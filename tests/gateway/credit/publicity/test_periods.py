"""Each rule of the shipped publicity.yaml, through periods() over an Arrow table (no database): the
national tiers from 2026-04-01, the 2019 regime before, the market-supervision regime, the longest period of
several kinds, and a record's own 公示截止期 kept or contradicted."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.credit.publicity.periods import periods
from gateway.credit.publicity.rules import PublicityRules, load_rules
from gateway.schema import load_record_types
from gateway.settings import CREDIT_DEFAULTS
from tests.gateway.credit.publicity.penalties import (
    AMR,
    AMR_CODE,
    LEGAL,
    PERSON,
    SOLE_TRADER,
    as_table,
    payload,
    shipped_rules,
)

D = date.fromisoformat


@pytest.fixture(scope="module")
def rules(schemas_dir: Path) -> PublicityRules:
    return shipped_rules(schemas_dir)


def one(rules: PublicityRules, decided: str | None, kinds: str, **fields: Any) -> dict[str, Any]:
    """The period of a single penalty (fields as tests.….penalties.payload takes them)."""
    found = periods(
        as_table(rules, {1: payload("罚〔2026〕1号", decided, kinds, **fields)}), rules, _binding(rules)
    )
    (row,) = found.rows.to_pylist()
    return row


def _binding(rules: PublicityRules) -> Any:
    return rules.record_types["admin_penalty"]


def amr(**fields: Any) -> dict[str, Any]:
    return {"authority": AMR, "authority_code": AMR_CODE, **fields}


def period(row: dict[str, Any]) -> tuple[str, str, date | None, date]:
    return row["regime"], row["tier"], row["repairable_on"], row["ends_on"]


# ---------------------------------------------------------------------------------- national, 2026-04-01
@pytest.mark.parametrize(
    ("kinds", "fields", "tier"),
    [
        ("警告", {}, "minor"),
        ("通报批评", {}, "minor"),
        ("罚款", {"fine": "0.02", "subject": PERSON}, "minor"),  # 200 元: 简易程序 for a citizen
        ("罚款", {"fine": "0.03", "subject": PERSON}, "general"),
        ("罚款", {"fine": "0.3", "subject": LEGAL}, "minor"),  # 3,000 元 for an organisation
        ("罚款", {"fine": "0.3", "subject": SOLE_TRADER}, "general"),  # a 个体工商户 counts as a citizen
        ("罚款", {"fine": "99.999999", "subject": LEGAL}, "general"),
        ("罚款", {"fine": "100", "subject": LEGAL}, "serious"),  # 巨额 (local choice): 1,000,000 元
        ("罚款", {"fine": "10", "subject": PERSON}, "serious"),  # 100,000 元 for a citizen
        ("罚款", {}, "general"),  # no amount: no threshold met
        ("没收违法所得", {"confiscated": "2"}, "general"),
        ("没收非法财物", {"confiscated": "120"}, "serious"),
        ("吊销许可证", {}, "serious"),
        ("限制从业", {}, "serious"),
        ("责令关闭", {}, "serious"),
        ("其他-责令改正", {}, "general"),  # not a kind the file knows: the regime's "other"
        ("", {}, "general"),
    ],
)
def test_national_tiers(rules: PublicityRules, kinds: str, fields: dict[str, str], tier: str) -> None:
    ends = {"minor": (D("2026-05-10"), D("2026-08-10")), "general": (D("2026-08-10"), D("2027-05-10"))}
    ends["serious"] = (D("2027-05-10"), D("2029-05-10"))
    row = one(rules, "2026-05-10", kinds, **fields)
    assert period(row) == ("national_2026", tier, *ends[tier])
    assert row["starts_on"] == D("2026-05-10") and row["conflict"] is None


def test_months_end_on_the_corresponding_day_or_the_months_last(rules: PublicityRules) -> None:
    assert one(rules, "2026-11-30", "罚款", fine="1")["ends_on"] == D("2027-11-30")
    assert one(rules, "2026-11-30", "警告")["ends_on"] == D("2027-02-28")
    assert one(rules, "2027-11-29", "警告")["ends_on"] == D("2028-02-29")  # a leap year's February


def test_the_cut_over_is_the_decision_date(rules: PublicityRules) -> None:
    before, after = one(rules, "2026-03-31", "罚款", fine="1"), one(rules, "2026-04-01", "罚款", fine="1")
    assert before["regime"] == "national_2019" and after["regime"] == "national_2026"


# ----------------------------------------------------------------------------------------- 2019 regime
def test_the_2019_regime(rules: PublicityRules) -> None:
    general = one(rules, "2025-05-10", "罚款", fine="1")
    assert period(general) == ("national_2019", "general", D("2025-08-10"), D("2026-05-10"))
    serious = one(rules, "2025-05-10", "吊销营业执照")
    assert period(serious) == ("national_2019", "serious", D("2025-11-10"), D("2028-05-10"))  # min six months
    # It has no 轻微 tier: a warning is 一般.
    assert period(one(rules, "2025-05-10", "警告")) == (
        "national_2019",
        "general",
        D("2025-08-10"),
        D("2026-05-10"),
    )


# ---------------------------------------------------------------------------------- market supervision
def test_a_warning_alone_is_not_published(rules: PublicityRules) -> None:
    row = one(rules, "2026-05-10", "警告", **amr())
    assert period(row) == ("samr_2021", "not_published", None, D("2026-05-10"))
    assert "不予公示" in row["basis"]


def test_criticism_and_low_fines_three_months(rules: PublicityRules) -> None:
    three = ("samr_2021", "short", None, D("2026-08-10"))
    assert period(one(rules, "2026-05-10", "通报批评", **amr())) == three
    assert period(one(rules, "2026-05-10", "罚款", **amr(fine="0.4999", subject=PERSON))) == three
    assert period(one(rules, "2026-05-10", "罚款", **amr(fine="4.99", subject=LEGAL))) == three
    assert period(one(rules, "2026-05-10", "罚款", **amr(fine="4.99", subject=SOLE_TRADER))) == three
    row = one(rules, "2026-05-10", "罚款", **amr(fine="0.3", subject=PERSON))
    assert "罚款 0.3 万元（低于较低数额罚款 5000 元）" in row["basis"]


def test_other_penalties_three_years_with_repair_after_six_months(rules: PublicityRules) -> None:
    three_years = ("samr_2021", "standard", D("2026-11-10"), D("2029-05-10"))
    assert period(one(rules, "2026-05-10", "罚款", **amr(fine="0.5", subject=PERSON))) == three_years
    assert period(one(rules, "2026-05-10", "罚款", **amr(fine="5", subject=LEGAL))) == three_years
    assert period(one(rules, "2026-05-10", "罚款", **amr())) == three_years  # amount missing: not "low"
    assert period(one(rules, "2026-05-10", "吊销营业执照", **amr())) == three_years
    food = one(rules, "2026-05-10", "罚款", **amr(fine="8", violation="违反《中华人民共和国食品安全法》"))
    assert period(food) == ("samr_2021", "standard", D("2027-05-10"), D("2029-05-10"))  # 食品: one year
    assert "食品、药品、特种设备领域" in food["basis"]


def test_a_restriction_longer_than_three_years_lasts_its_period(rules: PublicityRules) -> None:
    long = one(rules, "2026-05-10", "限制从业", **amr(subject=PERSON, until="2031-05-10"))
    assert period(long) == ("samr_2021", "standard", D("2026-11-10"), D("2031-05-10"))
    assert "限制期至 2031-05-10" in long["basis"]
    short = one(rules, "2026-05-10", "限制从业", **amr(subject=PERSON, until="2027-05-10"))
    assert short["ends_on"] == D("2029-05-10")
    # The restriction's end counts only for a restriction, not for a fine's 处罚有效期.
    assert one(rules, "2026-05-10", "罚款", **amr(fine="9", until="2099-12-31"))["ends_on"] == D("2029-05-10")


def test_the_market_regime_starts_2021_09_01_and_also_matches_by_code(
    tmp_path: Path, schemas_dir: Path, rules: PublicityRules
) -> None:
    assert one(rules, "2021-08-31", "警告", **amr())["regime"] == "national_2019"
    text = (CREDIT_DEFAULTS / "publicity.yaml").read_text(encoding="utf-8")
    path = tmp_path / "publicity.yaml"
    path.write_text(text.replace("authority_codes: []", "authority_codes: [11140900MB0000001X]"), "utf-8")
    by_code = load_rules(path, load_record_types(schemas_dir))
    row = one(by_code, "2026-05-10", "警告", authority="忻州市某某局", authority_code="11140900MB0000001X")
    assert row["regime"] == "samr_2021"


# ------------------------------------------------------------------------------------- longest wins
@pytest.mark.parametrize(
    ("kinds", "fields", "expected"),
    [
        ("警告、罚款", amr(fine="0.1"), ("samr_2021", "short")),
        ("通报批评;吊销营业执照", amr(), ("samr_2021", "standard")),
        ("警告，吊销许可证", {}, ("national_2026", "serious")),
        ("罚款；没收违法所得", {"fine": "0.1", "confiscated": "1"}, ("national_2026", "general")),
        ("暂扣或者吊销许可证", {}, ("national_2026", "serious")),  # both kinds at once: the longer
    ],
)
def test_several_kinds_take_the_longest(
    rules: PublicityRules, kinds: str, fields: dict[str, str], expected: tuple[str, str]
) -> None:
    row = one(rules, "2026-05-10", kinds, **fields)
    assert (row["regime"], row["tier"]) == expected


def test_the_basis_names_what_decided(rules: PublicityRules) -> None:
    row = one(rules, "2026-05-10", "罚款、吊销许可证", fine="120", subject=LEGAL)
    assert row["tier"] == "serious"
    assert "严重失信" in row["basis"] and "吊销许可证件或执照" in row["basis"]
    assert "罚款 120 万元（达到巨额罚款 1000000 元）" in row["basis"]


# --------------------------------------------------------------------------------------- own end
@pytest.mark.parametrize(
    ("own_end", "ends_on", "conflict"),
    [
        ("2026-12-31", "2026-12-31", None),
        ("2026-08-10", "2026-08-10", None),  # exactly the minimum's end
        ("2027-05-10", "2027-05-10", None),  # exactly the maximum's end
        ("2026-06-01", "2027-05-10", "早于规则最短公示期（一般失信，最短 3 个月）的截止日 2026-08-10"),
        ("2027-05-11", "2027-05-10", "晚于规则最长公示期（一般失信，最长 1 年）的截止日 2027-05-10"),
        ("2026/12/31", "2027-05-10", "公示截止期“2026/12/31”不是日期"),
    ],
)
def test_own_end_kept_unless_it_contradicts(
    rules: PublicityRules, own_end: str, ends_on: str, conflict: str | None
) -> None:
    row = one(rules, "2026-05-10", "罚款", fine="1", own_end=own_end)
    assert row["ends_on"] == D(ends_on) and row["repairable_on"] == D("2026-08-10")
    if conflict is None:
        assert row["conflict"] is None and row["own_end"] == D(own_end)
    else:
        assert conflict in row["conflict"] and row["conflict"].endswith("按规则截止日 2027-05-10")


def test_a_fixed_period_admits_only_its_own_end(rules: PublicityRules) -> None:
    assert one(rules, "2026-05-10", "通报批评", **amr(own_end="2026-08-10"))["conflict"] is None
    published = one(rules, "2026-05-10", "警告", **amr(own_end="2026-08-10"))
    assert published["ends_on"] == D("2026-05-10") and "晚于" in published["conflict"]


# ------------------------------------------------------------------------------------------- undated
def test_undated_records_are_set_aside(rules: PublicityRules) -> None:
    table = as_table(
        rules,
        {
            1: payload("1号", "2026-05-10", "警告"),
            2: payload("2号", None, "警告"),
            3: payload("3号", "2026-02-30", "警告"),
            4: payload("4号", "2026/05/10", "警告"),
        },
    )
    found = periods(table, rules, _binding(rules))
    assert found.rows["record_id"].to_pylist() == [1]
    assert found.undated.to_pylist() == [
        {"record_id": 2, "decided_on": None},
        {"record_id": 3, "decided_on": "2026-02-30"},
        {"record_id": 4, "decided_on": "2026/05/10"},
    ]


def test_many_rows_at_once_keep_their_own_periods(rules: PublicityRules) -> None:
    bodies = {
        i: payload(
            f"{i}号",
            f"2026-0{4 + i % 5}-1{i % 10}",
            ["警告", "罚款", "吊销许可证"][i % 3],
            **(amr() if i % 2 else {}),
            fine="1",
        )
        for i in range(1, 61)
    }
    found = periods(as_table(rules, bodies), rules, _binding(rules)).rows.to_pylist()
    assert sorted(row["record_id"] for row in found) == list(range(1, 61))
    for row in found:
        alone = one(
            rules,
            bodies[row["record_id"]]["CF_JDRQ"],
            bodies[row["record_id"]]["CF_CFLB"],
            **_fields(bodies[row["record_id"]]),
        )
        assert period(row) == period(alone)


def _fields(body: dict[str, str]) -> dict[str, str]:
    return {"fine": body["CF_NR_FK"], "authority": body["CF_CFJG"], "authority_code": body["CF_CFJGDM"]}
