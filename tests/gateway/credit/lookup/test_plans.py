"""The lookup statement reaches every table through an index (SQLite's plan: no SCAN), whatever the code kind.

SQLite's planner has no statistics here, exactly as in a freshly migrated store, which is when a wrong choice
(the (record_type, natural_key) index, or the objections' state index) would slip in; PostgreSQL's plan on a
handful of test rows says nothing about a city's, so the PostgreSQL side is measured by bench/lookup.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.credit.lookup.standing import LOOKUP
from gateway.store.db import engine_for, migrate

EXPECTED = {
    "e": ("sqlite_autoindex_entity_1", "INTEGER PRIMARY KEY"),  # by USCC, or by the ids the subquery found
    "entity": ("ix_entity_reg_no", "ix_entity_org_code"),  # the subquery of the legacy codes
    "r": ("ix_record_entity_id",),
    "v": ("sqlite_autoindex_record_version_1",),
    "f": ("INTEGER PRIMARY KEY",),
    "p": ("INTEGER PRIMARY KEY",),
    "o": ("ix_credit_objection_record_id",),
    "c": ("sqlite_autoindex_credit_class_1",),
}


@pytest.mark.parametrize("kind", sorted(LOOKUP))
def test_every_table_is_reached_through_an_index(tmp_path: Path, kind: str) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    migrate(url)
    engine_for(url).dispose()
    with sqlite3.connect(tmp_path / "plan.db") as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + LOOKUP[kind], (1, "X"))]
    scans = [step for step in plan if step.startswith("SCAN") and "TEMP B-TREE" not in step]
    assert scans == [], plan
    searched = {step.split()[1]: step for step in plan if step.startswith("SEARCH")}
    for alias in ("e", "r", "v", "f", "p", "o", "c") + (("entity",) if kind != "uscc" else ()):
        assert any(index in searched[alias] for index in EXPECTED[alias]), (alias, plan)
