"""A small city for the lookup: entities named by each kind of code, their records in every block the standing
shows (and some it must not show), callers of each role, and a client of the app on the parametrised
database (SQLite and PostgreSQL).

The publicity periods and objections are written into their tables as the publicity and objection packages
would leave them; the tables are reflected from the migrated database, not imported, so these tests read
them exactly as gateway.credit.lookup does — with SQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, MetaData, Table, insert, update

from gateway.credit.lookup.app import create_app
from gateway.credit.lookup.keys import add_key_caller, revoke
from gateway.ids import orgcode, regno, uscc
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity, record, source_cursor, source_file
from tests.gateway.credit.seed import Seed

NOW = datetime.now(UTC)


def valid_uscc(body17: str) -> str:
    return body17 + uscc.calc_check(body17)


def valid_org(body8: str) -> str:
    return body8 + orgcode.calc_check(body8)


def valid_regno(body14: str) -> str:
    return body14 + regno.calc_check(body14)


ORG = valid_org("MA0K7Q2B")
USCC = valid_uscc("91140900" + ORG)  # 忻州市恒通商贸有限公司, the entity with something in every block
REG_NO = valid_regno("14090000012345")
CLEAN_USCC = valid_uscc("91140900" + valid_org("MA0K7Q3C"))  # an entity with a registration and nothing else
LEGACY_ORG = valid_org("12345678")  # an entity known only by legacy codes (no USCC)
SHARED_REG = valid_regno("14090000099999")  # two entities share this registration number
UNKNOWN_USCC = valid_uscc("91140900" + valid_org("MA0K7Q4D"))
PERSON_ID = "11010519491231002X"  # a resident ID number typed into the code box


def reflected(conn: Connection, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=conn)


@dataclass
class World:
    settings: Settings
    today: date
    keys: dict[str, str] = field(default_factory=dict)  # caller name → API key
    ids: dict[str, int] = field(default_factory=dict)  # what → record or entity id


def _build(settings: Settings) -> World:
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    world = World(settings, today)
    ids = world.ids
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        main = seed.entity("忻州市恒通商贸有限公司", USCC)
        conn.execute(update(entity).where(entity.c.id == main).values(org_code=ORG, reg_no=REG_NO))
        ids["entity"] = main
        seed.record(
            main,
            "market_entity",
            "P0001",
            {
                "PRIPID": "P0001",
                "ENTNAME": "忻州市恒通商贸有限公司",
                "UNISCID": USCC,
                "NAME": "王建国",
                "ENTTYPE_CN": "有限责任公司（自然人投资或控股）",
                "REGSTATE_CN": "存续（在营、开业、在册）",
                "REGORG_CN": "忻州市市场监督管理局",
                "ESTDATE": "2016-03-08",
                "DOM": "忻州市忻府区和平街 1 号",
            },
            department="xz_registry",
        )
        listing = {
            "LIST_ID": "SX-2025-001",
            "ENTNAME": "忻州市恒通商贸有限公司",
            "SERILLREA_CN": "提交虚假材料取得登记",
            "ABNTIME": "2025-06-01",
            "DECORG_CN": "忻州市市场监督管理局",
        }
        ids["serious"] = seed.record(main, "serious_dishonesty", "SX-2025-001", listing)
        seed.record(
            main,
            "serious_dishonesty",
            "SX-2019-007",
            listing | {"LIST_ID": "SX-2019-007"},
            status="withdrawn",
        )
        ids["abnormal"] = seed.record(
            main,
            "abnormal_operation",
            "YC-2026-031",
            {
                "LIST_ID": "YC-2026-031",
                "SPECAUSE_CN": "未按照规定期限公示年度报告",
                "ABNTIME": "2026-07-10",
                "DECORG_CN": "忻州市忻府区市场监督管理局",
            },
        )
        ids["debtor"] = seed.record(
            main,
            "dishonest_debtor",
            "court|（2026）晋0902执123号|name",
            {
                "caseCode": "（2026）晋0902执123号",
                "courtName": "忻州市忻府区人民法院",
                "performance": "全部未履行",
                "disruptTypeName": "有履行能力而拒不履行生效法律文书确定义务",
                "publishDate": "2026-04-02",
                "cardNum": "140902198503121234",
                "iname": "忻州市恒通商贸有限公司",
            },
            department="court_feed",
        )
        ids["penalty_in"] = seed.record(
            main,
            "admin_penalty",
            "k|忻市监罚〔2026〕10号",
            {"CF_WSH": "忻市监罚〔2026〕10号", "CF_JDRQ": "2026-03-01"},
        )
        ids["penalty_ended"] = seed.record(
            main,
            "admin_penalty",
            "k|忻市监罚〔2024〕2号",
            {"CF_WSH": "忻市监罚〔2024〕2号", "CF_JDRQ": "2024-01-05"},
        )
        ids["penalty_open"] = seed.record(
            main,
            "admin_penalty",
            "k|忻市监罚〔2026〕11号",
            {"CF_WSH": "忻市监罚〔2026〕11号", "CF_JDRQ": "2026-05-01", "CF_FR_ZJHM": "140902198503121234"},
        )
        ids["penalty_stale"] = seed.record(
            main,
            "admin_penalty",
            "k|忻市监罚〔2026〕12号",
            {"CF_WSH": "忻市监罚〔2026〕12号", "CF_JDRQ": "2026-05-02"},
        )
        seed.new_version(ids["penalty_stale"], 2, {"CF_WSH": "忻市监罚〔2026〕12号", "CF_JDRQ": "2026-05-03"})
        seed.record(
            main,
            "admin_penalty",
            "k|忻市监罚〔2023〕1号",
            {"CF_WSH": "忻市监罚〔2023〕1号", "CF_JDRQ": "2023-01-05"},
            status="expired",
        )
        ids["penalty_repaired"] = seed.record(
            main,
            "admin_penalty",
            "k|忻市监罚〔2025〕5号",
            {"CF_WSH": "忻市监罚〔2025〕5号", "CF_JDRQ": "2025-02-05"},
            status="repaired",
        )
        ids["repair"] = seed.record(
            main,
            "credit_repair",
            "XF-2026-01",
            {
                "repair_no": "XF-2026-01",
                "repaired_type": "行政处罚信息",
                "repaired_key": "忻市监罚〔2025〕5号",
                "repair_date": "2026-02-01",
                "repair_authority": "忻州市发展和改革委员会",
                "repair_result": "准予修复",
            },
        )
        later = (today + timedelta(days=200)).isoformat()
        earlier = (today - timedelta(days=30)).isoformat()
        commitment = {
            "commitmentType": "证明事项告知承诺",
            "reason": "食品经营许可",
            "commitmentDate": "2026-01-10",
        }
        ids["commit_in_force"] = seed.record(
            main,
            "credit_commitment",
            "CN-1",
            commitment | {"code": "CN-1", "commitmentValidity": later, "fulfillmentStatus": "部分履行"},
        )
        ids["commit_breached"] = seed.record(
            main,
            "credit_commitment",
            "CN-2",
            commitment | {"code": "CN-2", "commitmentValidity": earlier, "fulfillmentStatus": "全部未履行"},
        )
        seed.record(  # done and over: not shown
            main,
            "credit_commitment",
            "CN-3",
            commitment | {"code": "CN-3", "commitmentValidity": earlier, "fulfillmentStatus": "全部履行"},
        )
        ids["commit_private"] = seed.record(
            main,
            "credit_commitment",
            "CN-4",
            commitment
            | {"code": "CN-4", "commitmentValidity": later, "fulfillmentStatus": "全部履行"}
            | {"publicationType": "不可公开"},
        )
        seed.record(main, "admin_license", "XK-1", {"XK_WSH": "XK-1"})  # a type the lookup does not show

        publicity = reflected(conn, "credit_publicity")
        period = {
            "regime": "samr",
            "tier": "general",
            "basis": "罚款",
            "computed_at": NOW,
            "repairable_on": None,
        }
        conn.execute(
            insert(publicity),
            [
                period
                | {
                    "record_id": ids["penalty_in"],
                    "version": 1,
                    "starts_on": date(2026, 3, 1),
                    "repairable_on": date(2026, 6, 1),
                    "ends_on": today + timedelta(days=90),
                },
                period
                | {
                    "record_id": ids["penalty_ended"],
                    "version": 1,
                    "starts_on": date(2024, 1, 5),
                    "ends_on": today - timedelta(days=1),
                },
                period  # computed for version 1, the record is at version 2: not valid any more
                | {
                    "record_id": ids["penalty_stale"],
                    "version": 1,
                    "starts_on": date(2026, 5, 2),
                    "ends_on": today + timedelta(days=10),
                },
                period
                | {
                    "record_id": ids["serious"],
                    "version": 1,
                    "starts_on": date(2025, 6, 1),
                    "ends_on": date(2028, 6, 1),
                },
            ],
        )
        objection = reflected(conn, "credit_objection")
        raised = {
            "record_version": 1,
            "channel": "department",
            "reason": "处罚决定已被复议撤销",
            "raised_on": today - timedelta(days=2),
            "deadline": today + timedelta(days=8),
            "raised_at": NOW,
        }
        conn.execute(
            insert(objection),
            [
                raised | {"record_id": ids["penalty_open"], "raised_by": "xz_amr", "state": "open"},
                raised | {"record_id": ids["penalty_in"], "raised_by": "xz_amr", "state": "upheld"},
            ],
        )
        # freshness: the registry was received an hour ago, the court feed is a pulled source with a cursor
        conn.execute(
            update(source_file)
            .values(record_type="market_entity", received_at=NOW - timedelta(hours=1))
            .where(source_file.c.source_id == "xz_registry")
        )
        conn.execute(
            update(source_file)
            .values(record_type="dishonest_debtor", kind="api")
            .where(source_file.c.source_id == "court_feed")
        )
        conn.execute(insert(source_cursor).values(source_id="court_feed", cursor="{}", updated_at=NOW))

        clean = seed.entity("忻州市晋源运输有限公司", CLEAN_USCC)
        ids["clean"] = clean
        seed.record(clean, "market_entity", "P0002", {"PRIPID": "P0002", "ENTNAME": "忻州市晋源运输有限公司"})
        legacy = seed.entity(
            "忻州市老字号酿造厂"
        )  # its made-up USCC is taken away: known by legacy codes only
        conn.execute(update(entity).where(entity.c.id == legacy).values(uscc=None, org_code=LEGACY_ORG))
        ids["legacy"] = legacy
        for n, name in enumerate(("忻州市甲公司", "忻州市乙公司")):
            twin = seed.entity(name, valid_uscc("91140900" + valid_org(f"MA0K7R{n}X")))
            conn.execute(update(entity).where(entity.c.id == twin).values(reg_no=SHARED_REG))

        seed.run("2026-10", date(2026, 10, 31), {main: "B"})
        seed.run("2026-11", date(2026, 11, 30), {main: "D", clean: "A"})
        seed.run("2026-12", date(2026, 12, 31), {main: "A"}, status="running")  # not finished: ignored
        conn.execute(update(record).values(updated_at=NOW))

        for name, department, role in (
            ("xz-tax", "忻州市税务局", "department"),
            ("xz-amr", "忻州市市场监督管理局", "internal"),
            ("audit", "忻州市审计局", "auditor"),
            ("gone", "忻州市住建局", "department"),
        ):
            _, world.keys[name] = add_key_caller(conn, name, department, role)
        revoke(conn, "gone")
    return world


@pytest.fixture
def world(settings: Settings) -> World:
    return _build(settings)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings)) as test_client:
        yield test_client


def bearer(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[name]}"}
