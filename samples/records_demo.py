"""The demo's records step, run while the local hub is still up: what the credit_publicity DAG withdrew
(publicity ended, repaired) and whether the hub got it; an objection that holds a record back from the hub
until the department's correction resolves it; lookups of the 逢办必查 API (`gateway lookup serve`, started
on a free loopback port) by each kind of code, and the answers to codes that are not answers.

Idempotent like the rest of the demo: the objection is raised and resolved on the first run only; later runs
show its history instead, and the lookups are asked again (each is logged again, as every query is).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
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
    """The withdrawals and the objection, which deliver to the hub at ``hub_url``; show_lookups comes after
    the credit step, so that a supervisor's lookup finds the month's risk class."""
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


# ------------------------------------------------------------------------------------------------ lookup
# 定襄县宏达机械制造有限公司, asked for by each kind of code, and three codes that are not answers.
LOOKUPS = (
    ("统一社会信用代码", "91140921MA0K4D5E9E"),
    ("工商注册号", "140900200001233"),
    ("组织机构代码", "MA0K4D5E-9"),
    ("a wrong check character", "91140921MA0K4D5E9F"),
    ("a malformed code", "91140921MA0K4D5E"),
)
MATTER = "（演示）忻州市行政审批服务管理局 食品经营许可申请 XZSP-2026-0001"


def show_lookups(settings: Settings, console: Console, log_dir: Path) -> None:
    """`gateway lookup serve` on a free loopback port, asked by a department's key and by a supervisor's."""
    import requests

    from gateway.ids.uscc import calc_check

    keys = _demo_keys(settings)
    unknown = "91140921MA0HH0001"
    asks = [*LOOKUPS, ("an unknown entity", unknown + calc_check(unknown))]
    with _lookup_server(settings, log_dir) as url:

        def ask(path: str, role: str, **params: object) -> requests.Response:
            """One request to the lookup with the demo caller of ``role``."""
            return requests.get(f"{url}{path}", params=params, headers={"X-API-Key": keys[role]}, timeout=60)

        console.print(f"\n[bold]逢办必查 lookup[/] ({url}, gateway lookup serve; every query logged)")
        for label, code in asks:
            answer = ask(f"/v1/standing/{code}", "department", matter=MATTER)
            body = answer.json()
            if answer.status_code == 200:
                found, name = body["summary"], escape(body["entity"]["name"])
                console.print(f"  by {label} {code}: {name}")
                console.print(
                    f"    red lists {found['red_lists']}, penalties in publicity "
                    f"{found['penalties_in_publicity']}, repairs {found['repairs']}, objections pending "
                    f"{found['objections_pending']}"
                )
                console.print(f"    risk class: {'shown' if 'risk' in body else 'not for a department'}")
            else:
                error = body["error"]
                refused = f"{answer.status_code} {error['code']}: {escape(error['message'])}"
                console.print(f"  by {label} {code}: {refused}")
        internal = ask(f"/v1/standing/{LOOKUPS[0][1]}", "internal", matter=MATTER).json()
        risk = internal.get("risk") or {}
        shown = "none yet"
        if risk.get("classified"):
            shown = f"{risk['class']} {risk['label']} ({risk['period']})"
        console.print(f"  the same entity for a supervisor (internal role): risk class {shown}, 内部参考")
        pdf = ask(f"/v1/report/{LOOKUPS[0][1]}.pdf", "department", matter=MATTER)
        console.print(
            f"  printable report {pdf.headers.get('X-Report-No')}: PDF of {len(pdf.content)} bytes "
            "(also .html)"
        )
        audit = ask("/v1/queries", "auditor", limit=200).json()
        console.print(f"  the auditor reads the query log: {len(audit['items'])} latest queries")


def _demo_keys(settings: Settings) -> dict[str, str]:
    """The demo's three callers, made on the first run; their keys kept in var/secrets (mode 0600), since a
    key is shown only when it is made."""
    from gateway.credit.lookup.keys import add_key_caller
    from gateway.store.db import engine_for

    path = settings.home / "secrets" / "lookup-demo-keys.json"
    if path.exists():
        kept: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return kept
    made = {}
    with engine_for(settings.database_url).begin() as conn:
        for role, department in (
            ("department", "忻州市行政审批服务管理局"),
            ("internal", "忻州市市场监督管理局"),
            ("auditor", "忻州市审计局"),
        ):
            _caller, made[role] = add_key_caller(conn, f"demo-{role}", department, role)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(made), encoding="utf-8")
    return made


@contextlib.contextmanager
def _lookup_server(settings: Settings, log_dir: Path) -> Iterator[str]:
    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GATEWAY_HOME": str(settings.home), "GATEWAY_DATABASE_URL": settings.database_url}
    log = (log_dir / "lookup.log").open("wb")
    child = subprocess.Popen(
        [sys.executable, "-m", "gateway.credit.lookup", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.ConnectionError):  # not listening yet
                if requests.get(f"{url}/v1/health", timeout=2).ok:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the lookup did not start; see {log_dir / 'lookup.log'}")
            time.sleep(0.2)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=30)
        log.close()
