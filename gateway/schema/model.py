"""The in-memory form of a record type, read from its XSD in schemas/.

The XSD is the single source of truth for fields (docs/architecture.md): the mapping, the validator,
the XML renderer and the hub all read these objects instead of keeping their own field lists, so a
field added to the XSD reaches every stage at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BaseKind = Literal["string", "date", "decimal"]
IdentifierCheck = Literal["uscc", "org_code", "regno", "resident_id"]
Requirement = Literal["Y", "C", "N"]
RuleOp = Literal["in", "contains", "equals", "not_in", "present"]


@dataclass(frozen=True)
class FieldSpec:
    """One column of a record type, e.g. ``CF_XDR_MC`` 行政相对人名称."""

    code: str
    label: str
    requirement: Requirement = "N"
    base: BaseKind = "string"
    max_length: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    enumeration: tuple[str, ...] = ()
    check: IdentifierCheck | None = None
    total_digits: int | None = None
    fraction_digits: int | None = None
    aliases: tuple[str, ...] = ()
    note: str = ""
    unit: str | None = None  # 万元 | 元: amounts, from the named type (AmountWanYuan, AmountYuan)

    @property
    def required(self) -> bool:
        return self.requirement == "Y"


@dataclass(frozen=True)
class Condition:
    """``field op values``: the guard of a cross-field rule or of a withdrawal (``present``: not empty)."""

    field: str
    op: RuleOp
    values: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """A cross-field rule: when ``condition`` holds, ``require`` must be filled, at least one of
    ``require_any`` must be filled, and ``check`` must pass.

    ``check`` maps a field code to an identifier check applied only to the rows where the condition
    holds (e.g. 证件号码 is checked as a resident ID only when 证件类型 is 身份证).
    """

    code: str
    message: str
    condition: Condition | None
    require: tuple[str, ...] = ()
    check: tuple[tuple[str, IdentifierCheck], ...] = ()
    require_any: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubjectSpec:
    """Which fields name the market entity a record is about (used by attachment)."""

    name: str
    kind: str | None = None
    uscc: str | None = None
    reg_no: str | None = None
    org_code: str | None = None
    natural_person_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordType:
    name: str
    element: str
    label: str
    version: str
    fields: tuple[FieldSpec, ...]
    natural_key: tuple[str, ...]
    subject: SubjectSpec
    rules: tuple[Rule, ...] = ()
    withdrawal: Condition | None = None  # rows matching it withdraw their record (e.g. 移出日期 filled)
    registry: bool = False  # its records are registration facts that feed the entity registry
    _by_code: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_code.update({f.code: f for f in self.fields})

    def field(self, code: str) -> FieldSpec:
        return self._by_code[code]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.fields)

    @property
    def personal_id_fields(self) -> frozenset[str]:
        """Fields that may hold a personal ID number: their values are masked wherever they are shown."""
        direct = {f.code for f in self.fields if f.check == "resident_id"}
        by_rule = {code for rule in self.rules for code, kind in rule.check if kind == "resident_id"}
        return frozenset(direct | by_rule)
