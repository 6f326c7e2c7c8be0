"""Time the gateway's stages one by one on a source: parse, map, validate, attach, store, commit.

The same library calls, in the same order and with the same batch size, as gateway.ingest.process_rows, but
with a clock around each; the end-to-end figure comes from the real ingest_file (bench/workloads.py), never
from adding these up. Each stage streams, so memory stays that of one batch whatever the file's size.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
from sqlalchemy import insert

from gateway.entities import attach
from gateway.ingest import BATCH_ROWS
from gateway.mapping.engine import Plan, apply_plan
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.records import store_batch
from gateway.store.tables import source_file
from gateway.validation import validate

STAGES = ("parse", "map", "validate", "attach", "store", "commit")


def _clocked(batches: Iterator[pa.RecordBatch], seconds: dict[str, float]) -> Iterator[pa.RecordBatch]:
    while True:
        start = time.perf_counter()
        batch = next(batches, None)
        seconds["parse"] += time.perf_counter() - start
        if batch is None:
            return
        yield batch


def time_stages(settings: Settings, batches: Iterator[pa.RecordBatch], plan: Plan) -> dict[str, float]:
    """Seconds per stage for one pass over ``batches`` into the (fresh) database of ``settings``."""
    seconds = dict.fromkeys(STAGES, 0.0)
    rtype = plan.record_type
    now = datetime.now(UTC).replace(microsecond=0)
    engine = engine_for(settings.database_url)
    conn = engine.connect()
    transaction = conn.begin()
    try:
        file_id = conn.execute(
            insert(source_file).returning(source_file.c.id),
            [
                {
                    "department": "bench",
                    "file_name": "stages",
                    "sha256": f"stages-{time.time_ns()}",
                    "size": 0,
                    "status": "processing",
                    "receipt": "{}",
                    "received_at": now,
                }
            ],
        ).scalar_one()
        for batch in _clocked(batches, seconds):
            start = time.perf_counter()
            mapped = apply_plan(plan, batch)
            seconds["map"] += time.perf_counter() - start

            start = time.perf_counter()
            checked = validate(rtype, mapped.table, plan.header_of, earlier=mapped.errors)
            seconds["validate"] += time.perf_counter() - start

            start = time.perf_counter()
            attachment = attach(conn, rtype, checked.good, now)
            seconds["attach"] += time.perf_counter() - start

            start = time.perf_counter()
            store_batch(
                conn,
                rtype,
                checked.good,
                attachment,
                source_file_id=file_id,
                source_sha256="0" * 64,
                now=now,
                header_of=plan.header_of,
            )
            seconds["store"] += time.perf_counter() - start
        start = time.perf_counter()
        transaction.commit()
        seconds["commit"] = time.perf_counter() - start
    finally:
        if transaction.is_active:
            transaction.rollback()
        conn.close()
    return seconds


__all__ = ["BATCH_ROWS", "STAGES", "time_stages"]
