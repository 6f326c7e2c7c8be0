"""The warning rules as configuration (config/warning_rules.yaml): loaded once per run and checked whole, so
that a mistake in the file stops the run with a message naming the file, the rule and the key, instead of
raising wrong warnings (or none) every night.

What each kind means and which parameters it takes is documented in the YAML itself and in
docs/credit-warnings.md; ``KINDS`` below is the same list as data, used to check the file.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RULES_FILE = "warning_rules.yaml"
CLASSES = ("A", "B", "C", "D")  # the risk classes, best first (gateway.credit.risk)
LISTS = ("abnormal_operation", "serious_dishonesty")
DISHONEST_TYPES = ("serious_dishonesty", "dishonest_debtor")


class WarningRulesError(ValueError):
    """The rules file is wrong: the message names the file, the rule and the key."""


# ------------------------------------------------------------------------------------- parameter checks
def _int(low: int) -> Callable[[Any], Any]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"must be a whole number of at least {low}, not {value!r}")
        return value

    return check


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"must be a number above 0, not {value!r}")
    return float(value)


def _words(allowed: tuple[str, ...] | None = None) -> Callable[[Any], Any]:
    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"must be a list of texts, not {value!r}")
        if allowed is not None:
            unknown = sorted(set(value) - set(allowed))
            if unknown or not value:
                raise ValueError(f"must list some of {', '.join(allowed)}; {unknown or 'nothing'} is not")
        return tuple(value)

    return check


def _one_of(allowed: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, not {value!r}")
        return str(value)

    return check


REQUIRED = object()


@dataclass(frozen=True)
class Param:
    check: Callable[[Any], Any]
    default: Any = REQUIRED


@dataclass(frozen=True)
class Kind:
    params: Mapping[str, Param]
    figures: tuple[str, ...]  # what a title may name: {count}, {days}, ...
    internal_figures: tuple[str, ...] = ()  # figures a title must not name (they never leave the gateway)
    has_records: bool = True  # False: the evidence is not records, the department comes from configuration


_DAYS = Param(_int(1))
_STATES = Param(_words(), ())
KINDS: dict[str, Kind] = {
    "repeated_penalties": Kind({"days": _DAYS, "min_count": Param(_int(1))}, ("count", "days", "fine_total")),
    "new_listing": Kind({"list": Param(_one_of(LISTS)), "days": _DAYS}, ("listed_on", "authority", "days")),
    "new_dishonest_debtor": Kind({"days": _DAYS}, ("case_code", "court", "published_on", "days")),
    "complaint_surge": Kind(
        {"months": Param(_int(1), 3), "min_ratio": Param(_positive_number), "min_count": Param(_int(1))},
        ("recent", "prior", "ratio", "months"),
    ),
    "licence_expiring": Kind({"days": _DAYS}, ("valid_to", "days_left", "authority", "licence")),
    "licence_expired": Kind(
        {"days": Param(_int(1), None), "ended_values": Param(_words(), ("2",))},
        ("valid_to", "days_overdue", "authority", "licence"),
    ),
    "shared_address": Kind(
        {"min_entities": Param(_int(2)), "exclude_states": _STATES}, ("entities", "address")
    ),
    "shared_representative": Kind(
        {"min_entities": Param(_int(2)), "exclude_states": _STATES}, ("entities", "representative")
    ),
    "related_dishonest": Kind(
        {"record_types": Param(_words(DISHONEST_TYPES), DISHONEST_TYPES), "exclude_states": _STATES},
        ("related", "representative"),
    ),
    "class_drop": Kind(
        {"to_classes": Param(_words(CLASSES), ("C", "D"))},
        ("period", "previous_period"),
        internal_figures=("from_class", "to_class"),
        has_records=False,
    ),
}
_RULE_KEYS = {"id", "label", "level", "kind", "title", "department", "enabled"}


# ------------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class Level:
    id: str
    label: str


@dataclass(frozen=True)
class Route:
    """Evidence records of ``record_type`` (whose ``field`` equals one of ``values`` or contains one of
    ``contains``, when given) go to ``department``."""

    record_type: str
    department: str
    field: str | None = None
    values: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routing:
    routes: tuple[Route, ...] = ()
    default_department: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    level: str
    kind: str
    params: Mapping[str, Any]
    title: str
    department: str | None = None  # every warning of the rule goes here, whatever its evidence

    def format_title(self, figures: Mapping[str, Any]) -> str:
        shown = {k: ("—" if v is None else v) for k, v in figures.items()}
        return self.title.format(**shown)[:255]


@dataclass(frozen=True)
class RuleSet:
    path: Path
    levels: tuple[Level, ...]
    routing: Routing
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def level_label(self, level_id: str) -> str:
        return next((lv.label for lv in self.levels if lv.id == level_id), level_id)

    def rank(self, level_id: str) -> int:
        """0 for the most severe level; unknown levels (a rule since removed) last."""
        ids = [lv.id for lv in self.levels]
        return ids.index(level_id) if level_id in ids else len(ids)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


# ------------------------------------------------------------------------------------------- loading
def load_rules(path: Path) -> RuleSet:
    """Read and check the rules file; any mistake is a WarningRulesError naming the file, rule and key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WarningRulesError(f"{path}: cannot read the warning rules ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise WarningRulesError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise WarningRulesError(f"{path}: must be a mapping with levels, routing and rules")
    unknown = sorted(set(data) - {"version", "levels", "routing", "rules"})
    if unknown:
        raise WarningRulesError(
            f"{path}: unknown key {unknown[0]!r} (expected version, levels, routing, rules)"
        )
    levels = _levels(path, data.get("levels"))
    routing = _routing(path, data.get("routing") or {})
    items = data.get("rules")
    if not isinstance(items, list) or not items:
        raise WarningRulesError(f"{path}: rules must be a non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        rule = _rule(path, n, item, {lv.id for lv in levels}, routing)
        if rule is None:
            continue
        if rule.id in seen:
            raise WarningRulesError(f"{path}: rule {rule.id!r} (rules[{n}]): id: the id is used twice")
        seen.add(rule.id)
        rules.append(rule)
    return RuleSet(path, levels, routing, tuple(rules))


def _levels(path: Path, raw: Any) -> tuple[Level, ...]:
    if raw is None:  # the generic four colours, most severe first
        return (Level("red", "红色"), Level("orange", "橙色"), Level("yellow", "黄色"), Level("blue", "蓝色"))
    if not isinstance(raw, list) or not raw:
        raise WarningRulesError(f"{path}: levels must be a list of {{id, label}}, most severe first")
    levels = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict) or set(item) != {"id", "label"}:
            raise WarningRulesError(f"{path}: levels[{n}] must have exactly the keys id and label")
        if not isinstance(item["id"], str) or not item["id"].isidentifier() or len(item["id"]) > 16:
            raise WarningRulesError(f"{path}: levels[{n}]: id must be a short identifier, not {item['id']!r}")
        levels.append(Level(item["id"], str(item["label"])))
    if len({lv.id for lv in levels}) != len(levels):
        raise WarningRulesError(f"{path}: levels: an id is used twice")
    return tuple(levels)


def _routing(path: Path, raw: Any) -> Routing:
    if not isinstance(raw, dict) or set(raw) - {"routes", "default_department"}:
        raise WarningRulesError(f"{path}: routing may only have the keys routes and default_department")
    default = raw.get("default_department")
    if default is not None and not (isinstance(default, str) and default):
        raise WarningRulesError(f"{path}: routing: default_department must be a department id")
    routes = []
    for n, item in enumerate(raw.get("routes") or [], 1):
        where = f"{path}: routing.routes[{n}]"
        if not isinstance(item, dict):
            raise WarningRulesError(f"{where} must be a mapping")
        extra = sorted(set(item) - {"record_type", "department", "field", "values", "contains"})
        if extra:
            raise WarningRulesError(f"{where}: unknown key {extra[0]!r}")
        for key in ("record_type", "department"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise WarningRulesError(f"{where}: {key} is required")
        field_code = item.get("field")
        values, contains = item.get("values") or [], item.get("contains") or []
        if (field_code is None) != (not values and not contains):
            raise WarningRulesError(f"{where}: field goes with values or contains (and they with field)")
        try:
            checked = _words()(values) if values else (), _words()(contains) if contains else ()
        except ValueError as exc:
            raise WarningRulesError(f"{where}: values/contains {exc}") from exc
        routes.append(Route(item["record_type"], item["department"], field_code, *checked))
    return Routing(tuple(routes), default)


def _rule(path: Path, n: int, item: Any, levels: set[str], routing: Routing) -> Rule | None:
    if not isinstance(item, dict):
        raise WarningRulesError(f"{path}: rules[{n}] must be a mapping")
    rule_id = item.get("id")
    if not isinstance(rule_id, str) or not rule_id.isidentifier() or len(rule_id) > 64:
        raise WarningRulesError(f"{path}: rules[{n}]: id must be an identifier (letters, digits, _)")
    where = f"{path}: rule {rule_id!r} (rules[{n}])"
    kind_name = item.get("kind")
    if kind_name not in KINDS:
        raise WarningRulesError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind_name!r}")
    kind = KINDS[kind_name]
    for key in sorted(set(item) - _RULE_KEYS - set(kind.params)):
        raise WarningRulesError(
            f"{where}: {key}: not a key of kind {kind_name} (it takes {', '.join(kind.params)})"
        )
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        raise WarningRulesError(f"{where}: label: required (the rule's name in Chinese)")
    if item.get("level") not in levels:
        raise WarningRulesError(
            f"{where}: level must be one of {', '.join(sorted(levels))}, not {item.get('level')!r}"
        )
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise WarningRulesError(f"{where}: enabled must be true or false")
    params = {}
    for key, spec in kind.params.items():
        if key not in item:
            if spec.default is REQUIRED:
                raise WarningRulesError(f"{where}: {key}: required for kind {kind_name}")
            params[key] = spec.default
            continue
        try:
            params[key] = spec.check(item[key])
        except ValueError as exc:
            raise WarningRulesError(f"{where}: {key}: {exc}") from exc
    department = item.get("department")
    if department is not None and not (isinstance(department, str) and department):
        raise WarningRulesError(f"{where}: department must be a department id")
    if not kind.has_records and department is None and routing.default_department is None:
        raise WarningRulesError(
            f"{where}: department: required (kind {kind_name} has no records to route by, and routing has "
            "no default_department)"
        )
    title = item.get("title", label)
    if not isinstance(title, str) or not title.strip():
        raise WarningRulesError(f"{where}: title must be a text")
    _check_title(where, title, kind)
    if not enabled:
        return None
    return Rule(rule_id, label.strip(), item["level"], kind_name, params, title, department)


def _check_title(where: str, title: str, kind: Kind) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(title) if name is not None}
    except ValueError as exc:
        raise WarningRulesError(f"{where}: title: {exc}") from exc
    for name in sorted(names):
        if name in kind.internal_figures:
            raise WarningRulesError(
                f"{where}: title: {{{name}}} is the internal risk class; titles are exported, so may not "
                "show it"
            )
        if name not in kind.figures:
            raise WarningRulesError(
                f"{where}: title: unknown placeholder {{{name}}} (this kind has {', '.join(kind.figures)})"
            )


__all__ = [
    "KINDS",
    "RULES_FILE",
    "Level",
    "Route",
    "Routing",
    "Rule",
    "RuleSet",
    "WarningRulesError",
    "load_rules",
]
