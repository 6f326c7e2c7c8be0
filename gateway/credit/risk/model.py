"""The risk model (config/risk_model.yaml) as typed values, checked when it is loaded.

A model is data the city sets, not code: dimensions with weights, indicators of a small closed set of kinds
(each a vectorised computation in gateway.credit.risk.indicators), class thresholds and veto rules. Loading
refuses a model that could not be computed — an unknown dimension, kind or record type, a field code the
record type does not have — naming the file, the entry and the key, so a mistake shows when the model is
changed and not as a strange class a month later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml

from gateway.schema.model import RecordType

MODEL_FILE = "risk_model.yaml"
CLASSES = ("A", "B", "C", "D")  # best to worst: 信用风险低 / 一般 / 较高 / 高
Kind = Literal["records", "expired", "changes", "related"]
KINDS: tuple[Kind, ...] = ("records", "expired", "changes", "related")


class ModelError(ValueError):
    """The model file cannot be used; the message names the file, the entry and the key."""


@dataclass(frozen=True)
class Where:
    """Count only records whose ``field`` contains one of ``contains_any`` (a substring test)."""

    field: str
    contains_any: tuple[str, ...]


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    dimension: str
    kind: Kind
    record_type: str
    points: float
    cap: float
    date_field: str | None = None
    window_days: int | None = None  # only records dated within this many days before as_of count
    half_life_days: float | None = None  # None: no time decay
    where: Where | None = None
    via_field: str | None = (
        None  # related: the field of record_type that links entities (legal representative)
    )
    bad_record_types: tuple[str, ...] = ()  # related: what makes a linked entity bad
    code: int = 0  # its position in the model: how evidence rows name it (gateway.credit.risk.indicators)


@dataclass(frozen=True)
class Dimension:
    id: str
    label: str
    weight: float


@dataclass(frozen=True)
class Threshold:
    cls: str
    label: str
    min: float


@dataclass(frozen=True)
class Veto:
    id: str
    label: str
    record_type: str
    cls: str  # the class is at least this bad


@dataclass(frozen=True)
class RiskModel:
    id: str
    version: str
    label: str
    uscc_prefixes: tuple[str, ...]
    dimensions: tuple[Dimension, ...]
    indicators: tuple[Indicator, ...]
    classes: tuple[Threshold, ...]
    vetoes: tuple[Veto, ...]
    text: str = field(repr=False)  # the YAML as read: stored with each run (credit_model)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def dimension(self, dimension_id: str) -> Dimension:
        return next(d for d in self.dimensions if d.id == dimension_id)

    def evidence_names(self) -> list[str]:
        """What each evidence code stands for: the indicators' ids, then ``veto:<id>`` for each veto."""
        return [i.id for i in self.indicators] + [f"veto:{v.id}" for v in self.vetoes]

    def record_types(self) -> set[str]:
        used = {i.record_type for i in self.indicators} | {v.record_type for v in self.vetoes}
        return used | {t for i in self.indicators for t in i.bad_record_types}


