"""publicity.yaml: the shipped file loads against the schemas, and every kind of mistake is refused with the
file and the key named."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from gateway.credit.publicity import dates
from gateway.credit.publicity.rules import Period, PublicityRulesError, load_rules, rules_for
from gateway.schema import load_record_types
from gateway.settings import CREDIT_DEFAULTS, Settings

SHIPPED = (CREDIT_DEFAULTS / "publicity.yaml").read_text(encoding="utf-8")


def test_the_shipped_rules(schemas_dir: Path) -> None:
    rules = rules_for(Settings.from_env({}))
    assert [r.id for r in rules.regimes] == ["samr_2021", "national_2026", "national_2019"]
    assert rules.record_types["admin_penalty"].fields["own_end"] == "CF_GSJZQ"
    national = rules.regime("national_2026")
    assert [(t.id, str(t.min), str(t.max)) for t in national.longest_last()] == [
        ("minor", "0 个月", "3 个月"),
        ("general", "3 个月", "1 年"),
        ("serious", "1 年", "3 年"),
    ]
    old = rules.regime("national_2019")
    assert [(t.min, t.max) for t in old.tiers] == [(Period(3), Period(12)), (Period(6), Period(36))]
    samr = rules.regime("samr_2021")
    assert samr.applies.authority_contains == ("市场监督管理", "市场监管")
    assert {t.id: t.repairable for t in samr.tiers} == {
        "not_published": False,
        "short": False,
        "standard": True,
    }
    low = rules.thresholds["samr_low_fine"]
    assert (low.by_subject["自然人"], low.by_subject["法人及非法人组织"], low.by_subject["个体工商户"]) == (
        5000,
        50000,
        50000,
    )


def _load(tmp_path: Path, schemas_dir: Path, text: str) -> None:
    path = tmp_path / "publicity.yaml"
    path.write_text(text, encoding="utf-8")
    load_rules(path, load_record_types(schemas_dir))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("version: 1", "version: 2", "version: must be 1"),
        (
            "decided_on: CF_JDRQ",
            "decided_on: CF_NOPE",
            "record_types.admin_penalty.fields.decided_on: admin_penalty has no field 'CF_NOPE'",
        ),
        (
            "      decided_on: CF_JDRQ          # 处罚决定日期: the period starts here (YYYY-MM-DD)\n",
            "",
            "record_types.admin_penalty.fields: 'decided_on' is required",
        ),
        ("kinds: CF_CFLB", "kinds: CF_CFLB\n      colour: CF_BZ", "unknown key 'colour'"),
        ("  admin_penalty:\n", "  admin_penaltyy:\n", "record_types.admin_penaltyy: unknown record type"),
        ("max: {years: 3}}", "max: {weeks: 3}}", "regimes[1] (samr_2021).tiers[3].max: unknown key 'weeks'"),
        (
            "min: {months: 6}, max: {years: 3}}",
            "min: {years: 4}, max: {years: 3}}",
            "regimes[1] (samr_2021).tiers[3].min: 4 年 is longer than max 3 年",
        ),
        (
            "      criticism: short\n",
            "      criticism: brief\n",
            "regimes[1] (samr_2021).kinds.criticism.tier: unknown tier 'brief'",
        ),
        (
            "      criticism: short\n",
            "      criticsm: short\n",
            "regimes[1] (samr_2021).kinds.criticsm: unknown kind",
        ),
        (
            "below: samr_low_fine",
            "below: shanxi_low_fine",
            "kinds.fine[1].below: unknown threshold 'shanxi_low_fine'",
        ),
        ("        - {tier: standard}\n", "", "kinds.fine[1]: the last case must be without a condition"),
        ("      other: standard\n", "", "regimes[1] (samr_2021).kinds: 'other' is required"),
        (
            "    by_subject: {自然人: 5000,",
            "    by_subject: {自然人: -5,",
            "thresholds.samr_low_fine.by_subject.自然人: must be 0 or more",
        ),
        (
            "    applies_when: {decided_from: 2026-04-01}",
            "    applies_when: {decided_from: 2026-04-31}",
            "not valid YAML",
        ),
        (
            "    # No conditions: every record",
            "    applies_when: {decided_before: 2026-04-01}\n    # No conditions",
            "regimes: the last regime (national_2019) must have no applies_when",
        ),
        (
            'separators: "[;；,，、/|\\\\s]+"',
            'separators: "[;"',
            "penalty_kinds.separators: not a regular expression",
        ),
        (
            "restriction: {kinds: [restriction]",
            "restriction: {kinds: [restrictions]",
            "regimes[1] (samr_2021).restriction.kinds: unknown kind 'restrictions'",
        ),
    ],
)
def test_mistakes_name_the_file_and_key(
    tmp_path: Path, schemas_dir: Path, old: str, new: str, message: str
) -> None:
    assert old in SHIPPED, old
    with pytest.raises(PublicityRulesError) as caught:
        _load(tmp_path, schemas_dir, SHIPPED.replace(old, new, 1))
    assert str(caught.value).startswith(str(tmp_path / "publicity.yaml"))
    assert message in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PublicityRulesError, match="cannot read the publicity rules"):
        load_rules(tmp_path / "publicity.yaml")


def test_the_date_helpers_do_what_their_docstring_says() -> None:
    result = doctest.testmod(dates)
    assert result.attempted >= 3 and result.failed == 0
