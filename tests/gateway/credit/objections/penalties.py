"""Helpers of the objections' tests: a store holding a department's penalties as intake leaves them —
records, versions and pending outbox rows — put there through the real drop-folder path (gateway.ingest),
so a correction can arrive the way a department sends one: a file with the changed row. And the delivery
batcher, to see what leaves for the hub.

The file is written here in the national template's columns (UTF-8), not taken from samples/, so the tests
do not move when the demo's files do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from gateway.delivery.batcher import build_batches
from gateway.ingest import ingest_file
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import outbox, record, record_version

DEPARTMENT = "xz_amr"
AUTHORITY = "11140900MB1950016E"
ENTERPRISE = "91140902MA0K2B3C30"  # 忻州市晋北商贸有限公司
OTHER = "91140921MA0K4D5E9E"  # 定襄县宏达机械制造有限公司
RAISED_AT = datetime(2026, 9, 29, 2, tzinfo=UTC)  # 10:00 on Tuesday 2026-09-29 in Xinzhou
HEADER = (
    "行政相对人名称,行政相对人类别,行政相对人代码_1（统一社会信用代码）,行政相对人代码_2(工商注册号),"
    "行政相对人代码_3(组织机构代码),行政相对人代码_4(税务登记号),行政相对人代码_5(事业单位证书号),"
    "行政相对人代码_6(社会组织登记证号),法定代表人,法定代表人证件类型,法定代表人证件号码,证件类型,证件号码,"
    "行政处罚决定书文号,违法行为类型,违法事实,处罚依据,处罚类别,处罚内容,罚款金额(万元),"
    "没收违法所得、没收非法财物的金额（万元）,暂扣或吊销证照名称及编号,处罚决定日期,处罚有效期,公示截止期,"
    "处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码,备注"
)
NAMES = {ENTERPRISE: "忻州市晋北商贸有限公司", OTHER: "定襄县宏达机械制造有限公司"}


def key(number: int) -> str:
    """The natural key of penalty 忻市监罚〔2026〕<number>号 (处罚机关代码|决定书文号)."""
    return f"{AUTHORITY}|忻市监罚〔2026〕{number}号"


def penalty_row(number: int, uscc: str, fine: str) -> str:
    return (
        f"{NAMES[uscc]},法人及非法人组织,{uscc},,,,,,王建国,,,,,忻市监罚〔2026〕{number}号,销售过期食品,"
        f"检查发现销售超过保质期的预包装食品。,《中华人民共和国食品安全法》第一百二十四条,罚款,"
        f"罚款人民币{fine}万元,{fine},,,2026-09-08,2027-12-31,2027-05-31,忻州市市场监督管理局,{AUTHORITY},"
        f"忻州市市场监督管理局,{AUTHORITY},"
    )


def send(settings: Settings, folder: Path, name: str, rows: list[tuple[int, str, str]]) -> None:
    """The department drops a file of penalties (number, USCC, fine in 万元) and intake takes it."""
    path = folder / name
    path.write_text("\n".join([HEADER, *(penalty_row(*row) for row in rows)]) + "\n", encoding="utf-8")
    result = ingest_file(settings, path, DEPARTMENT)
    assert result.receipt.status == "accepted", result.receipt


FIRST_FILE = [(101, ENTERPRISE, "0.5"), (102, OTHER, "3"), (103, ENTERPRISE, "1")]


def record_id(settings: Settings, number: int) -> int:
    with engine_for(settings.database_url).connect() as conn:
        return int(conn.execute(select(record.c.id).where(record.c.natural_key == key(number))).scalar_one())


def build(settings: Settings) -> list[tuple[int, int]]:
    """Batch whatever may go; returns the (record id, version) of every outbox row batched by this call."""
    before = outbox_rows(settings)
    build_batches(settings, {"admin_penalty": load_record_types(settings.schemas_dir)["admin_penalty"]})
    after = outbox_rows(settings)
    return [row for row, batch in after.items() if batch is not None and before[row] is None]


def outbox_rows(settings: Settings) -> dict[tuple[int, int], str | None]:
    """(record id, version) → the batch its outbox row is in (None: still pending), in outbox order."""
    stmt = (
        select(record_version.c.record_id, record_version.c.version, outbox.c.batch_id)
        .join(record_version, record_version.c.id == outbox.c.record_version_id)
        .order_by(outbox.c.id)
    )
    with engine_for(settings.database_url).connect() as conn:
        return {(rid, version): batch for rid, version, batch in conn.execute(stmt)}