def load_model(path: Path, record_types: Mapping[str, RecordType]) -> RiskModel:
    """Read and check a model file against the gateway's record types."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"{path}: cannot read the risk model: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(
            f"{path}: a risk model is a mapping with id, dimensions, indicators, classes, vetoes"
        )
    return _Reader(path, record_types).model(data, text)


class _Reader:
    def __init__(self, path: Path, record_types: Mapping[str, RecordType]) -> None:
        self.path = path
        self.record_types = record_types

    def fail(self, where: str, reason: str) -> ModelError:
        return ModelError(f"{self.path}: {where}: {reason}")

    def need(self, entry: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in entry or entry[key] in (None, ""):
            raise self.fail(where, f"'{key}' is required")
        return entry[key]

    def number(
        self, entry: Mapping[str, Any], key: str, where: str, *, required: bool = True
    ) -> float | None:
        if key not in entry and not required:
            return None
        value = self.need(entry, key, where)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(where, f"'{key}' must be a number of 0 or more, not {value!r}")
        return float(value)

    def record_type(self, name: str, where: str) -> RecordType:
        if name not in self.record_types:
            known = ", ".join(sorted(self.record_types))
            raise self.fail(where, f"unknown record_type '{name}' (known: {known})")
        return self.record_types[name]

    def field_of(self, rtype: RecordType, code: str, where: str, key: str) -> str:
        if code not in rtype.codes:
            raise self.fail(where, f"'{key}': {rtype.name} has no field '{code}'")
        return code

    def model(self, data: Mapping[str, Any], text: str) -> RiskModel:
        dimensions = tuple(
            self.dimension(k, v) for k, v in (self.need(data, "dimensions", "model") or {}).items()
        )
        known = {d.id for d in dimensions}
        indicators = tuple(
            self.indicator(entry, n, known, position=n - 1)
            for n, entry in enumerate(self.need(data, "indicators", "model"), 1)
        )
        ids = [i.id for i in indicators]
        if len(ids) != len(set(ids)):
            raise self.fail(
                "indicators", f"indicator ids must be unique: {sorted(i for i in ids if ids.count(i) > 1)}"
            )
        classes = tuple(
            self.threshold(entry, n) for n, entry in enumerate(self.need(data, "classes", "model"), 1)
        )
        if [c.cls for c in classes] != list(CLASSES):
            raise self.fail("classes", f"the classes must be {', '.join(CLASSES)}, best first")
        if any(a.min <= b.min for a, b in pairwise(classes)) or classes[-1].min != 0:
            raise self.fail("classes", "each class needs a lower min than the one before, and D needs min 0")
        vetoes = tuple(self.veto(entry, n) for n, entry in enumerate(data.get("vetoes") or [], 1))
        scope = data.get("scope") or {}
        prefixes = tuple(str(p) for p in scope.get("uscc_prefixes") or ())
        if not prefixes:
            raise self.fail("scope", "'uscc_prefixes' is required (e.g. ['91'] for enterprises and branches)")
        return RiskModel(
            id=str(self.need(data, "id", "model")),
            version=str(self.need(data, "version", "model")),
            label=str(data.get("label") or data["id"]),
            uscc_prefixes=prefixes,
            dimensions=dimensions,
            indicators=indicators,
            classes=classes,
            vetoes=vetoes,
            text=text,
        )

    def dimension(self, key: str, entry: Any) -> Dimension:
        where = f"dimensions.{key}"
        if not isinstance(entry, dict):
            raise self.fail(where, "a dimension is a mapping with label and weight")
        return Dimension(str(key), str(entry.get("label") or key), self.number(entry, "weight", where) or 0.0)

    def indicator(self, entry: Any, n: int, dimensions: set[str], *, position: int) -> Indicator:
        where = f"indicators[{n}]"
        if not isinstance(entry, dict):
            raise self.fail(where, "an indicator is a mapping")
        ident = str(self.need(entry, "id", where))
        where = f"indicators[{n}] ({ident})"
        dimension = str(self.need(entry, "dimension", where))
        if dimension not in dimensions:
            raise self.fail(
                where, f"unknown dimension '{dimension}' (known: {', '.join(sorted(dimensions))})"
            )
        kind = self.need(entry, "kind", where)
        if kind not in KINDS:
            raise self.fail(where, f"unknown kind '{kind}' (known: {', '.join(KINDS)})")
        rtype = self.record_type(str(self.need(entry, "record_type", where)), where)
        date_field = entry.get("date_field")
        if date_field is not None:
            self.field_of(rtype, str(date_field), where, "date_field")
        if kind == "expired" and date_field is None:
            raise self.fail(where, "an 'expired' indicator needs the date_field that holds the expiry date")
        window = self.number(entry, "window_days", where, required=False)
        half_life = self.number(entry, "half_life_days", where, required=False)
        if (window is not None or half_life is not None) and date_field is None and kind != "changes":
            raise self.fail(where, "window_days and half_life_days need a date_field to count the age from")
        if half_life == 0:
            raise self.fail(where, "'half_life_days' must be more than 0")
        where_clause = None
        if entry.get("where") is not None:
            clause = entry["where"]
            if not isinstance(clause, dict) or not clause.get("contains_any"):
                raise self.fail(where, "'where' needs field and contains_any (a list of texts)")
            code = self.field_of(rtype, str(self.need(clause, "field", where)), where, "where.field")
            where_clause = Where(code, tuple(str(t) for t in clause["contains_any"]))
        via_field = None
        bad: tuple[str, ...] = ()
        if kind == "related":
            via_field = self.field_of(rtype, str(self.need(entry, "via", where)), where, "via")
            bad = tuple(str(t) for t in self.need(entry, "bad_record_types", where))
            for name in bad:
                self.record_type(name, where)
        return Indicator(
            id=ident,
            label=str(entry.get("label") or ident),
            dimension=dimension,
            kind=kind,
            record_type=rtype.name,
            points=self.number(entry, "points", where) or 0.0,
            cap=self.number(entry, "cap", where) or 0.0,
            date_field=str(date_field) if date_field is not None else None,
            window_days=int(window) if window is not None else None,
            half_life_days=half_life,
            where=where_clause,
            via_field=via_field,
            bad_record_types=bad,
            code=position,
        )

    def threshold(self, entry: Any, n: int) -> Threshold:
        where = f"classes[{n}]"
        if not isinstance(entry, dict):
            raise self.fail(where, "a class is a mapping with class, label and min")
        return Threshold(
            str(self.need(entry, "class", where)),
            str(entry.get("label") or ""),
            self.number(entry, "min", where) or 0.0,
        )

    def veto(self, entry: Any, n: int) -> Veto:
        where = f"vetoes[{n}]"
        if not isinstance(entry, dict):
            raise self.fail(where, "a veto is a mapping with id, record_type and class")
        ident = str(self.need(entry, "id", where))
        cls = str(self.need(entry, "class", where))
        if cls not in CLASSES:
            raise self.fail(where, f"'class' must be one of {', '.join(CLASSES)}, not {cls!r}")
        rtype = self.record_type(str(self.need(entry, "record_type", where)), where)
        return Veto(ident, str(entry.get("label") or ident), rtype.name, cls)
