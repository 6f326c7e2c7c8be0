"""The draw itself, as pure functions of data: no database, no clock, no randomness but the seed.

Why hash ranking rather than a pseudo-random generator: a draw must be reproducible by anyone who holds the
record, with any language and no particular library version. A PRNG's stream (Mersenne Twister, numpy's
PCG64, ...) is an implementation detail that changes between libraries and versions, and shuffling with it
depends on the order candidates are visited. Ranking each candidate by SHA-256(seed ‖ USCC) needs only
SHA-256, does not depend on the order of the list, lets each candidate's rank be checked on its own (a
witness can recompute the rank of one enterprise), and is computed once per candidate, so a million
candidates cost about a second. Taking the k lowest ranks of a stratum is a uniform sample without
replacement because SHA-256 outputs for distinct inputs behave as independent uniform values, and nobody
can steer it: the seed commits to the population (its hash) and to a nonce witnessed at the draw, which is
not known when the population is frozen.

The precise definition (docs/double-random.md, "Verifying a draw") is what ``ALGORITHM`` names; any change
to it is a new version, and old records keep verifying under the version they name.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

ALGORITHM = "gw-double-random/1"
SEP = b"\x00"  # between the seed's parts: no identifier or nonce may contain it


class DrawError(ValueError):
    """A draw that cannot be made as asked: an empty or too small pool, a bad ratio, a bad nonce."""


# ------------------------------------------------------------------------------------------ population
@dataclass(frozen=True)
class Frozen:
    """The population as drawn from: sorted by USCC, each with its stratum, and the text that is hashed."""

    uscc: pa.Array  # string, sorted, unique
    stratum: pa.Array  # string
    text: str  # "USCC\tstratum\n" per candidate, in that order
    sha256: str

    @property
    def size(self) -> int:
        return len(self.uscc)


def freeze(uscc: pa.Array | pa.ChunkedArray, stratum: pa.Array | pa.ChunkedArray) -> Frozen:
    """Sort the candidates by USCC and hash them; a USCC twice is refused (it would be ranked twice)."""
    table = pa.table({"uscc": uscc, "stratum": stratum})
    table = table.take(pc.sort_indices(table, sort_keys=[("uscc", "ascending")]))
    codes = table["uscc"].combine_chunks()
    strata = table["stratum"].combine_chunks()
    if len(codes) and pc.count_distinct(codes).as_py() != len(codes):
        raise DrawError("抽取范围中有重复的统一社会信用代码")
    if pc.any(pc.is_null(codes)).as_py() or pc.any(pc.is_null(strata)).as_py():
        raise DrawError("抽取范围中有缺少统一社会信用代码或分类的主体")
    lines = pc.binary_join_element_wise(codes, strata, "\t")
    whole = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
    text = pc.binary_join(whole, "\n")[0].as_py() + "\n" if len(lines) else ""
    return Frozen(codes, strata, text, hashlib.sha256(text.encode("utf-8")).hexdigest())


def thaw(text: str) -> Frozen:
    """A frozen population read back from its text (a draw record's), checked to be in canonical form."""
    codes, strata = [], []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        uscc, tab, stratum = line.partition("\t")
        if not tab or not uscc or not stratum:
            raise DrawError(f"冻结的抽取范围第 {n} 行格式不对：应为“统一社会信用代码<TAB>类别”")
        codes.append(uscc)
        strata.append(stratum)
    if text and not text.endswith("\n"):
        raise DrawError("冻结的抽取范围不以换行结束")
    frozen = freeze(pa.array(codes, pa.string()), pa.array(strata, pa.string()))
    if frozen.text != text:
        raise DrawError("冻结的抽取范围没有按统一社会信用代码排序")
    return frozen


# -------------------------------------------------------------------------------------------------- seed
def make_seed(plan_id: str, task_id: str, population_sha256: str, nonce: str) -> bytes:
    """SHA-256(plan id ‖ 0x00 ‖ task id ‖ 0x00 ‖ population hash (hex) ‖ 0x00 ‖ nonce), all UTF-8."""
    parts = (plan_id, task_id, population_sha256, nonce)
    for part in parts:
        if not part or "\x00" in part:
            raise DrawError("计划编号、任务编号、范围哈希和见证随机数都不能为空，也不能含 NUL 字符")
    return hashlib.sha256(SEP.join(p.encode("utf-8") for p in parts)).digest()


def ranks(seed: bytes, uscc: pa.Array) -> pa.Array:
    """Each candidate's rank: SHA-256(seed (32 raw bytes) ‖ USCC (UTF-8)), as 32-byte values.

    One hash per candidate is the whole cost of a draw; the digests are joined into one buffer so that the
    sort that follows runs in Arrow, not in Python."""
    base = hashlib.sha256(seed)
    digests = []
    for code in uscc.cast(pa.binary()).to_pylist():
        h = base.copy()
        h.update(code)
        digests.append(h.digest())
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(32), len(digests), [None, pa.py_buffer(b"".join(digests))]
    )


