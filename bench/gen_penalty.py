"""A national-template 行政处罚 export (双公示 2.0, 30 columns) of any size, in GB18030, as a department's
system writes it: CRLF line ends, mixed date formats, the odd multi-line 违法事实, and about 2 % bad rows.

Columns are built as Arrow arrays from the pools (bench/pools.py) and joined into CSV text 200,000 rows at a
time, so a 5-million-row file (about 1.7 GB) takes a minute rather than an hour. What the rows hold:

* subjects drawn with a long tail from 200,000 entities (a few are penalised often, most once), 8 %
  个体工商户, 4 % 自然人 with a resident ID number, 1 % older entities named only by their 15-digit 注册号;
* decision numbers unique per authority, so every row is a new record on first load;
* bad rows (about 2 %): a wrong USCC check character, a missing 违法事实, an impossible date, and a fine
  category without an amount, each about 0.5 %.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pools
import pyarrow as pa
import pyarrow.compute as pc

HEADERS = pools.PENALTY_HEADERS
OFFENCES = (
    "销售过期食品",
    "无证经营",
    "计量违法",
    "产品质量违法",
    "未按规定公示年报",
    "超标排放",
    "安全生产违法",
)
BASES = (
    "《食品安全法》第一百二十四条",
    "《产品质量法》第四十九条",
    "《计量法实施细则》第四十三条",
    "《无证无照经营查处办法》第十三条",
    "《安全生产法》第九十七条",
    "《大气污染防治法》第九十九条",
)
# (处罚类别, 处罚内容, needs a fine, needs a confiscation amount, needs a licence)
KINDS = (
    ("罚款", "罚款人民币{}元整", True, False, False),
    ("警告", "给予警告处罚", False, False, False),
    ("警告;罚款", "给予警告，并处罚款人民币{}元", True, False, False),
    ("没收违法所得、没收非法财物;罚款", "没收违法所得，并处罚款人民币{}元", True, True, False),
    ("暂扣或者吊销许可证、暂扣或者吊销执照", "吊销食品经营许可证", False, False, True),
)
CHUNK_ROWS = 200_000


def _csv_cells(values: pa.Array) -> pa.Array:
    """RFC 4180 quoting, only for the cells that need it (a comma, a quote or a line break)."""
    needs = pc.match_substring_regex(values, '[,"\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(pc.fill_null(needs, False), quoted, values)


def _chunk(start: int, rows: int, rng: np.random.Generator) -> list[pa.Array]:
    ent = pools.entities()
    ppl = pools.people()
    who = pools.skewed(rng, rows, len(ent.names))
    roll = rng.random(rows)
    person = roll < 0.04
    legacy_only = (
        (roll >= 0.04)
        & (roll < 0.05)
        & pc.is_valid(ent.reg_nos.take(pa.array(who))).to_numpy(zero_copy_only=False)
    )
    idx = pa.array(who)
    person_idx = pa.array(rng.integers(0, len(ppl.names), rows))
    names = pools.choose(person, ppl.names.take(person_idx), ent.names.take(idx))
    kinds = pools.choose(person, pa.array(["自然人"] * rows), ent.kinds.take(idx))
    uscc = pools.nulls_where(person | legacy_only, ent.usccs.take(idx))
    # Older entities: 注册号 alone in 1 % of rows, next to the USCC in a third of their other rows.
    reg_no = pools.nulls_where(~legacy_only & (rng.random(rows) > 0.3), ent.reg_nos.take(idx))
    representative = pools.nulls_where(person, ent.representatives.take(idx))
    id_type = pools.nulls_where(~person, pa.array(["身份证"] * rows))
    id_number = pools.nulls_where(~person, ppl.ids.take(person_idx))

    authority = pa.array(rng.integers(0, len(pools.AUTHORITIES), rows))
    numbers = np.arange(start, start + rows, dtype=np.int64)
    year = pa.array(2016 + numbers % 11).cast(pa.string())
    decision = pc.binary_join_element_wise(
        pools.AUTHORITY_PREFIXES.take(authority),
        "罚〔",
        year,
        "〕",
        pa.array(numbers).cast(pa.string()),
        "号",
        "",
    )

    kind = rng.integers(0, len(KINDS), rows)
    yuan = rng.integers(1, 2000, rows) * 100
    wanyuan = pa.array(yuan / 10_000).cast(pa.string())
    needs_fine = np.array([k[2] for k in KINDS])[kind]
    needs_confiscation = np.array([k[3] for k in KINDS])[kind]
    needs_licence = np.array([k[4] for k in KINDS])[kind]
    categories = pa.array([k[0] for k in KINDS]).take(pa.array(kind))
    content = pc.if_else(
        pa.array(needs_fine),
        pc.binary_join_element_wise("罚款人民币", pa.array(yuan).cast(pa.string()), "元", ""),
        pa.array([k[1] for k in KINDS]).take(pa.array(kind)),
    )
    fact = pools.pick(pools.facts(), rng, rows)
    multiline = rng.random(rows) < 0.001
    fact = pools.choose(multiline, pc.replace_substring(fact, "，", "，\r\n", max_replacements=1), fact)

    decided = pools.pick(pools.dates(), rng, rows)
    expires = pools.pick(pools.dates(first=dt.date(2027, 1, 1), days=1000, iso_only=True), rng, rows)

    bad = rng.random(rows)
    wrong_check = bad < 0.005
    uscc = pools.choose(
        wrong_check & pc.is_valid(uscc).to_numpy(zero_copy_only=False),
        pc.binary_join_element_wise(pc.utf8_slice_codeunits(uscc, 0, 17), "0", ""),
        uscc,
    )
    fact = pools.nulls_where((bad >= 0.005) & (bad < 0.01), fact)
    decided = pools.choose((bad >= 0.01) & (bad < 0.015), pa.array(["2026/13/45"] * rows), decided)
    fine = pools.nulls_where(~needs_fine | ((bad >= 0.015) & (bad < 0.02)), wanyuan)

    confiscated = pools.nulls_where(~needs_confiscation, pa.array((yuan // 3) / 10_000).cast(pa.string()))
    licence = pools.nulls_where(
        ~needs_licence, pools.numbered("食品经营许可证 JY2140900", numbers % 10_000_000, "")
    )
    empty = pa.nulls(rows, pa.string())
    return [
        names,
        kinds,
        uscc,
        reg_no,
        empty,
        empty,
        empty,
        empty,
        representative,
        empty,
        empty,
        id_type,
        id_number,
        decision,
        pools.pick(pa.array(OFFENCES), rng, rows),
        fact,
        pools.pick(pa.array(BASES), rng, rows),
        categories,
        content,
        fine,
        confiscated,
        licence,
        decided,
        expires,
        empty,
        pools.AUTHORITY_NAMES.take(authority),
        pools.AUTHORITY_CODES.take(authority),
        pools.AUTHORITY_NAMES.take(authority),
        pools.AUTHORITY_CODES.take(authority),
        empty,
    ]


def write(path: Path, rows: int, seed: int = 20261128, encoding: str = "gb18030") -> int:
    """Write ``rows`` data rows after the header; returns the file size in bytes."""
    rng = np.random.default_rng(seed)
    with path.open("wb") as out:
        out.write((",".join(HEADERS) + "\r\n").encode(encoding))
        for start in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - start)
            cells = [_csv_cells(column) for column in _chunk(start, count, rng)]
            lines = pc.binary_join_element_wise(*cells, ",", null_handling="replace", null_replacement="")
            text = pc.binary_join(pa.ListArray.from_arrays([0, count], lines), "\r\n")[0].as_py()
            out.write((text + "\r\n").encode(encoding))
    return path.stat().st_size
