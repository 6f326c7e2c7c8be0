"""Throughput of USCC checks: the Arrow/numpy column check vs a Python loop vs python-stdnum.

Run: ``.venv/bin/python bench/bench_ids.py [--rows 1000000]``. Generates the codes with numpy (half
valid; the rest with a wrong check character, an illegal letter or a wrong length), checks them three
ways, prints rows per second and confirms all three agree on how many are valid. The column check
includes compaction (NFKC etc.), as in the pipeline; building the Arrow array is not timed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
from stdnum.cn import uscc as stdnum_uscc

from gateway.ids import columns, uscc


def generate(rows: int, seed: int) -> list[str]:
    """``rows`` codes: 50 % valid, 25 % wrong check, 12.5 % illegal letter, 12.5 % one character short."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, len(uscc.ALPHABET), size=(rows, uscc.LENGTH), dtype=np.int64)
    values[:, 0] = 9  # enterprises, like most real data; also keeps stdnum's digit-only rule satisfied
    values[:, 1] = rng.integers(1, 4, size=rows)
    values[:, 2:8] = rng.integers(0, 10, size=(rows, 6))
    values[:, -1] = (31 - (values[:, :-1] @ np.array(uscc.WEIGHTS)) % 31) % 31
    kind = rng.integers(0, 8, size=rows)
    wrong_check = (kind == 4) | (kind == 5)
    values[wrong_check, -1] = (values[wrong_check, -1] + rng.integers(1, 31, size=wrong_check.sum())) % 31
    alphabet = np.frombuffer(uscc.ALPHABET.encode("ascii"), dtype=np.uint8)
    raw = alphabet[values]
    illegal = kind == 6
    raw[illegal, rng.integers(8, uscc.LENGTH, size=illegal.sum())] = ord("O")
    text = raw.tobytes().decode("ascii")
    codes = [text[i : i + uscc.LENGTH] for i in range(0, len(text), uscc.LENGTH)]
    for row in np.flatnonzero(kind == 7):
        codes[row] = codes[row][:-1]
    return codes


def timed(label: str, rows: int, run: Callable[[], int], repeat: int) -> int:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        valid = run()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<34} {best:8.3f} s  {rows / best:>14,.0f} rows/s  ({valid:,} valid)")
    return valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=32100)
    args = parser.parse_args()

    codes = generate(args.rows, args.seed)
    column = pa.array(codes, type=pa.string())
    print(f"{args.rows:,} USCCs, numpy {np.__version__}, pyarrow {pa.__version__}")

    vectorised = timed(
        "columns.check_uscc (Arrow+numpy)",
        args.rows,
        lambda: columns.check_uscc(column).null_count,
        repeat=3,
    )
    scalar = timed("uscc.is_valid, Python loop", args.rows, lambda: sum(map(uscc.is_valid, codes)), repeat=1)
    reference = timed(
        "stdnum.cn.uscc.is_valid, loop", args.rows, lambda: sum(map(stdnum_uscc.is_valid, codes)), repeat=1
    )
    if not vectorised == scalar == reference:
        raise SystemExit(f"disagreement: {vectorised=} {scalar=} {reference=}")


if __name__ == "__main__":
    main()
