"""Shared pools of realistic values for the data generators: 忻州's market entities, people, authorities,
dates and the long Chinese texts of supervision records.

The generators build every column as an Arrow array by drawing indices into these pools with numpy, so a
file of millions of rows costs seconds; the pools themselves are small (hundreds of thousands of entries at
most) and built once per process with Python. Every identifier carries a valid check character, computed
with the gateway's own functions (the unchecked ``_check_char`` forms: the public ``calc_check`` first
normalises its input, which made a pool of 200,000 entities take six seconds), so the only invalid rows
are the ones a generator breaks on purpose.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gateway.ids import orgcode, regno, resident_id, uscc

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the template headers live with the samples, in the checkout
    sys.path.insert(0, str(ROOT))
# Re-exported: the generators take the template headers from here, where the path is set.
from samples.national_templates import LICENCE_HEADERS, PENALTY_HEADERS, SUBJECT_HEADERS  # noqa: E402, F401

DIVISIONS = (
    ("140902", "忻府区"),
    ("140921", "定襄县"),
    ("140922", "五台县"),
    ("140923", "代县"),
    ("140924", "繁峙县"),
    ("140925", "宁武县"),
    ("140926", "静乐县"),
    ("140927", "神池县"),
    ("140928", "五寨县"),
    ("140929", "岢岚县"),
    ("140930", "河曲县"),
    ("140931", "保德县"),
    ("140932", "偏关县"),
    ("140981", "原平市"),
)
BRAND_CHARS = "晋北宏达恒泰鑫源盛隆华誉瑞丰永兴金鼎合众聚信德昌广福安康汇通天成新宇博远佳和润泽嘉禾振兴祥云"
INDUSTRIES = (
    "商贸",
    "食品",
    "餐饮管理",
    "建筑工程",
    "农业开发",
    "煤业",
    "运输",
    "医药连锁",
    "超市",
    "汽车维修",
    "建材",
    "物流",
    "酒业",
    "杂粮加工",
    "文化传媒",
    "房地产开发",
    "矿业",
    "电子科技",
    "旅游开发",
    "养殖",
)
FORMS = ("有限公司", "有限责任公司", "股份有限公司", "农民专业合作社", "经营部", "分公司")
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = "建国志强海军丽华秀英桂兰玉梅晓明文斌红霞俊杰国栋永刚春燕振华德胜金凤宝山二虎润生"

AUTHORITIES = (  # name, USCC (check character recomputed below: these are fictitious), 文号 prefix
    ("忻州市市场监督管理局", "11140900MB1950016E", "忻市监"),
    ("忻州市生态环境局", "11140900MB1955678Q", "忻环"),
    ("忻州市应急管理局", "11140900MB1951230K", "忻应急"),
    ("忻州市交通运输局", "11140900MB1952345T", "忻交运"),
    ("忻州市卫生健康委员会", "11140900MB1953456R", "忻卫健"),
    ("忻府区市场监督管理局", "11140902MB1960010P", "忻府市监"),
    ("原平市市场监督管理局", "11140981MB1961122N", "原市监"),
    ("定襄县市场监督管理局", "11140921MB1962233L", "定市监"),
)


def _valid_authority(code: str) -> str:
    """The authorities above are fictitious; give each a correct check character."""
    return code[:-1] + uscc.calc_check(code[:-1])


AUTHORITY_NAMES = pa.array([name for name, _, _ in AUTHORITIES], pa.string())
AUTHORITY_CODES = pa.array([_valid_authority(code) for _, code, _ in AUTHORITIES], pa.string())
AUTHORITY_PREFIXES = pa.array([prefix for _, _, prefix in AUTHORITIES], pa.string())

FACT_OPENINGS = (
    "经查，当事人",
    "经查，当事人于{y}年{m}月{d}日在{place}",
    "{y}年{m}月{d}日检查发现当事人",
    "经举报查明当事人自{y}年{m}月起",
)
FACT_BODIES = (
    "销售超过保质期的预包装食品{n}件，货值{v}元",
    "未取得食品经营许可从事食品经营活动，违法所得{w}元",
    "使用未经检验的计量器具{n}台",
    "生产的产品标签标注的生产日期与实际不符，货值{v}元",
    "未按规定公示年度报告",
    "违规排放废水，化学需氧量超标{n}倍",
    "特种作业人员{n}名未持证上岗",
    "车辆未取得道路运输证从事货物运输",
)
FACT_ENDINGS = (
    "。",
    "，违反了《中华人民共和国食品安全法》第三十四条的规定。",
    "，事实清楚，证据确凿。",
    "。以上事实有现场检查笔录、询问笔录、销售票据等证据证实，当事人对违法事实无异议。",
)
PLACES = ("长征街", "和平街", "七一路", "建设北路", "雁门西大街", "慕山路", "云中路", "开莱大街", "光明西街")


@dataclass(frozen=True)
class Entities:
    """A pool of market entities: name, USCC, legal representative, and the legacy 注册号 of older ones."""

    names: pa.Array
    usccs: pa.Array
    reg_nos: pa.Array
    org_codes: pa.Array
    representatives: pa.Array
    kinds: pa.Array  # 法人及非法人组织 | 个体工商户


@dataclass(frozen=True)
class People:
    """Natural persons with valid 18-digit resident ID numbers."""

    names: pa.Array
    ids: pa.Array


RARE = "䶮𠀾𪚥㐱𡈼"
"""Characters outside GBK (CJK extensions A and B): they make an export GB18030 rather than GBK."""


def _person_names(rng: np.random.Generator, count: int) -> list[str]:
    surnames = rng.integers(0, len(SURNAMES), count)
    first = rng.integers(0, len(GIVEN) // 2, count) * 2
    two_chars = rng.random(count) < 0.7
    rare = rng.integers(0, len(RARE) * 100, count)  # one name in a hundred has a rare character
    return [
        SURNAMES[s] + (GIVEN[f : f + 2] if long else GIVEN[f]) + (RARE[r] if r < len(RARE) else "")
        for s, f, long, r in zip(surnames, first, two_chars, rare, strict=True)
    ]


@cache
def entities(count: int = 200_000, seed: int = 14_09_00) -> Entities:
    """``count`` distinct entities; one in six predates 2015 and also has a 15-digit 注册号."""
    rng = np.random.default_rng(seed)
    draws = count * 2
    division = rng.integers(0, len(DIVISIONS), draws)
    brand = rng.integers(0, len(BRAND_CHARS), (draws, 2))
    industry = rng.integers(0, len(INDUSTRIES), draws)
    form = rng.integers(0, len(FORMS), draws)
    names = list(
        dict.fromkeys(
            f"忻州市{DIVISIONS[d][1]}{BRAND_CHARS[a]}{BRAND_CHARS[b]}{INDUSTRIES[i]}{FORMS[f]}"
            for d, (a, b), i, f in zip(division, brand, industry, form, strict=True)
        )
    )
    names += [f"忻州市{DIVISIONS[n % 14][1]}第{n}号商贸有限公司" for n in range(max(0, count - len(names)))]
    names = names[:count]
    digits = rng.integers(10**7, 10**8, (count, 2))
    letters = rng.integers(0, len(uscc.ALPHABET), (count, 6))
    codes: list[str] = []
    orgs: list[str] = []
    regs: list[str | None] = []
    for i in range(count):
        division_code = DIVISIONS[i % len(DIVISIONS)][0]
        older = i % 6 == 0  # registered before 2015: an all-digit organisation code and a 注册号
        body8 = f"{digits[i, 0]}" if older else "MA" + "".join(uscc.ALPHABET[x] for x in letters[i])
        org = body8 + orgcode._check_char(body8)
        body = f"{'92' if i % 9 == 0 else '91'}{division_code}{org}"
        codes.append(body + uscc._check_char(body))
        orgs.append(org)
        reg_body = f"{division_code}{digits[i, 1]}"
        regs.append(reg_body + regno._check_char(reg_body) if older else None)
    kinds = ["个体工商户" if code.startswith("92") else "法人及非法人组织" for code in codes]
    return Entities(
        names=pa.array(names, pa.string()),
        usccs=pa.array(codes, pa.string()),
        reg_nos=pa.array(regs, pa.string()),
        org_codes=pa.array(orgs, pa.string()),
        representatives=pa.array(_person_names(rng, count), pa.string()),
        kinds=pa.array(kinds, pa.string()),
    )


@cache
def people(count: int = 50_000, seed: int = 14_09_81) -> People:
    rng = np.random.default_rng(seed)
    born = rng.integers(0, 365 * 52, count)
    serial = rng.integers(0, 1000, count)
    first = dt.date(1950, 1, 1)
    ids = []
    for i in range(count):
        birthday = first + dt.timedelta(days=int(born[i]))
        body = f"{DIVISIONS[i % len(DIVISIONS)][0]}{birthday:%Y%m%d}{serial[i]:03d}"
        ids.append(body + resident_id._check_char(body))
    return People(names=pa.array(_person_names(rng, count), pa.string()), ids=pa.array(ids, pa.string()))


@cache
def facts(count: int = 4_000, seed: int = 5) -> pa.Array:
    """Statements of facts, 15–90 characters: the longest free text of a penalty record."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        y, m, d = int(rng.integers(2016, 2027)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        place = PLACES[int(rng.integers(0, len(PLACES)))]
        n, v = int(rng.integers(2, 300)), int(rng.integers(100, 90_000))
        text = (
            FACT_OPENINGS[int(rng.integers(0, len(FACT_OPENINGS)))].format(y=y, m=m, d=d, place=place)
            + FACT_BODIES[int(rng.integers(0, len(FACT_BODIES)))].format(n=n, v=v, w=v // 7)
            + FACT_ENDINGS[int(rng.integers(0, len(FACT_ENDINGS)))]
        )
        out.append(text)
    return pa.array(out, pa.string())


@cache
def dates(first: dt.date = dt.date(2016, 1, 1), days: int = 3_650, iso_only: bool = False) -> pa.Array:
    """Dates as departments write them: ISO, 2026/3/5, 2026年3月5日 and 20260305 (ISO twice as often)."""
    out = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        out.append(day.isoformat())
        if not iso_only:
            out.extend(
                [
                    day.isoformat(),
                    f"{day.year}/{day.month}/{day.day}",
                    f"{day.year}年{day.month}月{day.day}日",
                    f"{day:%Y%m%d}",
                ]
            )
    return pa.array(out, pa.string())


def pick(pool: pa.Array, rng: np.random.Generator, size: int) -> pa.Array:
    return pool.take(pa.array(rng.integers(0, len(pool), size)))


def skewed(rng: np.random.Generator, size: int, population: int) -> np.ndarray:
    """Indices where a few entities recur often and most rarely (a Zipf-like tail, as in real records)."""
    return np.minimum((rng.pareto(1.2, size) * population / 20).astype(np.int64), population - 1)


def numbered(prefix: str, numbers: np.ndarray, suffix: str) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), suffix, "")


def choose(mask: np.ndarray, when: pa.Array, otherwise: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), when, otherwise)


def nulls_where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)
