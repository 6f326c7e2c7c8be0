"""Read the record types out of the XSDs in schemas/.

The XSDs are the single source of truth (docs/architecture.md): the facets that XSD 1.0 can say
(length, pattern, enumeration, digits) are read from the compiled schema, and what it cannot say lives in
xs:appinfo in the ``gw`` namespace (requirement, aliases, fill-in notes, natural key, subject fields,
cross-field rules). The identifier checks (check characters) follow from the *named* common type a field
derives from, so a new USCC field is checked simply by typing it ``USCC``.

Why xmlschema alone, and no second parse of the XSD text for the appinfo: xmlschema already keeps every
annotation's xs:appinfo children as ElementTree elements next to the resolved component, so each gw:field
is read from the very element declaration whose facets we read; a separate defusedxml pass would have to
repeat xs:include resolution and name matching, and could drift from what the validator sees.

The record types are those named in the choice of ``Record`` in batch.xsd, so "adding a record type = adding
it to the choice" holds for the loader too: a type that cannot be sent is not loaded.

Field facets as read: ``pattern`` is the XSD pattern text, which matches the *whole* value (XSD patterns
are implicitly anchored), so a consumer must use a full match; the patterns in schemas/ keep to the common
subset of XSD, Python ``re`` and RE2 syntax. Range facets (minInclusive …) have no slot in FieldSpec and are
enforced only by XSD validation of the rendered batch (see XSD_ONLY_FACETS).

Everything here imports nothing of ours but gateway.schema.model, so the hub can use it alone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar, get_args
from xml.etree.ElementTree import Element

import xmlschema
from xmlschema import names as xsd
from xmlschema.validators import (
    XsdAnnotation,
    XsdAtomicBuiltin,
    XsdAtomicRestriction,
    XsdComplexType,
    XsdElement,
)

from gateway.schema.model import (
    BaseKind,
    Condition,
    FieldSpec,
    IdentifierCheck,
    RecordType,
    Requirement,
    Rule,
    RuleOp,
    SubjectSpec,
)

TARGET_NAMESPACE = "urn:cn:xinzhou:gateway:1"
META_NAMESPACE = "urn:cn:xinzhou:gateway:meta:1"
BATCH_SCHEMA = "batch.xsd"
BATCH_ELEMENT = "Batch"
RECORD_TYPE = "Record"

# The check is tied to the named type rather than written on each field so that it cannot be forgotten:
# a field typed USCC is a USCC everywhere, in the XSD and in the validator.
NAMED_TYPE_CHECKS: dict[str, IdentifierCheck] = {"USCC": "uscc", "OrgCode": "org_code", "RegNo15": "regno"}
T = TypeVar("T")
# Likewise the unit of an amount: a header that states another unit is converted or refused by mapping.
NAMED_TYPE_UNITS: dict[str, str] = {"AmountWanYuan": "万元", "AmountYuan": "元"}

# Facets the model has no slot for. They are still enforced, by XSD validation of the rendered batch;
# any facet not listed here or mapped below stops the loader, so a new facet is never silently dropped.
XSD_ONLY_FACETS = frozenset(
    {
        xsd.XSD_MIN_INCLUSIVE,
        xsd.XSD_MAX_INCLUSIVE,
        xsd.XSD_MIN_EXCLUSIVE,
        xsd.XSD_MAX_EXCLUSIVE,
        xsd.XSD_WHITE_SPACE,
    }
)

# xs:length fixes both bounds, so it fills both FieldSpec slots.
_LENGTH_FACETS: dict[str, tuple[str, ...]] = {
    xsd.XSD_LENGTH: ("min_length", "max_length"),
    xsd.XSD_MIN_LENGTH: ("min_length",),
    xsd.XSD_MAX_LENGTH: ("max_length",),
}
_BASE_KINDS: dict[str, BaseKind] = {
    xsd.XSD_STRING: "string",
    xsd.XSD_DATE: "date",
    xsd.XSD_DECIMAL: "decimal",
}
_REQUIREMENTS: frozenset[str] = frozenset(get_args(Requirement))
_RULE_OPS: frozenset[str] = frozenset(get_args(RuleOp))
_CHECKS: frozenset[str] = frozenset(get_args(IdentifierCheck))
_RULE_CODE = re.compile(r"E_[A-Z0-9_]+")
_RECORD_NAME = re.compile(r"[a-z][a-z0-9_]*")

_FIELD_ATTRS = frozenset({"requirement", "aliases", "note"})
_RECORD_ATTRS = frozenset({"name", "label", "version", "natural-key", "registry"})
_SUBJECT_ATTRS = frozenset({"name", "kind", "uscc", "reg-no", "org-code", "natural-person"})
_RULE_ATTRS = frozenset({"code", "when", "op", "values", "require", "require-any", "check"})
_WITHDRAWAL_ATTRS = frozenset({"when", "op", "values"})
_META_ELEMENTS = frozenset({"field", "record", "subject", "rule", "withdrawal"})


class SchemaDefinitionError(ValueError):
    """An XSD that compiles but breaks the gateway's conventions (bad appinfo, unknown field, odd type).

    Raised at load time, so a typo in a schema stops the pipeline before any record is judged by it.
    """


# --------------------------------------------------------------------------------------------- public API


def load_record_types(schema_dir: Path) -> dict[str, RecordType]:
    """Every record type the batch envelope can carry, keyed by name (e.g. ``admin_penalty``)."""
    directory = Path(schema_dir).resolve()
    return dict(_record_types(directory, _fingerprint(directory)))


def load_record_type(path: Path) -> RecordType:
    """The one record type defined in a record XSD (e.g. schemas/admin_penalty.xsd)."""
    resolved = Path(path).resolve()
    return _record_type_from_file(resolved, _fingerprint(resolved.parent))


def batch_schema(schema_dir: Path) -> xmlschema.XMLSchema10:
    """The compiled envelope schema, for validating whole batches (renderer self-check, hub)."""
    directory = Path(schema_dir).resolve()
    return _compile(directory / BATCH_SCHEMA, _fingerprint(directory))


def element_to_type(schema_dir: Path) -> dict[str, str]:
    """Record element name → record type name (``AdminPenalty`` → ``admin_penalty``), for the hub."""
    return {rt.element: name for name, rt in load_record_types(schema_dir).items()}


# ---------------------------------------------------------------------------------------------- caching


def _fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of every XSD in the directory.

    Includes are resolved relative to the including file and all ours sit in one directory, so any edit
    to any of them (common.xsd included) changes the key and recompiles everything that might use it.
    """
    stats = ((p.name, p.stat()) for p in sorted(directory.glob("*.xsd")))
    return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)


