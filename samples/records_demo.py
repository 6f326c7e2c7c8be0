"""The demo's records step, run while the local hub is still up: what the credit_publicity DAG withdrew
(publicity ended, repaired) and whether the hub got it; an objection that holds a record back from the hub
until the department's correction resolves it; lookups of the 逢办必查 API by each kind of code.

Idempotent like the rest of the demo: the objection is raised and resolved on the first run only; later runs
show its history instead, and the lookups are asked again (each is logged again, as every query is).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from sqlalchemy import Connection, String, cast, func, select

from gateway.settings import Settings

SAMPLES = Path(__file__).resolve().parent / "inbox"
# The objection: 定襄县宏达机械制造有限公司 disputes the amount of its penalty of 2026-10-09; the market
# supervision bureau corrects it (3 万元 → 2.5 万元) by sending the row again.
OBJECTED = ("admin_penalty", "11140900MB1950016E|忻市监罚〔2026〕102号")
OBJECTION_REASON = "当事人提出异议：罚款金额录入有误，决定书载明为贰万伍仟元"
CORRECTED_FILE = "行政处罚信息-更正（忻市监罚〔2026〕102号）.csv"


def run_records(settings: Settings, console: Console, hub_url: str) -> None:
    delivering = settings.with_overrides(hub_url=hub_url)
    show_withdrawals(settings, console)
    show_objection(delivering, console)


# ------------------------------------------------------------------------------------------- withdrawals


def show_withdrawals(settings: Settings, console: Console) -> None:
    from gateway.store.db import engine_for

    with engine_for(settings.database_url).connect() as conn:
        rows = list(_withdrawals(conn))
        conflicts = _conflicts(conn)
    head = "publicity ended, credit repaired (公示期满、信用修复)"
    console.print(f"\n[bold]{head}[/]: {len(rows)} records withdrawn by the gateway so far")
    for reason, record_type, key, status, why in rows:
        label = {"publicity_expired": "公示期满", "credit_repaired": "信用修复"}[reason]
        console.print(f"  {label}: {record_type} {escape(key.split('|')[-1])} — {escape(why)}; hub: {status}")
    if conflicts:
        console.print(f"  {conflicts} records carry a 公示截止期 the rules contradict: the rules' end holds")
        console.print("  [dim](gateway credit publicity conflicts lists them)[/]")


def _withdrawals(conn: Connection) -> Iterator[tuple[str, str, str, str, str]]:
    """Each gateway withdrawal with the state of the batch that carried it to the hub."""
    from gateway.store.tables import audit, delivery_batch, outbox, record, record_version

    stmt = (
        select(
            record_version.c.reason,
            record.c.record_type,
            record.c.natural_key,
            delivery_batch.c.status,
            delivery_batch.c.batch_id,
            audit.c.detail,
        )
        .join(record, record.c.id == record_version.c.record_id)
        .outerjoin(outbox, outbox.c.record_version_id == record_version.c.id)
        .outerjoin(delivery_batch, delivery_batch.c.batch_id == outbox.c.batch_id)
        .outerjoin(
            audit,
            (audit.c.subject_type == "record")
            & (audit.c.subject_id == cast(record.c.id, String))
            & (audit.c.action.in_(("record.expired", "record.repaired"))),
        )
        .where(record_version.c.reason.isnot(None))
        .order_by(record_version.c.id)
    )
    for reason, record_type, key, status, batch_id, detail in conn.execute(stmt):
        found = json.loads(detail or "{}")
        if reason == "publicity_expired":
            why = f"published until {found.get('ends_on')} ({found.get('regime')}, {found.get('tier')})"
        else:
            why = f"repair decision record {found.get('repair_record_id')} of {found.get('repair_date')}"
        hub = f"{status} in batch {batch_id}" if batch_id else "the hub never had it"
        yield reason, record_type, key, hub, why


def _conflicts(conn: Connection) -> int:
    from gateway.credit.publicity.tables import credit_publicity

    return int(
        conn.execute(
            select(func.count()).select_from(credit_publicity).where(credit_publicity.c.conflict.isnot(None))
        ).scalar_one()
    )


# --------------------------------------------------------------------------------------------- objection


def show_objection(settings: Settings, console: Console) -> None:
    from gateway.credit.objections.queries import history
    from gateway.credit.objections.service import raise_objection, resolve
    from gateway.credit.objections.tables import credit_objection
    from gateway.store.db import engine_for
    from gateway.store.tables import record

    console.print("\n[bold]objection (异议)[/]")
    engine = engine_for(settings.database_url)
    with engine.connect() as conn:
        record_id = conn.execute(
            select(record.c.id).where(
                record.c.record_type == OBJECTED[0], record.c.natural_key == OBJECTED[1]
            )
        ).scalar_one()
        earlier = conn.execute(
            select(credit_objection.c.id).where(credit_objection.c.record_id == record_id)
        ).scalar()
    if earlier is None:
        raised = raise_objection(
            settings,
            channel="department",
            raised_by="xz_amr",
            reason=OBJECTION_REASON,
            record_id=record_id,
            actor="demo",
        )
        console.print(
            f"  objection {raised.objection_id} on {OBJECTED[1].split('|')[1]} (record {record_id}) "
            "by xz_amr, "
            f"reply due {raised.deadline}: the record is held"
        )
        receipt = _send_correction(settings)
        console.print(f"  the bureau sends the corrected row: {escape('; '.join(receipt['warnings']))}")
        held = _deliver(settings)
        console.print(f"  delivery now: {held['acknowledged']} batches acknowledged; the correction is held")
        resolve(settings, raised.objection_id, "corrected", "xz_amr 法制科", note="按更正后的决定书重新报送")
        sent = _deliver(settings)
        console.print(
            f"  resolved as corrected, the hold lifted; delivery: {sent['acknowledged']} batch acknowledged "
            "(the record's versions, ending with the correction)"
        )
        earlier = raised.objection_id
    else:
        console.print(f"  objection {earlier} was raised and resolved by an earlier run; its history:")
    with engine.connect() as conn:
        for event in history(conn, earlier):
            console.print(f"    {event['at']:%Y-%m-%d %H:%M} {escape(event['actor'])}: {event['action']}")
        version = conn.execute(select(record.c.version).where(record.c.id == record_id)).scalar_one()
    console.print(f"  record {record_id} is now at version {version}")


def _send_correction(settings: Settings) -> dict[str, object]:
    """The sample row of 忻市监罚〔2026〕102号 with the corrected amount, dropped as the bureau would."""
    from gateway.ingest import ingest_file

    source = SAMPLES / "xz_amr" / "2026年10月行政处罚信息.csv"
    rows = list(csv.reader(io.StringIO(source.read_bytes().decode("gbk"))))
    head = rows[0]
    row = next(r for r in rows[1:] if "忻市监罚〔2026〕102号" in r)
    row[head.index("罚款金额(万元)")] = "2.5"
    row[head.index("处罚内容")] = "罚款人民币贰万伍仟元整"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([head, row])
    path = settings.home / "demo" / CORRECTED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
    result = ingest_file(settings, path, "xz_amr")
    receipt: dict[str, object] = json.loads(result.receipt.to_json())
    return receipt


def _deliver(settings: Settings) -> dict[str, object]:
    from gateway.delivery.service import deliver_all
    from gateway.outbound import settle_and_batch

    built = settle_and_batch(settings)
    return deliver_all(settings, built)
