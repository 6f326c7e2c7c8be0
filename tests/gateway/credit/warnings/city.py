"""A small city for the warnings' tests, as of 2026-06-30: one or two entities per rule that should fire,
and a neighbour that should not (outside the window, removed, withdrawn, repaired, below the threshold).
Used by tests/gateway/credit/warnings/conftest.py and the DAG's test."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gateway.settings import CREDIT_DEFAULTS
from tests.gateway.credit.seed import AS_OF, Seed, market_entity, penalty

# The shipped rules' kinds with thresholds small enough for a handful of records.
RULES = """
version: 1
levels:
  - {id: red, label: 红色预警}
  - {id: orange, label: 橙色预警}
  - {id: yellow, label: 黄色预警}
  - {id: blue, label: 蓝色预警}
routing:
  default_department: xz_credit
  routes:
    - {record_type: dishonest_debtor, department: xz_court}
    - {record_type: admin_license, field: XK_XKJG, contains: [生态环境], department: xz_ecology}
rules:
  - {id: penalties, label: 多次行政处罚, level: orange, kind: repeated_penalties, days: 365, min_count: 3,
     title: "近{days}日内受到行政处罚{count}次（罚款合计{fine_total}万元）"}
  - {id: dishonesty_listed, label: 新列入严重违法失信名单, level: red, kind: new_listing,
     list: serious_dishonesty, days: 30, title: "新列入严重违法失信名单（{listed_on}）"}
  - {id: abnormal_listed, label: 新列入经营异常名录, level: yellow, kind: new_listing,
     list: abnormal_operation, days: 30}
  - {id: debtor, label: 新增失信被执行人, level: red, kind: new_dishonest_debtor, days: 30,
     title: "新增失信被执行人记录（{court}）"}
  - {id: complaints, label: 投诉激增, level: yellow, kind: complaint_surge, min_ratio: 2, min_count: 5,
     title: "近{months}个月投诉{recent}件，此前{prior}件"}
  - {id: expiring, label: 许可即将到期, level: blue, kind: licence_expiring, days: 60,
     title: "许可将于{valid_to}到期（剩{days_left}日）"}
  - {id: expired, label: 许可过期仍有效, level: yellow, kind: licence_expired,
     title: "许可已于{valid_to}到期（逾期{days_overdue}日）"}
  - {id: address, label: 同址主体多, level: blue, kind: shared_address, min_entities: 3,
     exclude_states: [注销, 吊销], title: "同一住所{entities}户"}
  - {id: person, label: 同一法定代表人主体多, level: blue, kind: shared_representative, min_entities: 3,
     title: "{representative}名下{entities}户"}
  - {id: related, label: 关联主体失信, level: yellow, kind: related_dishonest,
     title: "{representative}的{related}户关联主体失信"}
  - {id: class_drop, label: 信用风险分类下降, level: orange, kind: class_drop,
     title: "风险分类下降（{period}）"}
