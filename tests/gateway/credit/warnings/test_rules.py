"""The rules file: the shipped one loads; mistakes stop the run with the file, the rule and the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.credit.warnings.rules import KINDS, RuleSet, WarningRulesError, load_rules
from gateway.settings import CREDIT_DEFAULTS

HEAD = """
routing: {default_department: xz_credit}
rules:
"""


def load(tmp_path: Path, rules: str, head: str = HEAD) -> RuleSet:
    path = tmp_path / "warning_rules.yaml"
    path.write_text(head + rules, encoding="utf-8")
    return load_rules(path)


def test_the_shipped_rules_load_and_use_every_kind() -> None:
    rules = load_rules(CREDIT_DEFAULTS / "warning_rules.yaml")
    assert {rule.kind for rule in rules.rules} == set(KINDS)
    assert [level.id for level in rules.levels] == ["red", "orange", "yellow", "blue"]
    assert rules.rank("red") < rules.rank("blue")
    assert all(rule.label for rule in rules.rules)


def test_levels_are_configurable(tmp_path: Path) -> None:
    head = "levels: [{id: high, label: 高}, {id: low, label: 低}]\n" + HEAD
    rules = load(tmp_path, "  - {id: a, label: 甲, level: low, kind: new_dishonest_debtor, days: 5}\n", head)
    assert rules.rules[0].level == "low" and rules.level_label("high") == "高" and rules.rank("low") == 1


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{id: a, label: 甲, level: red, kind: nope}", r"rule 'a' \(rules\[1\]\): kind must be one of"),
        ("{id: a, label: 甲, level: pink, kind: new_dishonest_debtor, days: 5}", r"rule 'a'.*level must be"),
        (
            "{id: a, label: 甲, level: red, kind: repeated_penalties, days: 5}",
            r"rule 'a'.*min_count: required",
        ),
        (
            "{id: a, label: 甲, level: red, kind: repeated_penalties, days: 0, min_count: 3}",
            r"days: must be a whole",
        ),
        (
            "{id: a, label: 甲, level: red, kind: new_dishonest_debtor, days: 5, windw: 3}",
            r"windw: not a key of",
        ),
        ("{id: a, label: 甲, level: red, kind: new_listing, list: black, days: 5}", r"list: must be one of"),
        ("{id: a, level: red, kind: new_dishonest_debtor, days: 5}", r"rule 'a'.*label: required"),
        (
            "{id: a, label: 甲, level: red, kind: new_dishonest_debtor, days: 5, title: '{count}'}",
            r"unknown placeholder",
        ),
        (
            "{id: a, label: 甲, level: red, kind: class_drop, title: '降为{to_class}类'}",
            r"internal risk class",
        ),
        ("{id: a b, label: 甲, level: red, kind: class_drop}", r"rules\[1\]: id must be an identifier"),
    ],
)
def test_mistakes_name_the_file_rule_and_key(tmp_path: Path, rule: str, message: str) -> None:
    with pytest.raises(WarningRulesError, match=message) as caught:
        load(tmp_path, f"  - {rule}\n")
    assert str(tmp_path / "warning_rules.yaml") in str(caught.value)


def test_twice_the_same_id(tmp_path: Path) -> None:
    rule = "  - {id: a, label: 甲, level: red, kind: new_dishonest_debtor, days: 5}\n"
    with pytest.raises(WarningRulesError, match=r"rule 'a' \(rules\[2\]\): id: the id is used twice"):
        load(tmp_path, rule * 2)


def test_a_class_rule_needs_a_department(tmp_path: Path) -> None:
    with pytest.raises(WarningRulesError, match="department: required"):
        load(tmp_path, "  - {id: a, label: 甲, level: red, kind: class_drop}\n", "rules:\n")


def test_bad_routes_and_yaml(tmp_path: Path) -> None:
    head = "routing: {routes: [{record_type: admin_license, department: x, field: XK_XKJG}]}\nrules:\n"
    with pytest.raises(WarningRulesError, match=r"routing.routes\[1\]: field goes with values or contains"):
        load(tmp_path, "  - {id: a, label: 甲, level: red, kind: new_dishonest_debtor, days: 5}\n", head)
    with pytest.raises(WarningRulesError, match="not valid YAML"):
        load(tmp_path, "  - {id: a", "rules:\n")


def test_disabled_rules_are_checked_but_not_run(tmp_path: Path) -> None:
    rules = load(
        tmp_path,
        "  - {id: a, label: 甲, level: red, kind: new_dishonest_debtor, days: 5, enabled: false}\n"
        "  - {id: b, label: 乙, level: red, kind: new_dishonest_debtor, days: 5}\n",
    )
    assert [r.id for r in rules.rules] == ["b"]