@functools.lru_cache(maxsize=32)
def _compile(path: Path, fingerprint: tuple[tuple[str, int, int], ...]) -> xmlschema.XMLSchema10:
    # sandbox: includes may only come from this directory; defuse: no entity expansion in schema files.
    return xmlschema.XMLSchema10(str(path), allow="sandbox", defuse="always")


@functools.lru_cache(maxsize=32)
def _record_types(
    directory: Path, fingerprint: tuple[tuple[str, int, int], ...]
) -> tuple[tuple[str, RecordType], ...]:
    schema = _compile(directory / BATCH_SCHEMA, fingerprint)
    record = schema.types.get(RECORD_TYPE)
    if not isinstance(record, XsdComplexType) or record.content is None or record.content.model != "choice":
        raise SchemaDefinitionError(f"{BATCH_SCHEMA}: complexType {RECORD_TYPE} must have an xs:choice")
    types: dict[str, RecordType] = {}
    elements: set[str] = set()
    for particle in record.content:
        if not isinstance(particle, XsdElement) or particle.ref is None:
            raise SchemaDefinitionError(f"{BATCH_SCHEMA}: {RECORD_TYPE}'s choice may hold only element refs")
        record_type = _record_type(particle.ref)
        if record_type.name in types or record_type.element in elements:
            raise SchemaDefinitionError(f"{BATCH_SCHEMA}: record type {record_type.name} listed twice")
        types[record_type.name] = record_type
        elements.add(record_type.element)
    return tuple(types.items())


@functools.lru_cache(maxsize=64)
def _record_type_from_file(path: Path, fingerprint: tuple[tuple[str, int, int], ...]) -> RecordType:
    schema = _compile(path, fingerprint)
    own = [
        t
        for t in schema.types.values()
        if isinstance(t, XsdComplexType) and t.schema is schema and _meta(t.annotation, "record", path.name)
    ]
    if len(own) != 1:
        raise SchemaDefinitionError(f"{path.name}: expected one complexType with gw:record, found {len(own)}")
    declared = [e for e in schema.elements.values() if e.schema is schema and e.type is own[0]]
    if len(declared) != 1:
        raise SchemaDefinitionError(f"{path.name}: expected one global element of type {own[0].local_name}")
    return _record_type(declared[0])


# ------------------------------------------------------------------------------------------ record types


