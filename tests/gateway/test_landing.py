"""Pulled sources: land, advance the cursor, process — and the crash windows between those steps."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from gateway.landing import land_pull, pending_units, process_landed, process_pending, read_cursor
from gateway.settings import REPO_ROOT, Settings
from gateway.store.db import engine_for
from gateway.store.tables import record

MAPPING = """
id: test_api_penalty
label: 测试接口
record_type: admin_penalty
sources: [test_api]
reject_threshold: 0.5
fields:
  CF_XDR_MC: {from: entName}
  CF_XDR_LB: {value: 法人及非法人组织}
  CF_XDR_SHXYM: {from: uniscid}
  CF_FRDB: {from: legalPerson}
  CF_WSH: {from: docNo}
  CF_WFXW: {value: 违法行为}
  CF_SY: {value: 违法事实}
  CF_YJ: {value: 处罚依据}
  CF_CFLB: {value: 警告}
  CF_NR: {value: 警告}
  CF_JDRQ: {from: decisionDate}
  CF_YXQ: {value: "2027-12-31"}
  CF_CFJG: {value: 忻州市市场监督管理局}
  CF_CFJGDM: {value: 11140900MB1950016E}
  CF_SJLY: {value: 忻州市市场监督管理局}
  CF_SJLYDM: {value: 11140900MB1950016E}
"""
HEADERS = ["entName", "uniscid", "legalPerson", "docNo", "decisionDate"]


@dataclass
class FakePull:
    rows: list[list[str | None]]
    cursor_from: str | None
    final_cursor: str | None
    source_id: str = "test_api"
    kind: str = "api"
    headers: list[str] = field(default_factory=lambda: list(HEADERS))
    cursor_to: str | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.rows:
            columns = {f"c{i}": pa.array([r[i] for r in self.rows], pa.string()) for i in range(len(HEADERS))}
            columns["__row__"] = pa.array(range(1, len(self.rows) + 1), pa.int64())
            yield pa.RecordBatch.from_pydict(columns)
        self.cursor_to = self.final_cursor


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO_ROOT / "mappings", mappings)
    (mappings / "test_api_penalty.yaml").write_text(MAPPING, encoding="utf-8")
    return settings.with_overrides(mappings_dir=mappings)


def row(n: int, uscc: str = "91140902MA0K2B3C30") -> list[str | None]:
    return ["忻州市晋北商贸有限公司", uscc, "王建国", f"忻市监罚〔2026〕{n}号", "2026-10-08T09:00:00"]


def count(settings: Settings) -> int:
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(record)).scalar_one()


def test_land_then_process(api_settings: Settings) -> None:
    unit = land_pull(
        api_settings, FakePull([row(1), row(2), row(3, uscc="bad")], None, "2026-10-08T09:00:00")
    )
    assert unit is not None and unit.rows == 3
    assert read_cursor(api_settings, "test_api") == "2026-10-08T09:00:00"
    assert pending_units(api_settings) == [unit.id]
    result = process_landed(api_settings, unit.id)
    assert (result.receipt.accepted, result.receipt.rejected) == (2, 1)
    assert result.receipt.errors[0]["field"] == "uniscid"  # the source's own name for the column
    assert pending_units(api_settings) == []
    assert count(api_settings) == 2


def test_crash_after_landing_is_processed_next_run_without_a_repull(api_settings: Settings) -> None:
    land_pull(api_settings, FakePull([row(1)], None, "c1"))  # …the process died here
    second = land_pull(api_settings, FakePull([row(2)], "c1", "c2"))  # next run pulls only what is new
    assert second is not None and second.cursor_from == "c1"
    results = process_pending(api_settings)
    assert [r.receipt.accepted for r in results] == [1, 1]
    assert count(api_settings) == 2


def test_an_empty_pull_lands_nothing(api_settings: Settings) -> None:
    assert land_pull(api_settings, FakePull([], "c1", "c1")) is None
    assert pending_units(api_settings) == []
    assert not list((api_settings.landing_dir / "test_api").glob("*.parquet*"))
