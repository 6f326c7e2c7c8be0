"""The draw as pure functions: the seed and the ranks as documented, stratified counts and the 3 % floor,
reproducibility, the frozen population's canonical text, and inspectors with conflicts removed first."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest

from gateway.credit.draws.algorithm import (
    DrawError,
    assign_inspectors,
    freeze,
    make_seed,
    ranks,
    select,
    thaw,
)
from tests.gateway.credit.draws.store_world import uscc

RATIOS = {"A": 0.05, "B": 0.15, "C": 0.30, "D": 0.50}


def population(counts: dict[str, int]) -> tuple[pa.Array, pa.Array]:
    codes, strata, n = [], [], 1
    for stratum, count in counts.items():
        for _ in range(count):
            codes.append(uscc(n))
            strata.append(stratum)
            n += 1
    return pa.array(codes[::-1], pa.string()), pa.array(strata[::-1], pa.string())


def seed_for(nonce: str, frozen_hash: str) -> bytes:
    return make_seed("P2025", "T1", frozen_hash, nonce)


def test_seed_and_rank_are_the_documented_hashes() -> None:
    frozen = freeze(*population({"A": 3}))
    expected = hashlib.sha256(b"P2025\x00T1\x00" + frozen.sha256.encode() + b"\x00witness-7").digest()
    seed = seed_for("witness-7", frozen.sha256)
    assert seed == expected
    first = frozen.uscc[0].as_py()
    assert ranks(seed, frozen.uscc)[0].as_py() == hashlib.sha256(seed + first.encode()).digest()
    assert frozen.sha256 == hashlib.sha256(frozen.text.encode()).hexdigest()
    assert frozen.text.splitlines()[0] == f"{first}\tA"


def test_stratified_counts_follow_the_ratios() -> None:
    counts = {"A": 1000, "B": 1000, "C": 400, "D": 101}
    frozen = freeze(*population(counts))
    chosen = select(frozen, seed_for("n1", frozen.sha256), RATIOS, 0.03, counts)
    got = {name: q.drawn for name, q in chosen.quotas.items()}
    assert got == {"A": 50, "B": 150, "C": 120, "D": 51}  # ceil(0.5 × 101) = 51
    assert all(q.topup == 0 for q in chosen.quotas.values())
    by_code = dict(zip(frozen.uscc.to_pylist(), frozen.stratum.to_pylist(), strict=True))
    assert all(by_code[u] == s for u, s in zip(chosen.uscc, chosen.stratum, strict=True))
    assert chosen.uscc == sorted(chosen.uscc) and len(set(chosen.uscc)) == 371


def test_the_floor_tops_up_by_rank_across_strata() -> None:
    counts = {"A": 900, "B": 100}
    frozen = freeze(*population(counts))
    low = {"A": 0.01, "B": 0.01, "C": 0.01, "D": 0.01}
    chosen = select(frozen, seed_for("n1", frozen.sha256), low, 0.03, counts)
    assert chosen.floor_total == 30
    assert len(chosen.uscc) == 30
    assert sum(q.quota for q in chosen.quotas.values()) == 9 + 1
    assert sum(q.topup for q in chosen.quotas.values()) == 20


def test_quota_counts_the_scope_but_draws_only_candidates() -> None:
    """Objects drawn earlier this year are out of the population; the quota is of the stratum in scope."""
    frozen = freeze(*population({"D": 10}))
    chosen = select(frozen, seed_for("n1", frozen.sha256), RATIOS, 0.03, {"D": 40})
    assert chosen.quotas["D"].quota == 10  # ceil(0.5 × 40) = 20, but only 10 candidates are left


def test_a_draw_is_reproducible_and_the_nonce_changes_it() -> None:
    counts = {"A": 300, "B": 300}
    frozen = freeze(*population(counts))
    one = select(frozen, seed_for("n1", frozen.sha256), RATIOS, 0.03, counts)
    again = select(thaw(frozen.text), seed_for("n1", frozen.sha256), RATIOS, 0.03, counts)
    other = select(frozen, seed_for("n2", frozen.sha256), RATIOS, 0.03, counts)
    assert one.uscc == again.uscc
    assert one.uscc != other.uscc


def test_unknown_strata_and_bad_ratios_are_refused() -> None:
    frozen = freeze(*population({"E": 3}))
    with pytest.raises(DrawError, match="类别 E 没有抽查比例"):
        select(frozen, seed_for("n", frozen.sha256), RATIOS, 0.03, {"E": 3})
    with pytest.raises(DrawError, match="0 到 1"):
        select(frozen, seed_for("n", frozen.sha256), {**RATIOS, "E": 1.5}, 0.03, {"E": 3})


def test_frozen_text_must_be_canonical() -> None:
    frozen = freeze(*population({"A": 3, "B": 2}))
    lines = frozen.text.splitlines(keepends=True)
    with pytest.raises(DrawError, match="排序"):
        thaw("".join(reversed(lines)))
    with pytest.raises(DrawError, match="格式"):
        thaw(lines[0].replace("\t", " "))
    with pytest.raises(DrawError, match="重复"):
        freeze(pa.array(["x", "x"]), pa.array(["A", "A"]))


def test_seed_parts_cannot_be_empty_or_hold_nul() -> None:
    with pytest.raises(DrawError):
        make_seed("P", "T", "h", "")
    with pytest.raises(DrawError):
        make_seed("P", "T\x00x", "h", "n")


def test_an_inspector_with_a_conflict_is_never_drawn_for_that_object() -> None:
    drawn = [uscc(n) for n in range(1, 41)]
    pools = {"市市场监督管理局": ["I1", "I2", "I3", "I4"], "市生态环境局": ["E1", "E2", "E3"]}
    conflicts = {"I1": drawn[:20], "I2": drawn[10:30], "E3": drawn}
    for n in range(200):
        seed = hashlib.sha256(f"nonce-{n}".encode()).digest()
        assigned = assign_inspectors(seed, drawn, pools, conflicts, 2)
        for code in drawn:
            people = assigned[code]
            assert len(people) == 4 and len(set(people)) == 4
            assert [p for p in people if p.startswith("I")] and len(
                [p for p in people if p.startswith("E")]
            ) == 2
            assert all(code not in conflicts.get(p, []) for p in people), (n, code, people)
    seen = {
        p
        for n in range(50)
        for p in assign_inspectors(bytes([n]) * 32, drawn[30:], pools, conflicts, 2)[drawn[35]]
    }
    assert seen == {"I1", "I2", "I3", "I4", "E1", "E2"}  # without conflicts every inspector gets drawn


def test_too_small_a_pool_is_a_clear_error() -> None:
    seed = bytes(32)
    with pytest.raises(DrawError, match="只有 1 名"):
        assign_inspectors(seed, [uscc(1)], {"市应急管理局": ["M1"]}, {}, 2)
    with pytest.raises(DrawError, match=f"对 {uscc(1)} 无利害关系的执法检查人员只有 1 名"):
        assign_inspectors(seed, [uscc(1)], {"市应急管理局": ["M1", "M2"]}, {"M2": [uscc(1)]}, 2)
    with pytest.raises(DrawError, match="至少派出 2 名"):
        assign_inspectors(seed, [uscc(1)], {"市应急管理局": ["M1", "M2"]}, {}, 1)
