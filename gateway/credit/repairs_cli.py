"""`gateway credit repairs` (信用修复): apply the repair decisions now, as the credit_publicity DAG does every
morning, and list the repaired records and the decisions still waiting for the record they name."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import String, cast, select

from gateway.settings import Settings

app = typer.Typer(
    name="repairs",
    help="信用修复 — credit repairs: withdraw the records repair decisions name from every feed "
    "(repairs.yaml), list what was repaired and which decisions name no stored record.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)


@app.command("apply")
def apply(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="YYYY-MM-DD", help="Recompute warnings and classes as of this day."),
    ] = None,
    recompute: Annotated[
        bool,
        typer.Option(
            "--recompute/--no-recompute",
            help="Run the warnings and the month's risk classes again when something was repaired.",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Withdraw every active record an effective repair decision names (operation d, reason
    credit_repaired, sent to the hub if it has the record); close the warnings that rested on them."""
    from gateway.credit.repairs import apply_repairs
    from gateway.credit.risk.service import today

    settings = Settings.from_env()
    day = date.fromisoformat(as_of) if as_of else today(settings)
    report = apply_repairs(settings, datetime.now(UTC), day, recompute=recompute)
    if as_json:
        print(
            json.dumps(
                {
                    "withdrawn": [item.record_id for item in report.withdrawn],
                    "sent": report.sent,
                    "repairs": {str(k): v for k, v in report.repairs.items()},
                    "warnings_closed": report.warnings_closed,
                    "warnings_raised": report.warnings_raised,
                    "risk_run": report.risk_run,
                    "unmatched": [list(item) for item in report.unmatched],
                },
                ensure_ascii=False,
            )
        )
        return
    console.print(escape(report.summary()))
    for item in report.withdrawn:
        hub = "已通知省级平台删除" if item.sent else "省级平台从未收到，无需通知"
        console.print(
            f"  记录 {item.record_id}（{item.record_type}）由修复记录 {report.repairs[item.record_id]} "
            f"修复：已撤回，{hub}"
        )
    for repair_id, kind, key in report.unmatched:
        console.print(f"  [yellow]修复记录 {repair_id} 指向的{escape(kind)} {escape(key)} 尚未入库[/yellow]")


@app.command("list")
def list_repaired(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 50,
) -> None:
    """The records withdrawn because of a repair, newest first, with the decision that repaired them."""
    from gateway.store.db import engine_for
    from gateway.store.tables import audit, record

    settings = Settings.from_env()
    table = Table("记录", "类型", "自然键", "修复记录", "修复日期", "撤回时间", "通知平台")
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            select(audit.c.subject_id, audit.c.at, audit.c.detail, record.c.record_type, record.c.natural_key)
            # Compared as text: audit subjects of other kinds are not numbers, and PostgreSQL would try to
            # cast them too if the join cast the audit side.
            .join(record, cast(record.c.id, String) == audit.c.subject_id)
            .where(audit.c.action == "record.repaired")
            .order_by(audit.c.id.desc())
            .limit(limit)
        ).all()
    for subject_id, at, detail, record_type, key in rows:
        found = json.loads(detail or "{}")
        table.add_row(
            subject_id,
            record_type,
            key,
            str(found.get("repair_record_id", "")),
            str(found.get("repair_date", "")),
            f"{at:%Y-%m-%d %H:%M}",
            "是" if found.get("sent") else "否",
        )
    console.print(table)
