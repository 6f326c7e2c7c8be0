"""Generate samples/standins/data/*.json: 忻州 credit-platform and disclosure-system records (fictitious)."""
# ruff: noqa: E501  (sample records are Chinese prose; wrapping them mid-sentence would only hurt reading)

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from gateway.ids import regno, uscc  # noqa: E402

OUT = ROOT / "samples" / "standins" / "data"
rng = random.Random(20261128)
TZ = dt.timezone(dt.timedelta(hours=8))
ALNUM = "0123456789ABCDEFGHJKLMNPQRTUWXY"

COUNTIES = [
    ("140902", "忻府区", "忻州市"),
    ("140981", "原平市", "原平市"),
    ("140921", "定襄县", "定襄县"),
    ("140922", "五台县", "五台县"),
    ("140923", "代县", "代县"),
    ("140924", "繁峙县", "繁峙县"),
    ("140925", "宁武县", "宁武县"),
    ("140926", "静乐县", "静乐县"),
    ("140927", "神池县", "神池县"),
    ("140928", "五寨县", "五寨县"),
    ("140929", "岢岚县", "岢岚县"),
    ("140930", "河曲县", "河曲县"),
    ("140931", "保德县", "保德县"),
    ("140932", "偏关县", "偏关县"),
]
WORDS = [
    "晋北",
    "宏达",
    "鑫源",
    "恒信",
    "聚丰",
    "金泰",
    "兴隆",
    "瑞祥",
    "汇通",
    "昌盛",
    "福顺",
    "泰和",
    "永利",
    "华晟",
    "嘉禾",
    "天成",
    "润丰",
    "长青",
    "顺达",
    "广源",
    "同创",
    "盛世",
    "康宁",
    "利民",
    "新宇",
    "安泰",
]
TRADES = [
    ("商贸有限公司", "批发和零售业"),
    ("煤业有限公司", "采矿业"),
    ("建筑工程有限公司", "建筑业"),
    ("农业科技有限公司", "农、林、牧、渔业"),
    ("锻造有限公司", "制造业"),
    ("物流有限公司", "交通运输业"),
    ("餐饮管理有限公司", "住宿和餐饮业"),
    ("房地产开发有限公司", "房地产业"),
    ("食品有限公司", "制造业"),
    ("杂粮开发有限公司", "制造业"),
    ("旅游开发有限公司", "租赁和商务服务业"),
    ("环保科技有限公司", "科学研究"),
    ("运输有限公司", "交通运输业"),
    ("法兰制造有限公司", "制造业"),
    ("建材有限公司", "制造业"),
]
SOLO = [
    "面馆",
    "五金店",
    "超市",
    "汽车修理部",
    "农资经营部",
    "烟酒商行",
    "小吃店",
    "理发店",
    "粮油店",
    "建材门市部",
]
SURNAMES = "王李张刘陈杨赵郭郝高武白闫贾韩梁段温薛任"
GIVEN = [
    "建国",
    "志强",
    "丽娟",
    "海军",
    "晓东",
    "玉兰",
    "俊杰",
    "文斌",
    "红梅",
    "永胜",
    "二虎",
    "秀英",
    "国平",
    "卫东",
    "慧敏",
    "鹏飞",
    "春生",
    "彩霞",
    "利军",
    "建华",
]
STREETS = [
    "和平街",
    "七一路",
    "长征街",
    "建设北路",
    "雁门西大街",
    "滹沱路",
    "五台山大道",
    "新建路",
    "慕山路",
    "迎宾大街",
]


