"""The template headers the samples, generators and tests share are the ones the gateway recognises."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import samples.national_templates
from gateway.mapping.engine import plan_for
from gateway.mapping.spec import load_mappings
from gateway.schema import load_record_types
from samples.national_templates import LICENCE_HEADERS, PENALTY_HEADERS, only


@pytest.mark.parametrize(
    ("headers", "mapping"),
    [(PENALTY_HEADERS, "national_admin_penalty"), (LICENCE_HEADERS, "national_admin_license")],
)
def test_every_template_header_is_taken_by_its_national_mapping(
    headers: tuple[str, ...], mapping: str, schemas_dir: Path, mappings_dir: Path
) -> None:
    plan = plan_for(list(headers), load_mappings(mappings_dir), load_record_types(schemas_dir))
    assert plan.spec.id == mapping
    assert plan.ignored == ()


def test_only_refuses_a_column_the_template_does_not_have() -> None:
    with pytest.raises(ValueError, match="处罚金额"):
        only(PENALTY_HEADERS, without=["处罚金额"])


def test_doctests() -> None:
    assert doctest.testmod(samples.national_templates, raise_on_error=True).attempted == 2