def _record_type(element: XsdElement) -> RecordType:
    ctype = element.type
    where = f"{_source_name(element)}: {element.local_name}"
    if not isinstance(ctype, XsdComplexType) or ctype.content is None or ctype.content.model != "sequence":
        raise SchemaDefinitionError(f"{where}: a record must be a complexType with an xs:sequence")

    record_info = _one_meta(ctype.annotation, "record", where)
    _check_attributes(record_info, _RECORD_ATTRS, where)
    name = _required_attr(record_info, "name", where)
    if not _RECORD_NAME.fullmatch(name):
        raise SchemaDefinitionError(f"{where}: gw:record name {name!r} must match [a-z][a-z0-9_]*")

    fields = tuple(_field_spec(particle, where) for particle in ctype.content)
    by_code = {f.code: f for f in fields}
    if len(by_code) != len(fields):
        raise SchemaDefinitionError(f"{where}: duplicate element names in the sequence")

    natural_key = _words(_required_attr(record_info, "natural-key", where))
    for code in _known(natural_key, by_code, f"{where} natural-key"):
        if not by_code[code].required:
            raise SchemaDefinitionError(f"{where}: natural-key field {code} must be required (Y)")

    rules = _rules(ctype.annotation, by_code, where)
    # C means "required when …": without a rule saying when, a C field would in effect be optional.
    conditional = {f.code for f in fields if f.requirement == "C"}
    unruled = sorted(conditional - {code for rule in rules for code in (*rule.require, *rule.require_any)})
    if unruled:
        raise SchemaDefinitionError(f"{where}: C fields {unruled} are required by no gw:rule")

    return RecordType(
        name=name,
        element=element.local_name,
        label=_required_attr(record_info, "label", where),
        version=_required_attr(record_info, "version", where),
        fields=fields,
        natural_key=natural_key,
        subject=_subject(_one_meta(ctype.annotation, "subject", where), by_code, where),
        rules=rules,
        withdrawal=_withdrawal(ctype.annotation, by_code, where),
        registry=_flag(record_info, "registry", where),
    )


def _field_spec(particle: object, where: str) -> FieldSpec:
    if not isinstance(particle, XsdElement):
        raise SchemaDefinitionError(f"{where}: the record sequence may hold only xs:element")
    code = particle.local_name
    here = f"{where}/{code}"
    if particle.max_occurs != 1:
        raise SchemaDefinitionError(f"{here}: a field occurs at most once (maxOccurs=1)")
    stype = particle.type
    if not isinstance(stype, XsdAtomicRestriction | XsdAtomicBuiltin):
        raise SchemaDefinitionError(f"{here}: a field must have an atomic simple type")

    info = _one_meta(particle.annotation, "field", here)
    _check_attributes(info, _FIELD_ATTRS, here)
    requirement = _required_attr(info, "requirement", here)
    if requirement not in _REQUIREMENTS:
        raise SchemaDefinitionError(f"{here}: requirement must be one of Y, C, N, not {requirement!r}")
    if (requirement == "Y") != (particle.min_occurs >= 1):
        raise SchemaDefinitionError(f"{here}: requirement {requirement} disagrees with minOccurs")

    facets = _facets(stype, here)
    return FieldSpec(
        code=code,
        label=_label(particle, here),
        requirement=requirement,  # type: ignore[arg-type]  # checked against _REQUIREMENTS above
        aliases=_alternatives(info.get("aliases", "")),
        note=info.get("note", "").strip(),
        check=_named_check(stype),
        unit=_named(stype, NAMED_TYPE_UNITS),
        **facets,
    )


def _facets(stype: XsdAtomicRestriction | XsdAtomicBuiltin, where: str) -> dict[str, object]:
    """Collapse the derivation chain into one set of facets, the most derived level winning.

    XSD only lets a restriction narrow its base, so the most derived length or enumeration is the
    effective one. Patterns are different: each level's pattern applies *as well* (AND), which one regex
    string cannot carry, so a chain with patterns at two levels is refused rather than half-read.
    """
    primitive = stype.primitive_type
    base = _BASE_KINDS.get(primitive.name if primitive is not None else "")
    if base is None:
        raise SchemaDefinitionError(f"{where}: base type must derive from xs:string, xs:date or xs:decimal")
    found: dict[str, object] = {"base": base}
    pattern_levels: list[list[str]] = []
    for level in _restrictions(stype):
        for qname, facet in level.facets.items():
            if qname in _LENGTH_FACETS:
                for key in _LENGTH_FACETS[qname]:
                    found.setdefault(key, int(facet.value))
            elif qname == xsd.XSD_TOTAL_DIGITS:
                found.setdefault("total_digits", int(facet.value))
            elif qname == xsd.XSD_FRACTION_DIGITS:
                found.setdefault("fraction_digits", int(facet.value))
            elif qname == xsd.XSD_ENUMERATION:
                found.setdefault("enumeration", tuple(str(v) for v in facet.enumeration))
            elif qname == xsd.XSD_PATTERN:
                pattern_levels.append(list(facet.regexps))
            elif qname not in XSD_ONLY_FACETS:
                raise SchemaDefinitionError(f"{where}: facet {qname} is not supported by the loader")
    if len(pattern_levels) > 1:
        raise SchemaDefinitionError(f"{where}: patterns on more than one derivation level cannot be combined")
    if pattern_levels:
        regexps = pattern_levels[0]
        # Several xs:pattern at one level are alternatives (OR); grouping keeps each one whole.
        found["pattern"] = regexps[0] if len(regexps) == 1 else "|".join(f"({r})" for r in regexps)
    return found


