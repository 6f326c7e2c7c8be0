"""What the gateway holds, gathered in one place for `gateway status`, the demo summary and the UI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, func, select

from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import delivery_batch, entity, outbox, record, resolution_queue, source_file


def _grouped(conn: Connection, *columns: Any) -> list[dict[str, Any]]:
    stmt = select(*columns, func.count().label("count")).group_by(*columns).order_by(*columns)
    return [row._asdict() for row in conn.execute(stmt)]


def collect(settings: Settings) -> dict[str, Any]:
    with engine_for(settings.database_url).connect() as conn:
        return {
            "files": _grouped(conn, source_file.c.source_id, source_file.c.status),
            "records": _grouped(conn, record.c.record_type, record.c.status),
            "entities": conn.execute(select(func.count()).select_from(entity)).scalar_one(),
            "waiting_for_entity": conn.execute(
                select(func.count())
                .select_from(resolution_queue)
                .where(resolution_queue.c.resolved_at.is_(None))
            ).scalar_one(),
            "outbox_pending": [
                r._asdict()
                for r in conn.execute(
                    select(outbox.c.record_type, func.count().label("count"))
                    .where(outbox.c.batch_id.is_(None))
                    .group_by(outbox.c.record_type)
                )
            ],
            "batches": _grouped(conn, delivery_batch.c.record_type, delivery_batch.c.status),
        }


def batches_since(settings: Settings, since: datetime) -> list[dict[str, Any]]:
    stmt = (
        select(
            delivery_batch.c.batch_id,
            delivery_batch.c.record_type,
            delivery_batch.c.records,
            delivery_batch.c.status,
            delivery_batch.c.envelope_sha256,
            delivery_batch.c.receipt,
        )
        .where(delivery_batch.c.updated_at >= since)
        .order_by(delivery_batch.c.seq)
    )
    with engine_for(settings.database_url).connect() as conn:
        return [row._asdict() for row in conn.execute(stmt)]


def render(data: dict[str, Any], console: Console) -> None:
    for title, key in (
        ("files", "files"),
        ("records", "records"),
        ("batches", "batches"),
        ("outbox (not yet batched)", "outbox_pending"),
    ):
        rows = data[key]
        if not rows:
            console.print(f"{title}: none")
            continue
        table = Table(*rows[0].keys(), title=title)
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)
    console.print(f"entities: {data['entities']}; waiting for an entity: {data['waiting_for_entity']}")
