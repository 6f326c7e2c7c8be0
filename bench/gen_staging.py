"""A department's 前置库 (front-end staging database) holding any number of 行政检查行为 rows.

The table is samples/staging/make_staging.py's ``jgxw_check_action`` (the national 互联网+监管 column names),
in SQLite, filled the way the department's system writes it: in batches of 5,000 rows sharing one
``cd_time``. Subjects come from the entity pool; about 1 % of rows carry a wrong USCC check character.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pools
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from samples.staging import make_staging as staging  # noqa: E402

WRITE_ROWS = 5_000
CHUNK_ROWS = 100_000
INSPECTORS = ("王建军、李晓燕", "李晓燕、赵志刚", "赵志刚、王建军", "刘敏、孙建华")


def _chunk(start: int, rows: int, rng: np.random.Generator) -> list[tuple[object, ...]]:
    ent = pools.entities()
    idx = pa.array(pools.skewed(rng, rows, len(ent.names)))
    numbers = np.arange(start, start + rows)
    uscc = ent.usccs.take(idx)
    bad = rng.random(rows) < 0.01
    uscc = pools.choose(bad, pc.binary_join_element_wise(pc.utf8_slice_codeunits(uscc, 0, 17), "0", ""), uscc)
    name, code = staging.AMR
    days = pools.dates(first=dt.date(2024, 1, 1), days=1_000, iso_only=True)
    day = rng.integers(0, len(days), rows)
    written = [
        f"{dt.datetime(2026, 1, 1) + dt.timedelta(minutes=int(n // WRITE_ROWS)):%Y-%m-%d %H:%M:%S}"
        for n in numbers
    ]
    columns = [
        (numbers + 1).tolist(),
        [None] * rows,
        pools.pick(pa.array(list(staging.ITEM_CODES)), rng, rows).to_pylist(),
        [f"{code}1{n % 3 + 1:04d}" for n in numbers],
        pc.binary_join_element_wise("对", ent.names.take(idx), "的日常监督检查", "").to_pylist(),
        pools.numbered("忻市监检〔2026〕", numbers, "号").to_pylist(),
        [name] * rows,
        [code] * rows,
        pools.pick(pa.array(list(staging.OBJECTS)), rng, rows).to_pylist(),
        ent.names.take(idx).to_pylist(),
        pc.if_else(pc.equal(ent.kinds.take(idx), "个体工商户"), "3", "2").to_pylist(),
        ["001"] * rows,
        uscc.to_pylist(),
        pc.binary_join_element_wise(ent.names.take(idx), "经营场所", "").to_pylist(),
        [pools.DIVISIONS[n % len(pools.DIVISIONS)][0] for n in numbers],
        pools.pick(pa.array(["01", "01", "02"]), rng, rows).to_pylist(),
        pools.pick(pa.array(list(staging.CHECK_TYPES)), rng, rows).to_pylist(),
        pools.pick(pa.array(["现场检查", "书面检查"]), rng, rows).to_pylist(),
        pools.pick(pa.array(list(staging.RESULTS)), rng, rows).to_pylist(),
        days.take(pa.array(day)).to_pylist(),
        pools.pick(pa.array(list(INSPECTORS)), rng, rows).to_pylist(),
        ["14090020001、14090020002"] * rows,
        days.take(pa.array(np.minimum(day + 3, len(days) - 1))).to_pylist(),
        ["刘敏"] * rows,
        ["i"] * rows,
        [
            f"{w[:10].replace('-', '')}{int(n // WRITE_ROWS) % 100_000:05d}"
            for w, n in zip(written, numbers, strict=True)
        ],
        [f"{staging.AREA_CITY}SJ"] * rows,
        written,
    ]
    return list(zip(*columns, strict=True))


def write(path: Path, rows: int, seed: int = 20261102) -> int:
    """A fresh staging database at ``path`` with ``rows`` rows; returns the file size in bytes."""
    rng = np.random.default_rng(seed)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        table = staging.TABLE
        db.execute(f"CREATE TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in staging.COLUMNS)})")
        db.execute(f"CREATE INDEX ix_{table}_cd_time ON {table} (cd_time, cd_id)")
        marks = ", ".join("?" for _ in staging.COLUMNS)
        for start in range(0, rows, CHUNK_ROWS):
            db.executemany(
                f"INSERT INTO {table} VALUES ({marks})", _chunk(start, min(CHUNK_ROWS, rows - start), rng)
            )
    return path.stat().st_size
