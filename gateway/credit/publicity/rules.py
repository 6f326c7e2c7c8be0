"""The publicity rules as configuration (config/publicity.yaml): loaded and checked whole, so that a mistake
in the file stops the run with a message naming the file and the key, instead of giving records wrong ends
— and withdrawing them from the hub on the wrong day.

What the file holds is documented in the file itself and in docs/publicity.md: the record types and which of
their fields say what (``BINDINGS``), the penalty kinds and how they are written, amount thresholds per
subject category, and the regimes with their tiers and periods.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from gateway.schema import load_record_types
from gateway.schema.model import RecordType
from gateway.settings import Settings

RULES_FILE = "publicity.yaml"
OTHER = "other"
"""The kind of whatever no configured kind recognises (and of an empty 处罚类别)."""

BINDINGS = {
    "decided_on": "the decision date: the period starts here",
    "kinds": "the penalty kinds (处罚类别)",
    "own_end": "the record's own end of publicity (公示截止期)",
    "restricted_until": "the end of a restriction (处罚有效期)",
    "fine": "the fine in 万元",
    "confiscation": "the confiscated amount in 万元",
    "subject_category": "the subject's category (自然人, 法人及非法人组织, 个体工商户)",
    "authority": "the deciding authority's name",
    "authority_code": "the deciding authority's USCC",
}
"""What a record type's fields may be bound to; the first two are required."""
REQUIRED_BINDINGS = ("decided_on", "kinds")
AMOUNTS = ("fine", "confiscation")
OPERATORS = {"below": "低于", "at_most": "不超过", "at_least": "达到"}
"""How an amount is compared with a threshold: <, <=, >= (and how a basis says it)."""
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PublicityRulesError(ValueError):
    """The rules file is wrong: the message names the file and the key."""


# ------------------------------------------------------------------------------------------ the model
@dataclass(frozen=True, order=True)
class Period:
    """A period in whole months (a year is 12): calendar arithmetic, not days."""

    months: int

    def __str__(self) -> str:
        if self.months and self.months % 12 == 0:
            return f"{self.months // 12} 年"
        return f"{self.months} 个月"


@dataclass(frozen=True)
class Tier:
    id: str
    label: str
    min: Period  # the shortest publicity: repair may end it from here (== max: a fixed period)
    max: Period  # publicity ends by itself

    @property
    def repairable(self) -> bool:
        return self.min < self.max


@dataclass(frozen=True)
class Case:
    """One way a kind gives a tier: unconditionally, or when its ``amount`` is ``op`` the ``threshold``."""

    tier: str
    amount: str | None = None  # a binding: fine | confiscation
    op: str | None = None  # below | at_most | at_least
    threshold: str | None = None


@dataclass(frozen=True)
class Threshold:
    id: str
    label: str
    by_subject: Mapping[str, Decimal]  # subject category → amount in 元
    otherwise: Decimal


@dataclass(frozen=True)
class Restriction:
    kinds: tuple[str, ...]
    until: str  # a binding holding a date


@dataclass(frozen=True)
class Sector:
    id: str
    label: str
    contains: tuple[str, ...]
    min: Period


@dataclass(frozen=True)
class Applies:
    authority_contains: tuple[str, ...] = ()
    authority_codes: tuple[str, ...] = ()
    decided_from: date | None = None
    decided_before: date | None = None

    @property
    def always(self) -> bool:
        return not (
            self.authority_contains or self.authority_codes or self.decided_from or self.decided_before
        )

    @property
    def by_authority(self) -> bool:
        return bool(self.authority_contains or self.authority_codes)


@dataclass(frozen=True)
class Regime:
    id: str
    label: str
    source: str
    applies: Applies
    tiers: tuple[Tier, ...]
    kinds: Mapping[str, tuple[Case, ...]]  # kind id (or OTHER) → cases, the last unconditional
    restriction: Restriction | None = None
    sectors: tuple[Sector, ...] = ()

    def tier(self, tier_id: str) -> Tier:
        return next(t for t in self.tiers if t.id == tier_id)

    def longest_last(self) -> tuple[Tier, ...]:
        """The tiers from the shortest to the longest: where a record's kinds give several, the last wins."""
        return tuple(sorted(self.tiers, key=lambda t: (t.max, t.min)))


