"""What the hub holds, read from its database (works whether or not the hub is running)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from hub.db import batch, open_engine, record, sender_state

OPERATIONS = ("i", "u", "d")


def _op_counts() -> dict[str, int]:
    return dict.fromkeys((*OPERATIONS, "total"), 0)


def build_report(db_path: Path) -> dict[str, Any]:
    """Batches per sender and status; records per sender, record type and operation (i/u/d); withdrawals
    the senders decided themselves, by reason (Record/@reason: publicity_expired, credit_repaired)."""
    report: dict[str, Any] = {
        "database": str(db_path),
        "batches": {"total": 0, "accepted": 0, "rejected": 0},
        "records": _op_counts(),
        "record_types": {},
        "withdrawal_reasons": {},
        "senders": {},
    }
    if not db_path.exists():
        return report
    engine = open_engine(db_path)
    try:
        with engine.connect() as conn:
            batch_rows = conn.execute(
                select(batch.c.sender, batch.c.status, func.count()).group_by(batch.c.sender, batch.c.status)
            ).all()
            record_rows = conn.execute(
                select(record.c.sender, record.c.record_type, record.c.op, func.count()).group_by(
                    record.c.sender, record.c.record_type, record.c.op
                )
            ).all()
            last_seqs = dict(conn.execute(select(sender_state.c.sender, sender_state.c.last_seq)).all())
            reasons = conn.execute(
                select(record.c.reason, func.count())
                .where(record.c.op == "d", record.c.reason.isnot(None))
                .group_by(record.c.reason)
            ).all()
    finally:
        engine.dispose()

    def sender_entry(name: str) -> dict[str, Any]:
        return report["senders"].setdefault(
            name,
            {
                "batches": {"total": 0, "accepted": 0, "rejected": 0},
                "last_seq": last_seqs.get(name),
                "records": _op_counts(),
                "record_types": {},
            },
        )

    for sender, status, count in batch_rows:
        entry = sender_entry(sender)
        for target in (report["batches"], entry["batches"]):
            target[status] = target.get(status, 0) + count
            target["total"] += count
    for sender, record_type, op, count in record_rows:
        entry = sender_entry(sender)
        for target in (
            report["records"],
            report["record_types"].setdefault(record_type, _op_counts()),
            entry["records"],
            entry["record_types"].setdefault(record_type, _op_counts()),
        ):
            target[op] = target.get(op, 0) + count
            target["total"] += count
    report["withdrawal_reasons"] = {reason: int(count) for reason, count in sorted(reasons)}
    return report


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    batches = report["batches"]
    console.print(
        f"[bold]省级平台参考实现[/bold] {report['database']}：批次 {batches['total']}"
        f"（已接收 {batches['accepted']}，已拒收 {batches['rejected']}），记录 {report['records']['total']}"
    )
    labels = {"publicity_expired": "公示期满", "credit_repaired": "信用修复"}
    if report.get("withdrawal_reasons"):
        parts = [f"{labels.get(k, k)} {n}" for k, n in report["withdrawal_reasons"].items()]
        console.print("发送方自行撤回（按原因）：" + "，".join(parts))
    senders = Table(title="按发送方")
    for column in ("发送方", "批次", "已接收", "已拒收", "最大序号", "记录"):
        senders.add_column(column, justify="left" if column == "发送方" else "right")
    for name, entry in sorted(report["senders"].items()):
        b = entry["batches"]
        last_seq = "" if entry["last_seq"] is None else str(entry["last_seq"])
        senders.add_row(
            name,
            str(b["total"]),
            str(b["accepted"]),
            str(b["rejected"]),
            last_seq,
            str(entry["records"]["total"]),
        )
    console.print(senders)
    types = Table(title="按记录类型和操作（i 新增 / u 更新 / d 删除）")
    for column in ("发送方", "记录类型", *OPERATIONS, "合计"):
        types.add_column(column, justify="left" if column in ("发送方", "记录类型") else "right")
    for name, entry in sorted(report["senders"].items()):
        for record_type, counts in sorted(entry["record_types"].items()):
            types.add_row(
                name, record_type, *(str(counts.get(op, 0)) for op in OPERATIONS), str(counts["total"])
            )
    console.print(types)
