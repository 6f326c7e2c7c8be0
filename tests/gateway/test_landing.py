"""Pulled sources: land, advance the cursor, process — and the crash windows between those steps."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from gateway.landing import land_pull, pending_units, process_landed, process_pending, read_cursor
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record
from tests.paths import REPO_ROOT

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


def landed_files(settings: Settings) -> list[Path]:
    return sorted((settings.landing_dir / "test_api").glob("*"))


def test_the_same_rows_as_the_latest_unit_are_nothing_new_however_often(api_settings: Settings) -> None:
    """A full pull of a source that has not changed (or a re-read at an inclusive cursor that the connector
    could not tell apart) brings the rows of the latest unit again: no unit, no file, no error."""
    first = land_pull(api_settings, FakePull([row(1), row(2)], None, "c1"))
    assert first is not None
    process_landed(api_settings, first.id)
    for _ in range(10):
        assert land_pull(api_settings, FakePull([row(1), row(2)], "c1", "c1")) is None
    assert read_cursor(api_settings, "test_api") == "c1"
    assert landed_files(api_settings) == [first.path]
    assert pending_units(api_settings) == []
    # The same rows with the cursor moved on (the connector knows they reach further): the cursor moves.
    assert land_pull(api_settings, FakePull([row(1), row(2)], "c1", "c2")) is None
    assert read_cursor(api_settings, "test_api") == "c2"


def test_the_rows_of_an_older_unit_land_again(api_settings: Settings) -> None:
    """The last export rewritten A → B → A → B: each state must reach the store, so each lands."""
    states = ([row(1)], [row(1, uscc="91140902MA0K2B3C49")])
    units = []
    for n in range(4):
        unit = land_pull(api_settings, FakePull(states[n % 2], f"c{n}", f"c{n + 1}"))
        assert unit is not None
        process_landed(api_settings, unit.id)
        units.append(unit)
    assert units[0].sha256 == units[2].sha256 and units[1].sha256 == units[3].sha256
    assert len(landed_files(api_settings)) == 4


def test_the_rows_of_a_rejected_latest_unit_are_looked_at_afresh(api_settings: Settings) -> None:
    bad = [row(1, uscc="bad"), row(2, uscc="bad")]
    first = land_pull(api_settings, FakePull(bad, None, None))
    assert first is not None and process_landed(api_settings, first.id).receipt.status == "rejected"
    again = land_pull(api_settings, FakePull(bad, None, None))
    assert again is not None and again.id != first.id


def test_a_failed_commit_leaves_no_file_and_keeps_the_cursor(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.landing as landing

    def broken(*_: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(landing, "_set_cursor", broken)
    with pytest.raises(RuntimeError, match="went away"):
        land_pull(api_settings, FakePull([row(1)], None, "c1"))
    assert landed_files(api_settings) == []
    assert read_cursor(api_settings, "test_api") is None and pending_units(api_settings) == []


def test_leftovers_of_a_killed_pull_are_swept_once_stale(api_settings: Settings) -> None:
    import os
    import time

    from gateway.landing import STALE_AFTER, sweep_landing

    unit = land_pull(api_settings, FakePull([row(1)], None, "c1"))
    assert unit is not None
    folder = api_settings.landing_dir / "test_api"
    half, unrecorded, fresh = folder / "x.parquet.tmp", folder / "y.parquet", folder / "z.parquet"
    for path in (half, unrecorded, fresh):
        path.write_bytes(b"PAR1")
    old = time.time() - STALE_AFTER.total_seconds() - 60
    for path in (half, unrecorded, unit.path):
        os.utime(path, (old, old))
    assert sorted(sweep_landing(api_settings, "test_api")) == sorted([half, unrecorded])
    assert landed_files(api_settings) == sorted([unit.path, fresh])


def test_a_landed_unit_is_owner_only_whatever_the_umask(api_settings: Settings) -> None:
    previous = os.umask(0)  # a worker started without a umask would otherwise write 0666 files
    try:
        unit = land_pull(api_settings, FakePull([row(n) for n in range(1, 4)], None, "c1"))
    finally:
        os.umask(previous)
    assert unit is not None
    assert stat.S_IMODE(unit.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(unit.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in unit.path.parent.iterdir()] == [unit.path.name]  # no temporary left
    result = process_landed(api_settings, unit.id)
    assert (result.receipt.status, result.receipt.new) == ("accepted", 3)