def org_check(body8: str) -> str:
    value = lambda c: int(c) if c.isdigit() else ord(c) - 55  # noqa: E731
    r = 11 - sum(value(c) * w for c, w in zip(body8, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def make_uscc(prefix: str, division: str, body8: str) -> str:
    body17 = prefix + division + body8 + org_check(body8)
    return body17 + uscc.calc_check(body17)


def ma_body() -> str:
    return "MA0" + "".join(rng.choice(ALNUM) for _ in range(5))


def make_regno(division: str, solo: bool) -> str:
    seq = str(rng.randint(6, 9) if solo else rng.randint(0, 2)) + f"{rng.randint(0, 9_999_999):07d}"
    body = division + seq
    return body + regno.calc_check(body)


def person() -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def moment(start: dt.date, end: dt.date) -> dt.datetime:
    span = (end - start).days
    day = start + dt.timedelta(days=rng.randint(0, span))
    return dt.datetime(
        day.year, day.month, day.day, rng.randint(8, 18), rng.randint(0, 59), rng.randint(0, 59), tzinfo=TZ
    )


def text_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def epoch_ms(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1000 + rng.randint(0, 999)


# ---------------------------------------------------------------------------------------------- authorities
def authority(name: str, serial: int) -> tuple[str, str]:
    return name, make_uscc("11", "140900", f"MB{serial:06d}")


AMR_CITY = ("忻州市市场监督管理局", "11140900MB1950016E")
TAX = authority("国家税务总局忻州市税务局", 195011)
HRSS = authority("忻州市人力资源和社会保障局", 195027)
EMERGENCY = authority("忻州市应急管理局", 195043)
ECOLOGY = ("忻州市生态环境局", "11140900MB19500324")
APPROVAL = authority("忻州市行政审批服务管理局", 195078)
DRC = authority("忻州市发展和改革委员会", 195086)


def county_amr(county: tuple[str, str, str]) -> tuple[str, str]:
    if county[0] == "140902":
        return AMR_CITY
    return f"{county[2]}市场监督管理局", make_uscc("11", county[0], f"MB{rng.randint(0, 999_999):06d}")


COUNTY_AMR = {c[0]: county_amr(c) for c in COUNTIES}

# ---------------------------------------------------------------------------------------------- entities
entities: list[dict] = []
used_names: set[str] = set()
for index in range(56):
    county = COUNTIES[0] if index % 3 == 0 else rng.choice(COUNTIES)
    solo = index % 7 == 3
    while True:
        if solo:
            name = f"{county[1]}{rng.choice(SURNAMES)}记{rng.choice(SOLO)}"
            industry = "批发和零售业"
        else:
            trade, industry = rng.choice(TRADES)
            place = "忻州" if county[0] == "140902" else county[2]
            name = f"{place}{rng.choice(WORDS)}{trade}"
        if name not in used_names:
            used_names.add(name)
            break
    legacy_only = index in (5, 17, 29, 41)  # revoked before 2015: never given a USCC
    est = moment(
        dt.date(1998, 1, 1), dt.date(2014, 6, 30) if legacy_only or index % 2 else dt.date(2025, 6, 30)
    )
    has_regno = est.date() < dt.date(2015, 10, 1)
    entity = {
        "pripid": f"1409{rng.randint(0, 10**12 - 1):012d}{index:04d}",
        "name": name,
        "uscc": None if legacy_only else make_uscc("92" if solo else "91", county[0], ma_body()),
        "regno": make_regno(county[0], solo) if has_regno else None,
        "type": "个体工商户"
        if solo
        else rng.choice(
            [
                "有限责任公司(自然人投资或控股)",
                "有限责任公司(自然人独资)",
                "其他有限责任公司",
                "股份有限公司(非上市、自然人投资或控股)",
            ]
        ),
        "subject_type": "个体工商户" if solo else "法人及非法人组织",
        "legal": person(),
        "county": county,
        "est": est,
        "state": "吊销，未注销"
        if legacy_only
        else rng.choice(["存续（在营、开业、在册）"] * 8 + ["注销", "迁出"]),
        "address": f"山西省忻州市{county[1]}{rng.choice(STREETS)}{rng.randint(1, 300)}号",
        "capital": None if solo else float(rng.choice([50, 100, 200, 300, 500, 800, 1000, 2000, 5000])),
        "industry": industry,
    }
    entities.append(entity)

companies = [e for e in entities if e["subject_type"] != "个体工商户"]
legacy = [e for e in entities if e["uscc"] is None]
with_uscc = [e for e in entities if e["uscc"] is not None]

# ---------------------------------------------------------------------------------------------- 信用中国: 严重失信主体名单
SHORT = {AMR_CITY[0]: "市监", TAX[0]: "税", HRSS[0]: "人社", EMERGENCY[0]: "应急", ECOLOGY[0]: "环"}
LIST_KINDS = [
    (
        "严重违法失信企业名单",
        AMR_CITY,
        "被列入经营异常名录届满3年仍未履行相关义务",
        "《市场监督管理严重违法失信名单管理办法》第十三条",
    ),
    ("重大税收违法失信主体", TAX, "虚开增值税专用发票", "《重大税收违法失信主体信息公布管理办法》第六条"),
    (
        "拖欠农民工工资失信联合惩戒对象名单",
        HRSS,
        "克扣、无故拖欠农民工工资达到认定拖欠农民工工资数额标准",
        "《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》第五条",
    ),
    (
        "安全生产严重失信主体名单",
        EMERGENCY,
        "发生较大生产安全责任事故",
        "《安全生产严重失信主体名单管理办法》第六条",
    ),
    ("环境保护领域失信生产经营单位", ECOLOGY, "超标排放污染物且拒不改正", "《企业环境信用评价办法（试行）》"),
]
serious: list[dict] = []
pool = [e for e in entities if e["subject_type"] != "个体工商户"]
chosen = rng.sample([e for e in pool if e["uscc"]], 36) + legacy[:2]
for index, entity in enumerate(chosen, start=1):
    kind, org, reason, basis = LIST_KINDS[0] if entity["uscc"] is None else rng.choice(LIST_KINDS)
    listed = moment(dt.date(2024, 1, 10), dt.date(2026, 9, 30))
    doc_year = listed.year
    record = {
        "id": f"SXMD-140900-{doc_year}-{index:05d}",
        "subject": {
            "name": entity["name"],
            "creditCode": entity["uscc"],
            "regNo": entity["regno"] if entity["uscc"] is None else None,
            "type": entity["subject_type"],
            "legalPerson": entity["legal"],
        },
        "listType": kind,
        "listReason": reason,
        "basis": basis,
        "decisionDocNo": f"忻{SHORT[org[0]]}失信〔{doc_year}〕{rng.randint(1, 199)}号",
        "listDate": listed.strftime("%Y-%m-%d"),
        "decisionOrg": org[0],
        "decisionOrgCode": org[1],
        "status": "列入",
        "removeDate": None,
        "removeReason": None,
        "removeOrg": None,
        "dataSource": org[0],
        "updateTime": text_time(listed + dt.timedelta(days=rng.randint(0, 3), minutes=rng.randint(1, 600))),
    }
    serious.append(record)
    if index % 6 == 2 and listed.date() < dt.date(2026, 3, 1):  # later removed (信用修复 or expiry)
        removed = listed + dt.timedelta(days=rng.randint(150, 240))
        serious.append(
            {
                **record,
                "status": "移出",
                "removeDate": removed.strftime("%Y-%m-%d"),
                "removeReason": rng.choice(["完成信用修复，提前移出", "公示期满，移出名单"]),
                "removeOrg": org[0],
                "updateTime": text_time(removed + dt.timedelta(hours=rng.randint(1, 30))),
            }
        )

# ---------------------------------------------------------------------------------------------- 信用承诺
COMMIT_TYPES = [
    ("审批替代型", "申请办理食品经营许可证"),
    ("容缺受理型", "申请办理建筑工程施工许可证，容缺受理消防验收材料"),
    ("证明事项型", "申请办理道路运输经营许可证，以承诺代替无犯罪记录证明"),
    ("信用修复型", "申请在信用中国（山西忻州）网站办理行政处罚信息信用修复"),
    ("行业自律型", "忻州市餐饮行业协会会员诚信经营承诺"),
    ("主动型", "主动公开作出诚信经营承诺"),
]
commitments: list[dict] = []
for serial, entity in enumerate(rng.sample(with_uscc, 32), start=1):
    made = moment(dt.date(2025, 1, 6), dt.date(2026, 10, 31))
    kind, reason = rng.choice(COMMIT_TYPES)
    accept = APPROVAL if kind in ("审批替代型", "容缺受理型", "证明事项型") else DRC
    status = rng.choice(["全部履行"] * 5 + ["部分履行", "全部未履行"])
    commitments.append(
        {
            "commitmentCode": f"140900{made:%Y%m%d}{serial:06d}",
            "promisor": {"name": entity["name"], "type": entity["subject_type"], "code": entity["uscc"]},
            "commitmentType": kind,
            "commitmentReason": reason,
            "commitmentContent": "本单位承诺所提供的材料真实、合法、有效，严格遵守相关法律法规，诚信经营，自觉接受监督。",
            "breachLiability": "如违反承诺，愿意承担相应法律责任，同意将违诺信息记入信用记录并依法公开。",
            "commitmentDate": made.strftime("%Y-%m-%d"),
            "validUntil": (made + dt.timedelta(days=365 * rng.choice([1, 2, 3]))).strftime("%Y-%m-%d"),
            "performanceStatus": status,
            "unfulfilledContent": None if status == "全部履行" else "未在承诺期限内补齐消防验收合格证明",
            "breachAccountability": None
            if status == "全部履行"
            else "撤销容缺受理决定，将违诺信息记入信用记录，一年内不再适用告知承诺制",
            "acceptOrg": accept[0],
            "acceptOrgCode": accept[1],
            "publicType": rng.choice(["可向社会公开"] * 4 + ["特定范围内公开"]),
            "updateTime": text_time(
                made + dt.timedelta(hours=rng.randint(1, 72), seconds=rng.randint(0, 59))
            ),
        }
    )

# ---------------------------------------------------------------------------------------------- 信用修复
repairs: list[dict] = []
for serial, entity in enumerate(rng.sample(with_uscc, 26), start=1):
    applied = moment(dt.date(2025, 3, 1), dt.date(2026, 10, 20))
    penalty = rng.random() < 0.7
    decided = applied + dt.timedelta(days=rng.randint(3, 15))
    result = rng.choice(["准予修复"] * 5 + ["不予修复"])
    repairs.append(
        {
            "repairNo": f"XYXF-1409-{applied:%Y%m%d}-{serial:04d}",
            "subject": {"name": entity["name"], "creditCode": entity["uscc"]},
            "repairedRecord": {
                "type": "行政处罚" if penalty else "严重失信主体名单",
                "key": (
                    f"忻{rng.choice(['市监', '环', '交', '应急'])}罚〔{applied.year - 1}〕{rng.randint(1, 300)}号"
                    if penalty
                    else f"SXMD-140900-{applied.year - 1}-{rng.randint(1, 40):05d}"
                ),
            },
            "applyDate": applied.strftime("%Y-%m-%d"),
            "decisionDate": decided.strftime("%Y-%m-%d"),
            "decisionOrg": DRC[0],
            "decisionOrgCode": DRC[1],
            "repairMethod": "提前终止公示" if penalty else "移出名单",
            "result": result,
            "publicPeriodMonths": rng.choice([3, 6, 12]),
            "isPublic": result == "准予修复",
            "updateTime": text_time(
                decided + dt.timedelta(hours=rng.randint(1, 20), seconds=rng.randint(0, 59))
            ),
        }
    )

# ---------------------------------------------------------------------------------------------- 市场主体
market: list[dict] = []
for entity in entities[:52]:
    county = entity["county"]
    updated = moment(dt.date(2025, 1, 1), dt.date(2026, 11, 20))
    market.append(
        {
            "PRIPID": entity["pripid"],
            "ENTNAME": entity["name"],
            "UNISCID": entity["uscc"],
            "REGNO": entity["regno"],
            "ENTTYPE_CN": entity["type"],
            "LEREP": entity["legal"],
            "ESTDATE": entity["est"].strftime("%Y-%m-%d"),
            "REGORG_CN": COUNTY_AMR[county[0]][0],
            "REGSTATE_CN": entity["state"],
            "DOM": entity["address"],
            "DOMDISTRICT": county[0],
            "REGCAP": entity["capital"],
            "REGCAPCUR_CN": None if entity["capital"] is None else "人民币",
            "INDUSTRYPHY_CN": entity["industry"],
            "UPDATETIME": epoch_ms(updated),
        }
    )

# ---------------------------------------------------------------------------------------------- 经营异常名录
CAUSES = [
    "未按照《企业信息公示暂行条例》第八条规定的期限公示年度报告的",
    "通过登记的住所或者经营场所无法联系的",
    "公示企业信息隐瞒真实情况、弄虚作假的",
    "未在市场监督管理部门依照《企业信息公示暂行条例》第十条规定责令的期限内公示有关企业信息的",
]
REMOVE = {
    CAUSES[0]: "依照《企业经营异常名录管理暂行办法》第十一条规定，补报未报年份的年度报告并公示，申请移出",
    CAUSES[1]: "依照《企业经营异常名录管理暂行办法》第十三条规定，依法办理住所变更登记，申请移出",
    CAUSES[2]: "依照《企业经营异常名录管理暂行办法》第十二条规定，更正其公示的信息，申请移出",
    CAUSES[3]: "依照《企业经营异常名录管理暂行办法》第十二条规定，公示有关企业信息，申请移出",
}
abnormal: list[dict] = []
targets = rng.sample([e for e in entities[:52] if e["uscc"]], 30) + [
    e for e in entities[:52] if e["uscc"] is None
]
for serial, entity in enumerate(targets, start=1):
    county = entity["county"]
    org = COUNTY_AMR[county[0]]
    listed = moment(dt.date(2023, 7, 1), dt.date(2026, 8, 31))
    cause = CAUSES[0] if entity["uscc"] is None else rng.choice(CAUSES)
    record = {
        "BUSEXCLIST": f"{county[0]}{listed:%Y%m%d}{serial:06d}",
        "PRIPID": entity["pripid"],
        "ENTNAME": entity["name"],
        "UNISCID": entity["uscc"],
        "REGNO": entity["regno"],
        "SPECAUSE": str(CAUSES.index(cause) + 1),
        "SPECAUSE_CN": cause,
        "ABNTIME": listed.strftime("%Y-%m-%d"),
        "DECORG_CN": org[0],
        "DECORGID": org[1],
        "REMEXCPRES_CN": None,
        "REMDATE": None,
        "REDECORG_CN": None,
        "UPDATETIME": epoch_ms(listed + dt.timedelta(hours=rng.randint(1, 48))),
    }
    abnormal.append(record)
    if serial % 4 == 1 and entity["uscc"] is not None and listed.date() < dt.date(2026, 4, 1):
        removed = listed + dt.timedelta(days=rng.randint(40, 200))
        abnormal.append(
            {
                **record,
                "REMEXCPRES_CN": REMOVE[cause],
                "REMDATE": removed.strftime("%Y-%m-%d"),
                "REDECORG_CN": org[0],
                "UPDATETIME": epoch_ms(removed + dt.timedelta(hours=rng.randint(1, 30))),
            }
        )

# ---------------------------------------------------------------------------------------------- 双随机抽查
ITEMS = [
    ("营业执照（登记证）规范使用情况的检查", ["未发现问题", "发现问题已责令改正"]),
    ("年度报告公示信息的检查", ["未发现问题", "公示信息隐瞒真实情况弄虚作假"]),
    ("经营（驻在）期限的检查", ["未发现问题"]),
    ("食品经营者经营条件的检查", ["未发现问题", "发现问题已责令改正", "发现问题待后续处理"]),
    ("产品质量的检查", ["未发现问题", "发现问题待后续处理"]),
]
spot: list[dict] = []
for serial, entity in enumerate(rng.sample(entities[:52], 34), start=1):
    county = entity["county"]
    done = moment(dt.date(2025, 4, 1), dt.date(2026, 11, 15))
    plan = f"{county[0]}{done.year}{rng.randint(1, 4):02d}"
    items = [
        {"ITEM": item, "RESULT": rng.choice(results)}
        for item, results in rng.sample(ITEMS, rng.randint(1, 3))
    ]
    problems = [i["RESULT"] for i in items if i["RESULT"] != "未发现问题"]
    if entity["uscc"] is None:
        items = [{"ITEM": "经营（驻在）期限的检查", "RESULT": "通过登记的住所（经营场所）无法联系"}]
        problems = [items[0]["RESULT"]]
    spot.append(
        {
            "CHECKID": f"SJ{county[0]}{done:%Y%m%d}{serial:05d}",
            "PRIPID": entity["pripid"],
            "ENTNAME": entity["name"],
            "UNISCID": entity["uscc"],
            "REGNO": entity["regno"],
            "INSPLANNO": plan,
            "INSPLANNAME": f"{county[2]}{done.year}年度第{int(plan[-2:])}批次双随机一公开抽查计划",
            "INSTASKNO": f"{plan}{rng.randint(1, 20):03d}",
            "INSTASKNAME": f"{done.year}年{county[2]}市场主体登记事项及公示信息抽查",
            "INSTYPE_CN": rng.choice(["不定向", "不定向", "定向"]),
            "INSORG_CN": COUNTY_AMR[county[0]][0],
            "INSDATE": done.strftime("%Y-%m-%d"),
            "INSITEMS": items,
            "INSRES_CN": problems[0] if problems else "未发现问题",
            "UPDATETIME": epoch_ms(done + dt.timedelta(hours=rng.randint(1, 40))),
        }
    )

# ---------------------------------------------------------------------------------------- 公示系统 信用修复
# Market-supervision repairs go through the disclosure system (国市监信规〔2021〕3号). One names a penalty of
# the demo's late submissions (忻市监罚〔2025〕6号, samples/inbox_history/xz_amr): the demo shows it withdrawn
# from the feed. The others name penalties the samples do not hold (the gateway reports them as unmatched),
# and one was refused (不予修复, it repairs nothing). Drawn last, so the datasets above stay as they were.
CITY_AMR = ("忻州市市场监督管理局", "11140900MB1950016E")
repair_decisions: list[dict] = [
    {
        "REPAIRNO": "SCXF-1409-2026-00031",
        "ENTNAME": "忻州鑫源法兰制造有限公司",
        "UNISCID": "91140902MA0U269B94",
        "REPTYPE_CN": "行政处罚",
        "PENDECNO": "忻市监罚〔2025〕6号",
        "REPDATE": "2026-11-24",
        "REPORG_CN": CITY_AMR[0],
        "REPORGCODE": CITY_AMR[1],
        "REPMODE_CN": "提前停止公示行政处罚信息",
        "REPRES_CN": "准予信用修复",
        "UPDATETIME": epoch_ms(dt.datetime(2026, 11, 24, 16, 5, 11)),
    }
]
for serial, entity in enumerate(rng.sample(with_uscc, 19), start=32):
    decided = moment(dt.date(2026, 5, 1), dt.date(2026, 11, 20))
    repair_decisions.append(
        {
            "REPAIRNO": f"SCXF-1409-{decided.year}-{serial:05d}",
            "ENTNAME": entity["name"],
            "UNISCID": entity["uscc"],
            "REPTYPE_CN": "行政处罚",
            "PENDECNO": f"忻市监罚〔{decided.year - 1}〕{rng.randint(300, 400)}号",
            "REPDATE": decided.strftime("%Y-%m-%d"),
            "REPORG_CN": CITY_AMR[0],
            "REPORGCODE": CITY_AMR[1],
            "REPMODE_CN": "提前停止公示行政处罚信息",
            "REPRES_CN": "不予信用修复" if serial == 34 else "准予信用修复",
            "UPDATETIME": epoch_ms(decided + dt.timedelta(hours=rng.randint(1, 30))),
        }
    )

OUT.mkdir(parents=True, exist_ok=True)
for name, rows in [
    ("serious_dishonesty", serious),
    ("credit_commitment", commitments),
    ("credit_repair", repairs),
    ("market_entity", market),
    ("abnormal_operation", abnormal),
    ("spot_check", spot),
    ("repair_decision", repair_decisions),
]:
    (OUT / f"{name}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(name, len(rows))
