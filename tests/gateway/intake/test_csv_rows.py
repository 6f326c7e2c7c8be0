"""Row numbering of CSV files against an independent count by the standard library's csv module.

pyarrow skips rows whose cell count differs from the header and the reader puts them back in place;
with tiny parse blocks the skipped rows land in every position relative to block boundaries.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from gateway.intake import ReadLimits, open_source
from gateway.intake.csv_rows import _valid_numbers

WIDTH = 4


def random_record(rng: random.Random) -> str:
    kind = rng.choice(["full", "full", "full", "short", "long", "padded", "blank", "spaces", "quoted"])
    cells = [f"值{rng.randint(0, 999)}" for _ in range(WIDTH)]
    if kind == "short":
        cells = cells[: rng.randint(1, WIDTH - 1)]
    elif kind == "long":
        cells += [f"多{rng.randint(0, 9)}" for _ in range(rng.randint(1, 3))]
    elif kind == "padded":
        cells += [""] * rng.randint(1, 2)
    elif kind == "blank":
        return ""
    elif kind == "spaces":
        return " " * rng.randint(1, 3)
    elif kind == "quoted":
        cells[rng.randrange(WIDTH)] = '"第一行\n第二行, 含""引号"""'
    return ",".join(cells)


def expected_rows(text: str) -> tuple[list[tuple[int, list[str | None]]], list[int]]:
    rows: list[tuple[int, list[str | None]]] = []
    flagged: list[int] = []
    for number, record in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if number == 1 or not any(cell.strip() for cell in record):
            continue
        last = max((i + 1 for i, cell in enumerate(record) if cell.strip()), default=0)
        if last > WIDTH:
            flagged.append(number)
        cells = [(record[i] or None) if i < len(record) else None for i in range(WIDTH)]
        rows.append((number, cells))
    return rows, flagged


@pytest.mark.parametrize("seed", range(6))
def test_numbers_match_an_independent_count(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    header = ",".join(f"列{i}" for i in range(WIDTH))
    text = "\n".join([header, *(random_record(rng) for _ in range(400))]) + "\n"
    path = tmp_path / "random.csv"
    path.write_text(text, encoding="utf-8")
    with open_source(path, limits=ReadLimits(max_csv_record_bytes=128)) as source:
        table = pa.Table.from_batches(list(source.batches(37)), schema=source.schema)
        flagged = sorted({error.row for error in source.row_errors})
    rows, expected_flagged = expected_rows(text)
    assert table.column("__row__").to_pylist() == [number for number, _ in rows]
    got = [[table.column(f"c{i}")[k].as_py() for i in range(WIDTH)] for k in range(table.num_rows)]
    assert got == [cells for _, cells in rows]
    assert flagged == expected_flagged


def test_valid_numbers_skip_the_numbers_taken_by_skipped_rows() -> None:
    from collections import deque

    skipped = deque([(3, ""), (4, ""), (7, ""), (20, "")])
    numbers = _valid_numbers(5, 2, skipped)
    assert numbers.tolist() == [2, 5, 6, 8, 9]
    assert _valid_numbers(0, 2, skipped).dtype == np.int64


def test_a_row_cut_off_inside_quotes_says_so(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_text('名称,事实,金额\n甲,"有引号",1\n乙,"上传在此中断', encoding="utf-8")
    with open_source(path) as source:
        rows = pa.Table.from_batches(list(source.batches()), schema=source.schema).to_pydict()
        errors = [tuple(error) for error in source.row_errors]
    assert rows["c1"] == ["有引号", "上传在此中断"]
    assert errors == [
        (3, "第3行：引号没有闭合，这一行的内容不完整（文件可能在上传时被截断，或单元格中的引号不成对）")
    ]