@dataclass(frozen=True)
class Kind:
    id: str
    label: str
    written: tuple[str, ...]


@dataclass(frozen=True)
class RecordBinding:
    record_type: str
    fields: Mapping[str, str]  # binding → field code
    sector_fields: tuple[str, ...] = ()
    regimes: tuple[str, ...] = ()  # the regimes that may apply, in order


@dataclass(frozen=True)
class PublicityRules:
    path: Path
    record_types: Mapping[str, RecordBinding]
    kinds: tuple[Kind, ...]
    separators: str
    thresholds: Mapping[str, Threshold]
    regimes: tuple[Regime, ...] = field(default_factory=tuple)

    def regime(self, regime_id: str) -> Regime:
        return next(r for r in self.regimes if r.id == regime_id)

    def regimes_for(self, record_type: str) -> tuple[Regime, ...]:
        return tuple(self.regime(r) for r in self.record_types[record_type].regimes)

    def kind(self, kind_id: str) -> Kind | None:
        return next((k for k in self.kinds if k.id == kind_id), None)


# ------------------------------------------------------------------------------------------- loading
def load_rules(path: Path, record_types: Mapping[str, RecordType] | None = None) -> PublicityRules:
    """Read and check the rules file; with ``record_types`` (the XSDs), the bound fields are checked too."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PublicityRulesError(f"{path}: cannot read the publicity rules ({exc.strerror})") from exc
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date YAML reads itself, e.g. 2026-04-31
        raise PublicityRulesError(f"{path}: not valid YAML ({exc})") from exc
    return _Reader(path, record_types).rules(data)


class _Reader:
    def __init__(self, path: Path, record_types: Mapping[str, RecordType] | None) -> None:
        self.path = path
        self.known_types = record_types

    def fail(self, where: str, reason: str) -> PublicityRulesError:
        return PublicityRulesError(f"{self.path}: {where}: {reason}")

    def mapping(self, value: Any, where: str, keys: Sequence[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, not {value!r}")
        if keys is not None:
            unknown = sorted(str(k) for k in value if k not in keys)
            if unknown:
                raise self.fail(where, f"unknown key {unknown[0]!r} (expected {', '.join(keys)})")
        return value

    def need(self, entry: Mapping[str, Any], key: str, where: str) -> Any:
        if entry.get(key) in (None, "", [], {}):
            raise self.fail(where, f"'{key}' is required")
        return entry[key]

    def text(self, entry: Mapping[str, Any], key: str, where: str) -> str:
        value = self.need(entry, key, where)
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", f"must be text, not {value!r}")
        return value.strip()

    def texts(self, value: Any, where: str, *, empty: bool = False) -> tuple[str, ...]:
        if value is None and empty:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(where, f"must be a list of texts, not {value!r}")
        if not value and not empty:
            raise self.fail(where, "must not be empty")
        return tuple(v.strip() for v in value)

    def ident(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not _ID.match(value):
            raise self.fail(where, f"an id is lower-case letters, digits and _, not {value!r}")
        return value

    def period(self, value: Any, where: str) -> Period:
        entry = self.mapping(value, where, ("months", "years"))
        if len(entry) != 1:
            raise self.fail(where, "a period is {months: N} or {years: N}")
        (unit, n), *_ = entry.items()
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise self.fail(f"{where}.{unit}", f"must be a whole number of 0 or more, not {n!r}")
        return Period(n * 12 if unit == "years" else n)

    def day(self, value: Any, where: str) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise self.fail(where, f"must be a day YYYY-MM-DD, not {value!r}") from None

    def amount(self, value: Any, where: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(where, f"must be an amount in 元, not {value!r}")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(where, f"must be an amount in 元, not {value!r}") from None
        exponent = amount.as_tuple().exponent
        if not amount.is_finite() or amount < 0 or (isinstance(exponent, int) and exponent < -4):
            raise self.fail(where, f"must be 0 or more with at most 4 decimals, not {value!r}")
        return amount

    # ------------------------------------------------------------------------------------- the whole
    def rules(self, data: Any) -> PublicityRules:
        top = ("version", "record_types", "penalty_kinds", "thresholds", "regimes")
        data = self.mapping(data, "the file", top)
        if data.get("version") != 1:
            raise self.fail("version", f"must be 1, not {data.get('version')!r}")
        kinds, separators = self.penalty_kinds(self.need(data, "penalty_kinds", "the file"))
        thresholds = {
            tid: self.threshold(tid, entry)
            for tid, entry in self.mapping(data.get("thresholds") or {}, "thresholds").items()
        }
        items = data.get("regimes")
        if not isinstance(items, list) or not items:
            raise self.fail("regimes", "must be a non-empty list")
        regimes: list[Regime] = []
        for n, entry in enumerate(items, 1):
            regime = self.regime(entry, f"regimes[{n}]", {k.id for k in kinds}, thresholds)
            if regime.id in {r.id for r in regimes}:
                raise self.fail(f"regimes[{n}].id", f"{regime.id!r} is used twice")
            regimes.append(regime)
        types = self.mapping(self.need(data, "record_types", "the file"), "record_types")
        bindings = {
            name: self.binding(str(name), entry, regimes, f"record_types.{name}")
            for name, entry in types.items()
        }
        return PublicityRules(self.path, bindings, kinds, separators, thresholds, tuple(regimes))

    def penalty_kinds(self, value: Any) -> tuple[tuple[Kind, ...], str]:
        entry = self.mapping(value, "penalty_kinds", ("separators", "kinds"))
        separators = self.text(entry, "separators", "penalty_kinds")
        try:
            re.compile(separators)
        except re.error as exc:
            raise self.fail("penalty_kinds.separators", f"not a regular expression ({exc})") from None
        kinds = []
        for kid, item in self.mapping(
            self.need(entry, "kinds", "penalty_kinds"), "penalty_kinds.kinds"
        ).items():
            where = f"penalty_kinds.kinds.{kid}"
            self.ident(kid, where)
            if kid == OTHER:
                raise self.fail(where, f"'{OTHER}' is reserved for what no kind recognises")
            item = self.mapping(item, where, ("label", "written"))
            written = self.texts(item.get("written"), f"{where}.written")
            kinds.append(Kind(kid, self.text(item, "label", where), written))
        return tuple(kinds), separators

    def threshold(self, tid: Any, value: Any) -> Threshold:
        where = f"thresholds.{tid}"
        self.ident(tid, where)
        entry = self.mapping(value, where, ("label", "unit", "by_subject", "otherwise"))
        if entry.get("unit", "元") != "元":
            raise self.fail(f"{where}.unit", f"thresholds are written in 元, not {entry['unit']!r}")
        by_subject = {
            str(k): self.amount(v, f"{where}.by_subject.{k}")
            for k, v in self.mapping(entry.get("by_subject") or {}, f"{where}.by_subject").items()
        }
        otherwise = self.amount(self.need(entry, "otherwise", where), f"{where}.otherwise")
        return Threshold(str(tid), self.text(entry, "label", where), by_subject, otherwise)

    def regime(
        self, value: Any, where: str, kind_ids: set[str], thresholds: Mapping[str, Threshold]
    ) -> Regime:
        keys = ("id", "label", "source", "applies_when", "tiers", "kinds", "restriction", "sectors")
        entry = self.mapping(value, where, keys)
        rid = self.ident(self.need(entry, "id", where), f"{where}.id")
        where = f"{where} ({rid})"
        items = entry.get("tiers")
        if not isinstance(items, list) or not items:
            raise self.fail(f"{where}.tiers", f"must be a non-empty list of tiers, not {items!r}")
        tiers: list[Tier] = []
        for n, item in enumerate(items, 1):
            tier = self.tier(item, f"{where}.tiers[{n}]")
            if tier.id in {t.id for t in tiers}:
                raise self.fail(f"{where}.tiers[{n}].id", f"{tier.id!r} is used twice")
            tiers.append(tier)
        tier_ids = {t.id for t in tiers}
        kinds = self.mapping(self.need(entry, "kinds", where), f"{where}.kinds")
        if OTHER not in kinds:
            raise self.fail(f"{where}.kinds", f"'{OTHER}' is required: the tier of any kind not listed")
        cases = {
            str(kid): self.cases(kid, spec, f"{where}.kinds.{kid}", kind_ids, tier_ids, thresholds)
            for kid, spec in kinds.items()
        }
        restriction = None
        if entry.get("restriction") is not None:
            r_where = f"{where}.restriction"
            r_entry = self.mapping(entry["restriction"], r_where, ("kinds", "until"))
            r_kinds = self.texts(r_entry.get("kinds"), f"{r_where}.kinds")
            unknown = sorted(set(r_kinds) - kind_ids)
            if unknown:
                raise self.fail(f"{r_where}.kinds", f"unknown kind {unknown[0]!r}")
            until = self.text(r_entry, "until", r_where)
            if until not in BINDINGS:
                raise self.fail(f"{r_where}.until", f"must name a field binding ({', '.join(BINDINGS)})")
            restriction = Restriction(r_kinds, until)
        sectors = []
        for n, item in enumerate(entry.get("sectors") or [], 1):
            s_where = f"{where}.sectors[{n}]"
            item = self.mapping(item, s_where, ("id", "label", "contains", "min"))
            sectors.append(
                Sector(
                    self.ident(self.need(item, "id", s_where), f"{s_where}.id"),
                    self.text(item, "label", s_where),
                    self.texts(item.get("contains"), f"{s_where}.contains"),
                    self.period(self.need(item, "min", s_where), f"{s_where}.min"),
                )
            )
        return Regime(
            rid,
            self.text(entry, "label", where),
            " ".join(self.text(entry, "source", where).split()),
            self.applies(entry.get("applies_when"), f"{where}.applies_when"),
            tuple(tiers),
            cases,
            restriction,
            tuple(sectors),
        )

    def tier(self, value: Any, where: str) -> Tier:
        entry = self.mapping(value, where, ("id", "label", "min", "max"))
        tid = self.ident(self.need(entry, "id", where), f"{where}.id")
        if "max" not in entry:
            raise self.fail(where, "'max' is required")
        longest = self.period(entry["max"], f"{where}.max")
        shortest = self.period(entry["min"], f"{where}.min") if "min" in entry else longest
        if shortest > longest:
            raise self.fail(f"{where}.min", f"{shortest} is longer than max {longest}")
        return Tier(tid, self.text(entry, "label", where), shortest, longest)

    def cases(
        self,
        kid: Any,
        spec: Any,
        where: str,
        kind_ids: set[str],
        tier_ids: set[str],
        thresholds: Mapping[str, Threshold],
    ) -> tuple[Case, ...]:
        if kid != OTHER and kid not in kind_ids:
            raise self.fail(
                where, f"unknown kind {kid!r} (penalty_kinds.kinds has {', '.join(sorted(kind_ids))})"
            )
        items = [{"tier": spec}] if isinstance(spec, str) else spec
        if not isinstance(items, list) or not items:
            raise self.fail(where, "must be a tier id or a non-empty list of cases")
        found = []
        for n, item in enumerate(items, 1):
            c_where = f"{where}[{n}]" if isinstance(spec, list) else where
            entry = self.mapping(item, c_where, ("tier", "amount", *OPERATORS))
            tier = self.text(entry, "tier", c_where)
            if tier not in tier_ids:
                raise self.fail(
                    f"{c_where}.tier", f"unknown tier {tier!r} (the regime has {', '.join(sorted(tier_ids))})"
                )
            ops = [op for op in OPERATORS if op in entry]
            last = n == len(items)
            if not ops and "amount" not in entry:
                if not last:
                    raise self.fail(c_where, "only the last case may be without a condition")
                found.append(Case(tier))
                continue
            if last:
                raise self.fail(c_where, "the last case must be without a condition (the tier otherwise)")
            if len(ops) != 1:
                raise self.fail(c_where, f"a condition is one of {', '.join(OPERATORS)} with an amount")
            amount = self.text(entry, "amount", c_where)
            if amount not in AMOUNTS:
                raise self.fail(f"{c_where}.amount", f"must be {' or '.join(AMOUNTS)}, not {amount!r}")
            threshold = entry[ops[0]]
            if threshold not in thresholds:
                raise self.fail(f"{c_where}.{ops[0]}", f"unknown threshold {threshold!r}")
            found.append(Case(tier, amount, ops[0], threshold))
        return tuple(found)

    def applies(self, value: Any, where: str) -> Applies:
        if value is None:
            return Applies()
        keys = ("authority_contains", "authority_codes", "decided_from", "decided_before")
        entry = self.mapping(value, where, keys)
        applies = Applies(
            self.texts(entry.get("authority_contains"), f"{where}.authority_contains", empty=True),
            self.texts(entry.get("authority_codes"), f"{where}.authority_codes", empty=True),
            self.day(entry["decided_from"], f"{where}.decided_from") if entry.get("decided_from") else None,
            self.day(entry["decided_before"], f"{where}.decided_before")
            if entry.get("decided_before")
            else None,
        )
        if applies.decided_from and applies.decided_before and applies.decided_before <= applies.decided_from:
            raise self.fail(f"{where}.decided_before", "must be after decided_from")
        return applies

    def binding(self, name: str, value: Any, regimes: Sequence[Regime], where: str) -> RecordBinding:
        entry = self.mapping(value, where, ("fields", "sector_fields", "regimes"))
        fields = self.mapping(self.need(entry, "fields", where), f"{where}.fields", tuple(BINDINGS))
        for key in REQUIRED_BINDINGS:
            self.need(fields, key, f"{where}.fields")
        known = self.known_types
        if known is not None and name not in known:
            raise self.fail(where, f"unknown record type (schemas/ has {', '.join(sorted(known))})")
        codes = {}
        for key, code in fields.items():
            codes[key] = self.code(name, code, f"{where}.fields.{key}")
        sector_fields = tuple(
            self.code(name, code, f"{where}.sector_fields")
            for code in self.texts(entry.get("sector_fields"), f"{where}.sector_fields", empty=True)
        )
        ids = [r.id for r in regimes]
        chosen = self.texts(entry.get("regimes"), f"{where}.regimes") if "regimes" in entry else tuple(ids)
        unknown = sorted(set(chosen) - set(ids))
        if unknown:
            raise self.fail(f"{where}.regimes", f"unknown regime {unknown[0]!r}")
        if not next(r for r in regimes if r.id == chosen[-1]).applies.always:
            raise self.fail(
                f"{where}.regimes" if "regimes" in entry else "regimes",
                f"the last regime ({chosen[-1]}) must have no applies_when: it is the fallback that gives "
                "every dated record a period",
            )
        return RecordBinding(name, codes, sector_fields, tuple(chosen))

    def code(self, record_type: str, code: Any, where: str) -> str:
        if not isinstance(code, str) or not _CODE.match(code):
            raise self.fail(where, f"not a field code: {code!r}")
        known = self.known_types
        if known is not None and code not in known[record_type].codes:
            raise self.fail(where, f"{record_type} has no field {code!r}")
        return code


def rules_for(settings: Settings) -> PublicityRules:
    """The rules of a deployment: publicity.yaml in its credit folder, checked against its schemas."""
    return load_rules(settings.credit_dir / RULES_FILE, load_record_types(settings.schemas_dir))


__all__ = [
    "AMOUNTS",
    "BINDINGS",
    "OPERATORS",
    "OTHER",
    "RULES_FILE",
    "Applies",
    "Case",
    "Kind",
    "Period",
    "PublicityRules",
    "PublicityRulesError",
    "RecordBinding",
    "Regime",
    "Restriction",
    "Sector",
    "Threshold",
    "Tier",
    "load_rules",
    "rules_for",
]
