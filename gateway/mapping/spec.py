"""Mapping files (mappings/*.yaml): how one source's columns become a unified record type.

A mapping is data. Two kinds exist:

* ``template: national`` — a national template (双公示 2.0 …): the accepted headers of each field are read
  from the record type's XSD (its Chinese label, its aliases and its column code), so a department that
  uses the template needs no mapping file of its own;
* a source mapping — a department's own export: each field names the header(s) it comes ``from`` or a
  constant ``value``; it applies to the inboxes listed under ``sources``.

Transforms default by field kind (``mappings/defaults.yaml``) and can be overridden per field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gateway.mapping import transforms
from gateway.mapping.units import AmountRules, StatedIn, yuan_spellings
from gateway.schema.model import FieldSpec, RecordType

DEFAULTS_FILE = "defaults.yaml"


class MappingError(ValueError):
    """A mapping file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class TransformStep:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldMapping:
    code: str
    headers: tuple[str, ...] = ()
    value: str | None = None
    transforms: tuple[TransformStep, ...] | None = None  # None: the defaults for the field's kind


@dataclass(frozen=True)
class MappingSpec:
    id: str
    label: str
    record_type: str
    template: bool
    sources: tuple[str, ...]
    fields: Mapping[str, FieldMapping]
    defaults: Mapping[str, tuple[TransformStep, ...]]
    reject_threshold: float | None
    path: Path
    pull: Mapping[str, Any] | None = None  # pulled sources: what to fetch (read by the connector of `kind`)
    amounts: AmountRules = field(default_factory=AmountRules)  # defaults.yaml, max_wanyuan of the mapping

    def field_kind(self, spec: FieldSpec) -> str:
        """Which default transform list applies: identifiers and code lists are cleaned harder than text."""
        if spec.check is not None:
            return "identifier"
        if spec.base in ("date", "decimal"):
            return spec.base
        return "code" if spec.enumeration else "string"

    def steps_for(self, spec: FieldSpec) -> tuple[TransformStep, ...]:
        mapped = self.fields.get(spec.code)
        if mapped is not None and mapped.transforms is not None:
            return mapped.transforms
        return self.defaults.get(self.field_kind(spec), ())

    def header_candidates(self, record_type: RecordType) -> dict[str, tuple[str, ...]]:
        """Target field code → the header spellings that fill it."""
        candidates: dict[str, tuple[str, ...]] = {}
        for spec in record_type.fields:
            mapped = self.fields.get(spec.code)
            if mapped is not None and mapped.value is not None:
                continue
            if mapped is not None and mapped.headers:
                candidates[spec.code] = mapped.headers
            elif self.template:
                candidates[spec.code] = (spec.label, *spec.aliases, *yuan_spellings(spec), spec.code)
        return candidates

    def constants(self) -> dict[str, str]:
        return {code: m.value for code, m in self.fields.items() if m.value is not None}


def _steps(raw: Any, where: str) -> tuple[TransformStep, ...]:
    steps = _parse_steps(raw, where)
    for step in steps:  # unknown names and bad parameters fail when the mapping loads, not mid-file
        try:
            transforms.validate_params(step.name, step.params)
        except (KeyError, ValueError) as exc:
            raise MappingError(f"{where}: transform {step.name!r}: {exc}") from exc
    return steps


def _parse_steps(raw: Any, where: str) -> tuple[TransformStep, ...]:
    if not isinstance(raw, list):
        raise MappingError(f"{where}: transforms must be a list")
    steps = []
    for item in raw:
        if isinstance(item, str):
            steps.append(TransformStep(item))
        elif isinstance(item, dict) and len(item) == 1:
            ((name, params),) = item.items()
            if params is not None and not isinstance(params, dict):
                raise MappingError(f"{where}: parameters of transform {name!r} must be a mapping")
            steps.append(TransformStep(str(name), params or {}))
        else:
            raise MappingError(f"{where}: a transform is a name or a one-key mapping, got {item!r}")
    return tuple(steps)


def _field(code: str, raw: Any, where: str) -> FieldMapping:
    if not isinstance(raw, dict):
        raise MappingError(f"{where}.{code}: expected a mapping")
    unknown = set(raw) - {"from", "value", "transforms"}
    if unknown:
        raise MappingError(f"{where}.{code}: unknown keys {sorted(unknown)}")
    source = raw.get("from", ())
    headers = (source,) if isinstance(source, str) else tuple(str(h) for h in source)
    value = raw.get("value")
    if headers and value is not None:
        raise MappingError(f"{where}.{code}: give either 'from' or 'value', not both")
    transforms = _steps(raw["transforms"], f"{where}.{code}") if "transforms" in raw else None
    return FieldMapping(code, headers, None if value is None else str(value), transforms)


PULL_KINDS = frozenset({"rest_api", "sql_staging", "xml_feed"})