# ------------------------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class Quota:
    scope: int  # in scope before removing those drawn earlier in the year
    eligible: int  # candidates (the frozen population of this stratum)
    quota: int  # ceil(ratio × scope), at most eligible
    topup: int = 0  # added to reach the overall floor

    @property
    def drawn(self) -> int:
        return self.quota + self.topup

    def as_dict(self) -> dict[str, int]:
        return {"scope": self.scope, "eligible": self.eligible, "quota": self.quota, "topup": self.topup}


def _ceil(ratio: float, count: int) -> int:
    """ceil(ratio × count) computed exactly on the ratio's decimal text (0.15 × 200 is 30, not 30.000…04)."""
    return math.ceil(Fraction(str(ratio)) * count)


def check_ratios(ratios: Mapping[str, float], floor: float) -> None:
    for name, value in {**ratios, "floor": floor}.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise DrawError(f"抽查比例 {name} 必须是 0 到 1 之间的数，而不是 {value!r}")


def _above(candidates: pa.Table, taken: pa.Table) -> pa.Table:
    """The candidates that come after every one of ``taken`` in (rank, USCC) order."""
    last = taken.take(pc.sort_indices(taken, sort_keys=[("rank", "descending"), ("uscc", "descending")]))
    rank, code = last["rank"][0], last["uscc"][0]
    after = pc.or_(
        pc.greater(candidates["rank"], rank),
        pc.and_(pc.equal(candidates["rank"], rank), pc.greater(candidates["uscc"], code)),
    )
    return candidates.filter(after)


@dataclass(frozen=True)
class Selection:
    uscc: list[str]  # drawn, sorted by USCC
    stratum: list[str]
    quotas: dict[str, Quota]
    floor_total: int  # ceil(floor × objects in scope)


def select(
    frozen: Frozen,
    seed: bytes,
    ratios: Mapping[str, float],
    floor: float,
    scope_counts: Mapping[str, int],
) -> Selection:
    """The stratified draw: per stratum the ``quota`` lowest ranks, then, if the total is under the floor,
    the lowest ranks among all candidates not yet drawn, whatever their stratum, until it is met.

    Ties in rank (a SHA-256 collision) would be broken by USCC; they do not happen in practice."""
    check_ratios(ratios, floor)
    strata = sorted(set(frozen.stratum.to_pylist()) | set(scope_counts))
    unknown = [s for s in strata if s not in ratios]
    if unknown:
        raise DrawError(f"类别 {'、'.join(unknown)} 没有抽查比例（draw_ratios.yaml 的 ratios）")
    table = pa.table({"uscc": frozen.uscc, "stratum": frozen.stratum, "rank": ranks(seed, frozen.uscc)})
    order = [("rank", "ascending"), ("uscc", "ascending")]
    chosen: list[pa.Table] = []
    rest: list[pa.Table] = []
    quotas: dict[str, Quota] = {}
    for name in strata:
        mine = table.filter(pc.equal(table["stratum"], name))
        scope = int(scope_counts.get(name, 0))
        if scope < mine.num_rows:
            raise DrawError(f"类别 {name} 的范围数 {scope} 小于候选数 {mine.num_rows}")
        quota = min(_ceil(ratios[name], scope), mine.num_rows)
        quotas[name] = Quota(scope, mine.num_rows, quota)
        # The k lowest without sorting the whole stratum; the rest are those above the k-th.
        taken = mine.take(pc.select_k_unstable(mine, quota, sort_keys=order)) if quota else mine.slice(0, 0)
        chosen.append(taken)
        rest.append(_above(mine, taken) if quota else mine)
    scope_total = sum(q.scope for q in quotas.values())
    floor_total = _ceil(floor, scope_total)
    short = floor_total - sum(q.quota for q in quotas.values())
    if short > 0 and rest:
        others = pa.concat_tables(rest)
        extra = others.take(pc.select_k_unstable(others, min(short, others.num_rows), sort_keys=order))
        chosen.append(extra)
        added = pc.value_counts(extra["stratum"]).to_pylist()
        for entry in added:
            q = quotas[entry["values"]]
            quotas[entry["values"]] = Quota(q.scope, q.eligible, q.quota, entry["counts"])
    drawn = pa.concat_tables(chosen) if chosen else table.slice(0, 0)
    drawn = drawn.take(pc.sort_indices(drawn, sort_keys=[("uscc", "ascending")]))
    return Selection(drawn["uscc"].to_pylist(), drawn["stratum"].to_pylist(), quotas, floor_total)


