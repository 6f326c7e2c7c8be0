"""A unit's raw rows land once, owner-only, under their final name only when kept — and a landing that was
not kept, or whose recording failed after it was kept, leaves nothing behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.parquet_landing import ParquetLanding, landing_name

BATCH = pa.record_batch({"c0": ["甲", "乙"], "__row__": pa.array([2, 3], pa.int64())})


def test_a_kept_landing_holds_every_batch_and_is_owner_only(tmp_path: Path) -> None:
    final = tmp_path / "landing" / "xz_amr" / landing_name("a" * 64, "行政处罚")
    old = os.umask(0o022)
    try:
        with ParquetLanding(final) as landing:
            landing.write(BATCH)
            landing.write(BATCH)
            assert not final.exists()  # complete only once kept
            assert landing.keep() == final
    finally:
        os.umask(old)
    assert pq.read_table(final).column("c0").to_pylist() == ["甲", "乙", "甲", "乙"]
    assert stat.S_IMODE(final.stat().st_mode) == 0o600
    assert stat.S_IMODE(final.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]
    assert final.name.startswith("a" * 64 + "-") and "行政" not in final.name


def test_a_landing_not_kept_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "unit.parquet"
    with ParquetLanding(final, BATCH.schema) as landing:
        landing.write(BATCH)
        assert landing.finish(fsync=True).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failure_after_keep_takes_the_kept_file_away(tmp_path: Path) -> None:
    """The transaction that was to record the file failed: a file no row points at is not kept."""
    final = tmp_path / "unit.parquet"
    with pytest.raises(RuntimeError, match="commit"), ParquetLanding(final) as landing:
        landing.write(BATCH)
        landing.keep()
        raise RuntimeError("commit failed")
    assert list(tmp_path.iterdir()) == []


def test_nothing_written_is_nothing_to_keep(tmp_path: Path) -> None:
    landing = ParquetLanding(tmp_path / "u.parquet")
    with pytest.raises(ValueError, match="nothing was written"), landing:
        landing.keep()
    assert list(tmp_path.iterdir()) == []
