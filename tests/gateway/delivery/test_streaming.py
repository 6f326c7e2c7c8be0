"""A ~50 MB batch is rendered, sealed and uploaded in bounded memory (tracemalloc), never held whole.

The 1 GB figure (peak RSS) is bench/bench_delivery.py; this keeps the property under test at a size a test
can afford. The records are written straight into the store (the ingest path is not what is measured) and
the upload goes to a sink that hashes what it receives, so the hub's own validation time is not paid here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import insert

from gateway.delivery import ledger
from gateway.delivery.batcher import build_batches
from gateway.delivery.service import DeliveryFailed, deliver_all
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.source_units import record_unit
from gateway.store.db import engine_for
from gateway.store.tables import outbox, record, record_version
from gateway.transfer import HubClient, Sender

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

RECORDS = 4_600
# ~3.9 k characters of 违法事实 (the XSD allows 5000): ~12 KB per record, so 4600 records make ~50 MB.
FACT = "经查，当事人在经营场所销售超过保质期的预包装食品，违反了食品安全法的相关规定。" * 100
MEMORY_LIMIT = 16 << 20  # the batch is ~50 MB; rendering, sealing and uploading each stay far below it


def _fill(settings: Settings, count: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    authority = "11140900MB1950016E"
    base = {
        "CF_XDR_MC": "忻州市晋北商贸有限公司",
        "CF_XDR_LB": "法人及非法人组织",
        "CF_XDR_SHXYM": "91140902MA0K2B3C30",
        "CF_FRDB": "王建国",
        "CF_WFXW": "销售过期食品",
        "CF_SY": FACT,
        "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条",
        "CF_CFLB": "罚款",
        "CF_NR": "罚款人民币伍仟元整",
        "CF_NR_FK": "0.5",
        "CF_JDRQ": "2026-10-08",
        "CF_YXQ": "2027-10-08",
        "CF_CFJG": "忻州市市场监督管理局",
        "CF_CFJGDM": authority,
        "CF_SJLY": "忻州市市场监督管理局",
        "CF_SJLYDM": authority,
    }
    with engine_for(settings.database_url).begin() as conn:
        file_id = record_unit(
            conn,
            source_id="bench",
            file_name="large.csv",
            sha256="0" * 64,
            size=0,
            status="accepted",
            received_at=now,
        )
        for start in range(0, count, 1000):
            numbers = range(start, min(count, start + 1000))
            payloads = {
                n: json.dumps({**base, "CF_WSH": f"忻市监罚〔2026〕{n}号"}, ensure_ascii=False)
                for n in numbers
            }
            conn.execute(
                insert(record),
                [
                    {
                        "id": n + 1,
                        "record_type": "admin_penalty",
                        "natural_key": f"{authority}|忻市监罚〔2026〕{n}号",
                        "status": "active",
                        "version": 1,
                        "content_hash": "0" * 64,
                        "payload": payloads[n],
                        "source_file_id": file_id,
                        "source_row": n + 2,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in numbers
                ],
            )
            conn.execute(
                insert(record_version),
                [
                    {
                        "id": n + 1,
                        "record_id": n + 1,
                        "version": 1,
                        "operation": "i",
                        "content_hash": "0" * 64,
                        "payload": payloads[n],
                        "entity_uscc": "91140902MA0K2B3C30",
                        "attach_method": "uscc",
                        "source_file_id": file_id,
                        "source_sha256": "0" * 64,
                        "source_row": n + 2,
                        "outbound": True,
                        "created_at": now,
                    }
                    for n in numbers
                ],
            )
            conn.execute(
                insert(outbox),
                [
                    {"record_version_id": n + 1, "record_type": "admin_penalty", "created_at": now}
                    for n in numbers
                ],
            )


class _Sink(BaseHTTPRequestHandler):
    """Reads the upload in 64 KiB pieces, hashing it, then refuses it with a plain error."""

    received: ClassVar[list[tuple[int, str]]] = []

    def do_POST(self) -> None:
        remaining = int(self.headers["Content-Length"])
        digest = hashlib.sha256()
        size = 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            digest.update(chunk)
            size += len(chunk)
            remaining -= len(chunk)
        self.received.append((size, digest.hexdigest()))
        body = b'{"error": {"code": "sink", "message": "measured, not stored"}}'
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def sink_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_50_mb_batch_is_rendered_sealed_and_uploaded_in_bounded_memory(
    settings: Settings, keys_template: Path, sink_url: str
) -> None:
    shutil.copytree(keys_template, settings.keys_dir, dirs_exist_ok=True)
    settings = settings.with_overrides(batch_max_records=RECORDS)
    _fill(settings, RECORDS)
    record_types = load_record_types(settings.schemas_dir)
    sender = Sender.load(settings.keys_dir / "gateway", settings.sender_id)

    tracemalloc.start()
    try:
        (built,) = build_batches(settings, {"admin_penalty": record_types["admin_penalty"]})
        _, render_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with HubClient(sink_url, sender, retries=0) as client, pytest.raises(DeliveryFailed):
            deliver_all(settings, [built.batch_id], client=client, sender=sender)
        _, deliver_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    xml_size = built.xml_path.stat().st_size
    assert built.records == RECORDS and xml_size > 48 << 20
    batch = ledger.load(settings, built.batch_id)
    envelope = Path(str(batch.envelope_path))
    assert _Sink.received == [(envelope.stat().st_size, batch.envelope_sha256)]
    assert render_peak < MEMORY_LIMIT, f"rendering peaked at {render_peak / 2**20:.1f} MiB"
    assert deliver_peak < MEMORY_LIMIT, f"sealing and uploading peaked at {deliver_peak / 2**20:.1f} MiB"
