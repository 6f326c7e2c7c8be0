"""The risk model file: the shipped default loads, and a model that could not be computed is refused with
the file, the entry and the key named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.credit.risk.model import ModelError, load_model
from gateway.schema import load_record_types
from gateway.settings import CREDIT_DEFAULTS

ROOT = Path(__file__).resolve().parents[4]
DEFAULT = CREDIT_DEFAULTS / "risk_model.yaml"


@pytest.fixture(scope="module")
def record_types():  # type: ignore[no-untyped-def]
    return load_record_types(ROOT / "schemas")


def test_the_default_model_has_the_five_dimensions_and_the_two_vetoes(record_types) -> None:  # type: ignore[no-untyped-def]
    model = load_model(DEFAULT, record_types)
    assert [d.label for d in model.dimensions] == [
        "企业基础属性信息",
        "企业动态信息",
        "监管信息",
        "关联关系信息",
        "社会评价信息",
    ]
    assert sum(d.weight for d in model.dimensions) == 100
    assert [(v.record_type, v.cls) for v in model.vetoes] == [
        ("serious_dishonesty", "D"),
        ("dishonest_debtor", "C"),
    ]
    assert model.uscc_prefixes == ("91",)
    assert len(model.sha256) == 64


def _broken(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "risk_model.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["indicators"][0].update(dimension="money"),
            "indicators[1] (newly_established): unknown dimension 'money'",
        ),
        (
            lambda d: d["indicators"][6].update(date_field="CF_WHEN"),
            "(penalties): 'date_field': admin_penalty has no field 'CF_WHEN'",
        ),
        (
            lambda d: d["indicators"][6].update(record_type="fines"),
            "(penalties): unknown record_type 'fines'",
        ),
        (lambda d: d["indicators"][6].update(kind="guess"), "(penalties): unknown kind 'guess'"),
        (
            lambda d: d["indicators"][6].update(points=-1),
            "(penalties): 'points' must be a number of 0 or more",
        ),
        (lambda d: d["indicators"][6].pop("cap"), "(penalties): 'cap' is required"),
        (lambda d: d["classes"].reverse(), "classes: the classes must be A, B, C, D, best first"),
        (lambda d: d["classes"][1].update(min=95), "classes: each class needs a lower min"),
        (lambda d: d["vetoes"][0].update({"class": "E"}), "vetoes[1]: 'class' must be one of A, B, C, D"),
        (lambda d: d.update(scope={}), "scope: 'uscc_prefixes' is required"),
    ],
)
def test_a_broken_model_is_refused_saying_where(tmp_path: Path, record_types, change, message) -> None:  # type: ignore[no-untyped-def]
    path = _broken(tmp_path, change)
    with pytest.raises(ModelError) as caught:
        load_model(path, record_types)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path, record_types) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "risk_model.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot read the risk model"):
        load_model(path, record_types)
