"""Time a double-random draw over a large population (target: a million candidates in under 5 s).

    .venv/bin/python bench/draws.py [--size 1000000] [--inspectors 300] [--json]

Setup, not measured: ``--size`` enterprises in memory with valid USCCs, spread over the risk classes as a
city's might be (A 30 %, B 55 %, C 12 %, D 3 %), and a pool of inspectors in two departments, a few with
conflicts. Measured, stage by stage, exactly what gateway.credit.draws.service does between reading the
store and writing the record: freeze the population (sort, canonical text, SHA-256), make the seed, rank
every candidate by SHA-256(seed ‖ USCC) and take the lowest per stratum (with the 3 % floor), assign
inspectors to every drawn object, and serialise the canonical record. Then the same again from the frozen
text, as ``verify`` does, to show verification costs the same as the draw.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

from gateway.credit.draws.algorithm import assign_inspectors, freeze, make_seed, select, thaw  # noqa: E402
from gateway.credit.draws.service import canonical  # noqa: E402
from gateway.ids.uscc import calc_check  # noqa: E402

RATIOS = {"A": 0.05, "B": 0.15, "C": 0.30, "D": 0.50}
SHARES = (("A", 0.30), ("B", 0.55), ("C", 0.12), ("D", 0.03))


def population(size: int) -> tuple[pa.Array, pa.Array]:
    codes, strata = [], []
    bounds = []
    edge = 0.0
    for name, share in SHARES:
        edge += share
        bounds.append((int(edge * size), name))
    b = 0
    for n in range(size):
        while n >= bounds[b][0] and b < len(bounds) - 1:
            b += 1
        body = f"91140902{(n * 7919) % 10**9:09d}"
        codes.append(body + calc_check(body))
        strata.append(bounds[b][1])
    return pa.array(codes, pa.string()), pa.array(strata, pa.string())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="candidates in scope (default 1,000,000)")
    parser.add_argument("--inspectors", type=int, default=300, help="inspectors per department (default 300)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    t0 = time.perf_counter()
    codes, strata = population(args.size)
    pools = {
        "市市场监督管理局": [f"AMR-{i:05d}" for i in range(args.inspectors)],
        "市生态环境局": [f"EE-{i:05d}" for i in range(args.inspectors)],
    }
    conflicts = {f"AMR-{i:05d}": codes.slice(i * 10, 5).to_pylist() for i in range(0, args.inspectors, 10)}
    setup = time.perf_counter() - t0
    scope = {name: count for name, count in zip(*_counts(strata), strict=True)}

    figures: dict[str, float | int] = {"size": args.size, "setup_s": round(setup, 2)}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        figures[name] = round(now - clock, 3)
        clock = now

    frozen = freeze(codes, strata)
    lap("freeze_s")
    seed = make_seed("P2026", "T2026-01", frozen.sha256, "witness-0731")
    chosen = select(frozen, seed, RATIOS, 0.03, scope)
    lap("select_s")
    assigned = assign_inspectors(seed, chosen.uscc, pools, conflicts, 2)
    lap("inspectors_s")
    record = canonical(
        {
            "seed": seed.hex(),
            "population": frozen.sha256,
            "drawn": [
                {"uscc": u, "stratum": s, "inspectors": assigned[u]}
                for u, s in zip(chosen.uscc, chosen.stratum, strict=True)
            ],
        }
    )
    lap("record_s")
    figures["draw_total_s"] = round(
        sum(float(figures[k]) for k in ("freeze_s", "select_s", "inspectors_s", "record_s")), 3
    )
    again = thaw(frozen.text)
    same = select(again, make_seed("P2026", "T2026-01", again.sha256, "witness-0731"), RATIOS, 0.03, scope)
    assign_inspectors(seed, same.uscc, pools, conflicts, 2)
    lap("verify_s")
    assert same.uscc == chosen.uscc
    figures["drawn"] = len(chosen.uscc)
    figures["record_mb"] = round(len(record.encode()) / 2**20, 1)
    figures["population_mb"] = round(len(frozen.text.encode()) / 2**20, 1)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"population {args.size:,} (setup {setup:.1f} s, not timed); drawn {len(chosen.uscc):,}")
    for name, q in chosen.quotas.items():
        print(f"  {name}: in scope {q.scope:>9,}  drawn {q.drawn:>8,}")
    for key in ("freeze_s", "select_s", "inspectors_s", "record_s", "draw_total_s", "verify_s"):
        print(f"{key:>14}: {figures[key]:7.3f} s")
    print(f"record {figures['record_mb']} MiB, frozen population {figures['population_mb']} MiB")


def _counts(strata: pa.Array) -> tuple[list[str], list[int]]:
    counts = pa.compute.value_counts(strata).to_pylist()
    return [c["values"] for c in counts], [c["counts"] for c in counts]


if __name__ == "__main__":
    main()