def _restrictions(stype: XsdAtomicRestriction | XsdAtomicBuiltin) -> Iterator[XsdAtomicRestriction]:
    """The user-defined levels of a type's derivation chain, most derived first."""
    level: object = stype
    while isinstance(level, XsdAtomicRestriction):
        yield level
        level = level.base_type


def _named_check(stype: XsdAtomicRestriction | XsdAtomicBuiltin) -> IdentifierCheck | None:
    return _named(stype, NAMED_TYPE_CHECKS)


def _named(stype: XsdAtomicRestriction | XsdAtomicBuiltin, table: Mapping[str, T]) -> T | None:
    """What ``table`` says of the nearest named common type in the derivation chain."""
    for level in _restrictions(stype):
        if level.target_namespace == TARGET_NAMESPACE and level.local_name in table:
            return table[level.local_name]
    return None


def _label(particle: XsdElement, where: str) -> str:
    docs = [] if particle.annotation is None else particle.annotation.documentation
    texts = ["".join(d.itertext()).strip() for d in docs]
    if len(texts) != 1 or not texts[0]:
        raise SchemaDefinitionError(f"{where}: needs exactly one xs:documentation with the template header")
    return texts[0]


def _subject(info: Element, by_code: dict[str, FieldSpec], where: str) -> SubjectSpec:
    _check_attributes(info, _SUBJECT_ATTRS, f"{where} gw:subject")
    refs = {attr: info.get(attr) for attr in ("name", "kind", "uscc", "reg-no", "org-code")}
    if refs["name"] is None:
        raise SchemaDefinitionError(f"{where}: gw:subject needs name")
    _known((code for code in refs.values() if code is not None), by_code, f"{where} gw:subject")
    return SubjectSpec(
        name=refs["name"],
        kind=refs["kind"],
        uscc=refs["uscc"],
        reg_no=refs["reg-no"],
        org_code=refs["org-code"],
        natural_person_values=_alternatives(info.get("natural-person", "")),
    )


def _rules(annotation: XsdAnnotation | None, by_code: dict[str, FieldSpec], where: str) -> tuple[Rule, ...]:
    rules = tuple(_rule(info, by_code, where) for info in _meta(annotation, "rule", where))
    codes = [r.code for r in rules]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise SchemaDefinitionError(f"{where}: duplicate rule codes {duplicates}")
    return rules


def _condition(info: Element, by_code: dict[str, FieldSpec], here: str) -> Condition | None:
    """``when``/``op``/``values`` as used by gw:rule and gw:withdrawal; ``present`` takes no values."""
    when = info.get("when")
    if when is None:
        if info.get("op") is not None or info.get("values") is not None:
            raise SchemaDefinitionError(f"{here}: op and values need when")
        return None
    op = info.get("op", "")
    if op not in _RULE_OPS:
        raise SchemaDefinitionError(f"{here}: op must be one of {sorted(_RULE_OPS)}, not {op!r}")
    values = _alternatives(info.get("values", ""))
    if op == "present":
        if values:
            raise SchemaDefinitionError(f"{here}: op present takes no values")
    elif not values or (op == "equals" and len(values) != 1):
        wanted = "exactly one value" if op == "equals" else "at least one value"
        raise SchemaDefinitionError(f"{here}: op {op} needs {wanted}")
    _known([when], by_code, here)
    return Condition(field=when, op=op, values=values)  # type: ignore[arg-type]  # checked above


def _withdrawal(
    annotation: XsdAnnotation | None, by_code: dict[str, FieldSpec], where: str
) -> Condition | None:
    """At most one gw:withdrawal: rows it matches withdraw their record (operation d at the hub)."""
    found = _meta(annotation, "withdrawal", where)
    if not found:
        return None
    if len(found) > 1:
        raise SchemaDefinitionError(f"{where}: at most one gw:withdrawal")
    here = f"{where} gw:withdrawal"
    _check_attributes(found[0], _WITHDRAWAL_ATTRS, here)
    condition = _condition(found[0], by_code, here)
    if condition is None:
        raise SchemaDefinitionError(f"{here}: attribute when is required")
    return condition