"""


def credit_dir(tmp_path: Path, rules: str = RULES) -> Path:
    folder = tmp_path / "credit"
    folder.mkdir(exist_ok=True)
    (folder / "warning_rules.yaml").write_text(rules, encoding="utf-8")
    shutil.copyfile(CREDIT_DEFAULTS / "repairs.yaml", folder / "repairs.yaml")
    return folder


def build_city(seed: Seed) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    e = ids["penalised"] = seed.entity("甲商贸有限公司")
    ids["penalties"] = [
        penalty(seed, e, "忻市监罚〔2026〕1号", "2026-01-10", department="xz_amr_enforcement"),
        penalty(seed, e, "忻市监罚〔2026〕2号", "2026-03-05", "2", department="xz_amr_enforcement"),
        penalty(seed, e, "忻市监罚〔2026〕3号", "2026-06-01", "1", department="xz_amr_enforcement"),
    ]
    penalty(seed, e, "忻市监罚〔2024〕9号", "2024-06-01")  # outside the year
    e = ids["two_penalties"] = seed.entity("乙商贸有限公司")
    penalty(seed, e, "忻市监罚〔2026〕11号", "2026-02-01")
    penalty(seed, e, "忻市监罚〔2026〕12号", "2026-04-01")
    e = ids["withdrawn"] = seed.entity("丙商贸有限公司")  # three penalties, one withdrawn by its department
    penalty(seed, e, "忻市监罚〔2026〕21号", "2026-02-01")
    penalty(seed, e, "忻市监罚〔2026〕22号", "2026-03-01")
    penalty(seed, e, "忻市监罚〔2026〕23号", "2026-04-01", status="withdrawn")

    e = ids["dishonest"] = seed.entity("丁实业有限公司")
    ids["listing"] = seed.record(
        e,
        "serious_dishonesty",
        "YZ-2026-001",
        {"LIST_ID": "YZ-2026-001", "ABNTIME": "2026-06-20", "DECORG_CN": "忻州市市场监督管理局"},
    )
    market_entity(seed, e, "丁实业有限公司", "张三", "忻州市忻府区长征街8号")
    e = ids["related"] = seed.entity("戊贸易有限公司")
    market_entity(seed, e, "戊贸易有限公司", "张 三", "忻州市忻府区七一路2号")
    e = ids["abnormal"] = seed.entity("己餐饮店")
    seed.record(
        e,
        "abnormal_operation",
        "YC-1",
        {"LIST_ID": "YC-1", "ABNTIME": "2026-06-25", "DECORG_CN": "忻府区市场监督管理局"},
    )
    seed.record(e, "abnormal_operation", "YC-0", {"LIST_ID": "YC-0", "ABNTIME": "2026-04-01"})  # too old
    e = ids["debtor"] = seed.entity("庚建筑有限公司")
    seed.record(
        e,
        "dishonest_debtor",
        "忻州市中级人民法院|(2026)晋09执1号|庚建筑有限公司",
        {
            "caseCode": "(2026)晋09执1号",
            "courtName": "忻州市中级人民法院",
            "regDate": "2026-06-01",
            "publishDate": "2026-06-15",
        },
        department="judicial_feed",
    )
    seed.record(  # removed before the day: not a new record any more
        e,
        "dishonest_debtor",
        "忻州市中级人民法院|(2026)晋09执2号|庚建筑有限公司",
        {
            "caseCode": "(2026)晋09执2号",
            "courtName": "忻州市中级人民法院",
            "publishDate": "2026-06-10",
            "removeDate": "2026-06-20",
        },
        department="judicial_feed",
    )

    for name, recent, prior in (("surge", 5, 1), ("steady", 5, 4)):
        e = ids[name] = seed.entity(f"{name}公司")
        days = [f"2026-0{4 + i % 3}-1{i}" for i in range(recent)] + [
            f"2026-0{1 + i % 3}-0{i + 1}" for i in range(prior)
        ]
        for n, accepted in enumerate(days):
            seed.record(
                e,
                "complaint",
                f"12345|{name}{n}",
                {"complaint_no": f"{name}{n}", "accept_date": accepted},
                department="xz_12345",
            )

    e = ids["licensed"] = seed.entity("辛化工有限公司")
    licence = {"XK_XKWS": "排污许可决定书", "XK_XKJG": "忻州市生态环境局"}
    ids["expiring"] = seed.record(
        e, "admin_license", "L|1", {**licence, "XK_WSH": "1", "XK_YXQZI": "2026-07-20", "XK_ZT": "1"}
    )
    seed.record(
        e, "admin_license", "L|2", {**licence, "XK_WSH": "2", "XK_YXQZI": "2026-09-30", "XK_ZT": "1"}
    )  # later
    ids["expired"] = seed.record(
        e, "admin_license", "L|3", {**licence, "XK_WSH": "3", "XK_YXQZI": "2026-05-01", "XK_ZT": "1"}
    )
    seed.record(
        e, "admin_license", "L|4", {**licence, "XK_WSH": "4", "XK_YXQZI": "2026-05-01", "XK_ZT": "2"}
    )  # ended

    ids["same_address"] = []
    for n, address in enumerate(
        ("忻州市忻府区和平街１号", "忻州市忻府区和平街1号 ", "忻州市 忻府区 和平街1号")
    ):
        e = seed.entity(f"和平{n}号店")
        ids["same_address"].append(e)
        market_entity(seed, e, f"和平{n}号店", f"店主{n}", address)
    market_entity(seed, seed.entity("和平注销店"), "和平注销店", "店主9", "忻州市忻府区和平街1号", "注销")
    ids["same_person"] = []
    for n in range(3):
        e = seed.entity(f"王五{n}号公司")
        ids["same_person"].append(e)
        market_entity(seed, e, f"王五{n}号公司", "王五", f"忻州市忻府区建设路{n + 10}号")

    ids["moved"] = [ids["two_penalties"], ids["withdrawn"], ids["abnormal"]]
    seed.run(
        "2026-04",
        AS_OF.replace(month=4, day=30),
        {ids["two_penalties"]: "B", ids["withdrawn"]: "C", ids["surge"]: "A"},
    )
    seed.run(
        "2026-05",
        AS_OF.replace(month=5, day=31),
        {ids["two_penalties"]: "C", ids["withdrawn"]: "D", ids["surge"]: "A", ids["abnormal"]: "D"},
    )
    seed.run("2026-06", AS_OF.replace(month=6, day=30), {ids["surge"]: "D"}, status="running")  # not finished
    seed.run("2026-07", AS_OF.replace(month=7, day=31), {ids["surge"]: "D"})  # after the day
    return ids