def _pull(raw: Any, where: str) -> Mapping[str, Any] | None:
    """The `pull:` block of a pulled source: its kind and the Airflow connection that holds its address and
    secrets; everything else in the block belongs to the connector of that kind."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("kind") not in PULL_KINDS or not raw.get("connection"):
        raise MappingError(f"{where}: pull needs kind (one of {sorted(PULL_KINDS)}) and connection")
    return dict(raw)


def load_defaults(mappings_dir: Path) -> dict[str, tuple[TransformStep, ...]]:
    path = mappings_dir / DEFAULTS_FILE
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {kind: _steps(steps, f"{path.name}:{kind}") for kind, steps in raw.get("transforms", {}).items()}


def load_amount_rules(mappings_dir: Path) -> AmountRules:
    """The ``amounts`` block of defaults.yaml: the plausibility bound of 万元 amounts and where a record's
    text states an amount in 元 (gateway/mapping/units.py)."""
    path = mappings_dir / DEFAULTS_FILE
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("amounts")
    where = f"{path.name}: amounts"
    if not raw:
        return AmountRules()
    if not isinstance(raw, dict) or set(raw) - {"max_wanyuan", "stated_in"}:
        raise MappingError(f"{where} takes max_wanyuan and stated_in")
    stated: dict[str, dict[str, StatedIn]] = {}
    for rtype, entries in (raw.get("stated_in") or {}).items():
        for code, entry in (entries or {}).items():
            if not isinstance(entry, dict) or set(entry) != {"field", "words"}:
                raise MappingError(f"{where}.stated_in.{rtype}.{code} needs field and words")
            stated.setdefault(str(rtype), {})[str(code)] = StatedIn(str(entry["field"]), str(entry["words"]))
    return AmountRules(_bound(raw.get("max_wanyuan"), f"{where}.max_wanyuan"), stated)


def _bound(value: object, where: str) -> Decimal | None:
    if value is None:
        return None
    try:
        bound = Decimal(str(value))
    except InvalidOperation as exc:
        raise MappingError(f"{where}: not a number: {value!r}") from exc
    if not bound > 0:
        raise MappingError(f"{where}: must be a positive number")
    return bound


def load_mapping(
    path: Path, defaults: Mapping[str, tuple[TransformStep, ...]], amounts: AmountRules | None = None
) -> MappingSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise MappingError(f"{path.name}: expected a mapping at the top level")
    for key in ("id", "record_type"):
        if key not in raw:
            raise MappingError(f"{path.name}: missing required key {key!r}")
    where = path.name
    merged = dict(defaults)
    merged.update({k: _steps(v, f"{where}:defaults.{k}") for k, v in (raw.get("defaults") or {}).items()})
    fields = {
        str(code): _field(str(code), value, f"{where}:fields")
        for code, value in (raw.get("fields") or {}).items()
    }
    template = raw.get("template") == "national"
    sources = tuple(str(s) for s in raw.get("sources") or ())
    if not template and not sources:
        raise MappingError(f"{where}: a source mapping must list the inboxes it applies to under 'sources'")
    threshold = raw.get("reject_threshold")
    amounts = amounts or AmountRules()
    if "max_wanyuan" in raw:  # a department whose fines are large may raise the plausibility bound
        amounts = replace(amounts, max_wanyuan=_bound(raw["max_wanyuan"], f"{where}: max_wanyuan"))
    return MappingSpec(
        id=str(raw["id"]),
        label=str(raw.get("label", raw["id"])),
        record_type=str(raw["record_type"]),
        template=template,
        sources=sources,
        fields=fields,
        defaults=merged,
        reject_threshold=None if threshold is None else float(threshold),
        path=path,
        pull=_pull(raw.get("pull"), where),
        amounts=amounts,
    )


def load_mappings(mappings_dir: Path) -> dict[str, MappingSpec]:
    return dict(_load_cached(mappings_dir.resolve(), _fingerprint(mappings_dir)))


def _fingerprint(mappings_dir: Path) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((p.name, p.stat().st_mtime) for p in mappings_dir.glob("*.yaml")))


@cache
def _load_cached(
    mappings_dir: Path, _fingerprint: tuple[tuple[str, float], ...]
) -> tuple[tuple[str, MappingSpec], ...]:
    defaults = load_defaults(mappings_dir)
    amounts = load_amount_rules(mappings_dir)
    specs: dict[str, MappingSpec] = {}
    for path in sorted(mappings_dir.glob("*.yaml")):
        if path.name == DEFAULTS_FILE:
            continue
        spec = load_mapping(path, defaults, amounts)
        if spec.id in specs:
            raise MappingError(f"{path.name}: mapping id {spec.id!r} also used by {specs[spec.id].path.name}")
        specs[spec.id] = spec
    return tuple(specs.items())


def check_against(spec: MappingSpec, record_type: RecordType) -> None:
    """Fail loudly when a mapping names a field the record type does not have (a typo would drop data)."""
    unknown = [code for code in spec.fields if code not in record_type.codes]
    if unknown:
        raise MappingError(f"{spec.path.name}: fields not in record type {record_type.name}: {unknown}")


def for_source(specs: Mapping[str, MappingSpec], source: str | None) -> Sequence[MappingSpec]:
    """The mappings to try for a file from ``source``: its own first, then every national template."""
    own = [s for s in specs.values() if source is not None and source in s.sources]
    national = [s for s in specs.values() if s.template]
    return [*own, *national]


def choose_specs(
    specs: Mapping[str, MappingSpec], department: str, mapping_id: str | None
) -> tuple[Mapping[str, MappingSpec], str | None]:
    """The mappings a file may be read with, and the source to rank them for: the one asked for
    (``gateway check --source``), else the department's own and the national templates (for_source)."""
    if mapping_id is None:
        return specs, department
    if mapping_id not in specs:
        raise MappingError(f"未知的映射 {mapping_id}；可用：{'、'.join(sorted(specs))}")
    chosen = specs[mapping_id]
    return {mapping_id: chosen}, (chosen.sources[0] if chosen.sources else None)