# ------------------------------------------------------------------------------------------ inspectors
def _pick(head: Any, tail: bytes, candidates: Sequence[str], wanted: int) -> list[str]:
    """``wanted`` distinct candidates from the blocks SHA-256(head ‖ tail ‖ b), b = 0, 1, ..."""
    taken: list[str] = []
    block = 0
    while True:
        h = head.copy()
        h.update(tail + str(block).encode("ascii"))
        digest = h.digest()
        for at in range(0, 32, 8):
            code = candidates[int.from_bytes(digest[at : at + 8], "big") % len(candidates)]
            if code not in taken:
                taken.append(code)
                if len(taken) == wanted:
                    return taken
        block += 1


def assign_inspectors(
    seed: bytes,
    drawn: Sequence[str],
    pools: Mapping[str, Sequence[str]],
    conflicts: Mapping[str, Sequence[str]],
    per_department: int,
) -> dict[str, list[str]]:
    """For each drawn USCC, ``per_department`` inspectors of each department's pool.

    Conflicts are removed first: an object's candidates in a department are the pool (sorted by code) less
    the inspectors who declared a conflict with that USCC. Then the blocks B_b = SHA-256(seed ‖ 0x00 ‖
    "inspector" ‖ 0x00 ‖ department ‖ 0x00 ‖ USCC ‖ 0x00 ‖ b as decimal), b = 0, 1, ..., are cut into 8-byte
    big-endian unsigned integers x_0, x_1, ... (four per block), and the candidate at x_j mod (number of
    candidates) is taken unless already taken, until there are enough. One hash per object and department
    in practice, instead of one per object and inspector: the pool may be hundreds. (The bias of a 64-bit
    value reduced modulo a pool of thousands is below 10^-15.)
    """
    if per_department < 2:
        raise DrawError("每个对象每个部门至少派出 2 名执法检查人员（行政处罚法第四十二条）")
    against: dict[str, set[str]] = {}
    for code, usccs in conflicts.items():
        for uscc in usccs:
            against.setdefault(uscc, set()).add(code)
    sorted_pools = {dept: sorted(codes) for dept, codes in pools.items()}
    for dept, codes in sorted_pools.items():
        if len(codes) < per_department:
            raise DrawError(
                f"部门 {dept} 符合条件的执法检查人员只有 {len(codes)} 名，每个对象需要 {per_department} 名："
                "请补充执法检查人员名录库或检查事项所需资质"
            )
    heads = {
        dept: hashlib.sha256(SEP.join((seed, b"inspector", dept.encode("utf-8"))) + SEP) for dept in pools
    }
    result: dict[str, list[str]] = {}
    for uscc in drawn:
        barred = against.get(uscc, set())
        picked: list[str] = []
        for dept in sorted(sorted_pools):
            pool = sorted_pools[dept]
            candidates = [c for c in pool if c not in barred] if barred else pool
            if len(candidates) < per_department:
                raise DrawError(
                    f"部门 {dept} 对 {uscc} 无利害关系的执法检查人员只有 {len(candidates)} 名，"
                    f"需要 {per_department} 名"
                )
            picked.extend(_pick(heads[dept], uscc.encode("utf-8") + SEP, candidates, per_department))
        result[uscc] = picked
    return result


__all__ = [
    "ALGORITHM",
    "DrawError",
    "Frozen",
    "Quota",
    "Selection",
    "assign_inspectors",
    "check_ratios",
    "freeze",
    "make_seed",
    "ranks",
    "select",
    "thaw",
]