def _rule(info: Element, by_code: dict[str, FieldSpec], where: str) -> Rule:
    code = _required_attr(info, "code", f"{where} gw:rule")
    here = f"{where} rule {code}"
    _check_attributes(info, _RULE_ATTRS, here)
    if not _RULE_CODE.fullmatch(code):
        raise SchemaDefinitionError(f"{here}: rule codes look like E_UPPER_CASE")
    message = "".join(info.itertext()).strip()
    if not message:
        raise SchemaDefinitionError(f"{here}: the element text is the (Chinese) error message; it is empty")

    condition = _condition(info, by_code, here)

    require = _known(_words(info.get("require", "")), by_code, here)
    require_any = _known(_words(info.get("require-any", "")), by_code, here)
    if len(require_any) == 1:
        raise SchemaDefinitionError(f"{here}: require-any names alternatives; with one field use require")
    checks: list[tuple[str, IdentifierCheck]] = []
    for item in _words(info.get("check", "")):
        target, _, check = item.partition(":")
        if check not in _CHECKS:
            raise SchemaDefinitionError(f"{here}: check {item!r} must be FIELD:one of {sorted(_CHECKS)}")
        _known([target], by_code, here)
        checks.append((target, check))  # type: ignore[arg-type]  # checked against _CHECKS above
    if not require and not require_any and not checks:
        raise SchemaDefinitionError(f"{here}: a rule needs require, require-any or check; it tests nothing")
    return Rule(
        code=code,
        message=message,
        condition=condition,
        require=require,
        require_any=require_any,
        check=tuple(checks),
    )


# -------------------------------------------------------------------------------------- appinfo helpers


def _meta(annotation: XsdAnnotation | None, local_name: str, where: str) -> list[Element]:
    """The gw:<local_name> children of an annotation's xs:appinfo blocks.

    Content in other namespaces is left alone (appinfo is open to other tools), but an unknown gw
    element is an error: a typo such as gw:rules would otherwise silently drop every rule.
    """
    if annotation is None:
        return []
    prefix = f"{{{META_NAMESPACE}}}"
    found: list[Element] = []
    for appinfo in annotation.appinfo:
        for child in appinfo:
            if not (isinstance(child.tag, str) and child.tag.startswith(prefix)):
                continue
            name = child.tag.removeprefix(prefix)
            if name not in _META_ELEMENTS:
                raise SchemaDefinitionError(f"{where}: unknown appinfo element gw:{name}")
            if name == local_name:
                found.append(child)
    return found


def _one_meta(annotation: XsdAnnotation | None, local_name: str, where: str) -> Element:
    found = _meta(annotation, local_name, where)
    if len(found) != 1:
        raise SchemaDefinitionError(f"{where}: needs exactly one gw:{local_name} in xs:appinfo")
    return found[0]


def _flag(info: Element, name: str, where: str) -> bool:
    value = info.get(name, "false")
    if value not in ("true", "false"):
        raise SchemaDefinitionError(f"{where}: {name} must be true or false, not {value!r}")
    return value == "true"


def _check_attributes(info: Element, allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(info.attrib) - allowed)
    if unknown:
        raise SchemaDefinitionError(f"{where}: unknown attributes {unknown} (allowed: {sorted(allowed)})")


def _required_attr(info: Element, name: str, where: str) -> str:
    value = (info.get(name) or "").strip()
    if not value:
        raise SchemaDefinitionError(f"{where}: attribute {name} is required")
    return value


def _known(codes: Iterable[str], by_code: dict[str, FieldSpec], where: str) -> tuple[str, ...]:
    codes = tuple(codes)
    unknown = [c for c in codes if c not in by_code]
    if unknown:
        raise SchemaDefinitionError(f"{where}: unknown field codes {unknown}")
    return codes


def _words(value: str) -> tuple[str, ...]:
    """Field-code lists are space-separated (codes never contain spaces)."""
    return tuple(value.split())


def _alternatives(value: str) -> tuple[str, ...]:
    """Value lists are "|"-separated, because Chinese values and headers may contain spaces."""
    return tuple(v.strip() for v in value.split("|") if v.strip())


def _source_name(component: XsdElement) -> str:
    url = component.schema.url or ""
    return url.rsplit("/", 1)[-1] or "<schema>"
