"""A national-template 行政许可 export as XLSX (双公示 2.0, 28 columns), as a department saves it from Excel.

Written with openpyxl's write-only mode (rows streamed to the sheet's XML, constant memory); a sheet holds
at most 1,048,576 rows, so larger requests are refused. Subjects come from the entity pool with the same
long tail as the penalty export; about 1 % of rows are bad (a wrong USCC check character or a missing
许可内容). Cells are built as Arrow columns and handed to openpyxl row by row, which is what bounds the
writing speed (about 20,000 rows a second).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pools
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook

HEADERS = pools.LICENCE_HEADERS
MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
LICENCES = (
    (
        "食品经营许可决定书",
        "食品经营许可证",
        "JY",
        "预包装食品（含冷藏冷冻食品）销售，散装食品销售，热食类食品制售",
    ),
    ("道路运输经营许可决定书", "道路运输经营许可证", "晋交运管许可忻字", "道路普通货物运输"),
    ("药品经营许可决定书", "药品经营许可证", "晋CB", "中成药、化学药制剂、抗生素制剂、生化药品"),
    ("取水许可决定书", "取水许可证", "取水（晋忻）字", "取水量每年5万立方米，用于工业生产"),
    ("烟草专卖零售许可决定书", "烟草专卖零售许可证", "1409", "卷烟、雪茄烟零售"),
)
CHUNK_ROWS = 50_000


def _chunk(start: int, rows: int, rng: np.random.Generator) -> list[list[object]]:
    ent = pools.entities()
    idx = pa.array(pools.skewed(rng, rows, len(ent.names)))
    kind = rng.integers(0, len(LICENCES), rows)
    kinds = pa.array(kind)
    numbers = np.arange(start, start + rows)
    authority = pa.array(rng.integers(0, len(pools.AUTHORITIES), rows))
    decided = pools.pick(pools.dates(iso_only=True), rng, rows)
    until = pools.pick(pools.dates(first=dt.date(2027, 1, 1), days=1_800, iso_only=True), rng, rows)
    uscc = ent.usccs.take(idx)
    bad = rng.random(rows)
    uscc = pools.choose(
        bad < 0.005, pc.binary_join_element_wise(pc.utf8_slice_codeunits(uscc, 0, 17), "0", ""), uscc
    )
    content = pools.nulls_where((bad >= 0.005) & (bad < 0.01), pa.array([k[3] for k in LICENCES]).take(kinds))
    columns = [
        ent.names.take(idx),
        ent.kinds.take(idx),
        uscc,
        None,
        None,
        None,
        None,
        None,
        ent.representatives.take(idx),
        None,
        None,
        None,
        None,
        pa.array([k[0] for k in LICENCES]).take(kinds),
        pools.numbered("忻审管许〔2026〕", numbers, "号"),
        pools.pick(pa.array(["普通", "特许", "认可", "核准", "登记"]), rng, rows),
        pa.array([k[1] for k in LICENCES]).take(kinds),
        pc.binary_join_element_wise(
            pa.array([k[2] for k in LICENCES]).take(kinds),
            pa.array(numbers + 14_090_000_000).cast(pa.string()),
            "",
        ),
        content,
        decided,
        decided,
        until,
        pools.AUTHORITY_NAMES.take(authority),
        pools.AUTHORITY_CODES.take(authority),
        pools.pick(pa.array(["1", "1", "1", "2"]), rng, rows),
        pools.AUTHORITY_NAMES.take(authority),
        pools.AUTHORITY_CODES.take(authority),
        None,
    ]
    lists = [column.to_pylist() if column is not None else [None] * rows for column in columns]
    return [list(row) for row in zip(*lists, strict=True)]


def write(path: Path, rows: int, seed: int = 20261015) -> int:
    """Write ``rows`` data rows after the header; returns the file size in bytes."""
    if rows > MAX_ROWS:
        raise ValueError(f"an XLSX sheet holds at most {MAX_ROWS} data rows, not {rows}")
    rng = np.random.default_rng(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("行政许可")
    sheet.append(list(HEADERS))
    for start in range(0, rows, CHUNK_ROWS):
        for row in _chunk(start, min(CHUNK_ROWS, rows - start), rng):
            sheet.append(row)
    book.save(path)
    return path.stat().st_size
