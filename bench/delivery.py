"""Seal, push and open one batch with the real transfer code and the real hub on loopback.

The batch is real: penalty records from the benchmark's CSV, read, mapped, validated and made canonical by
the gateway's own pipeline, then rendered with gateway.delivery.render (the XML the hub receives). Measured:

* seal      Sender.seal: HPKE-wrapped file key, AES-256-GCM STREAM segments, signed manifest, fsync;
* push      HubClient.push to the reference hub (hub.app.create_app in a hub.server.ServerThread): the body
            streamed over HTTP, spooled and hashed by the hub, manifest signature and freshness checked, the
            envelope opened (decrypted to a file), the batch validated against the XSD, its records stored,
            the receipt signed, and the receipt verified by the client;
* open      open_envelope on the bench's side with the hub's key: decryption alone.

The hub's validator is timed from inside (a subclass of its BatchValidator that only adds clocks). The hub
calls it once it has received the body, checked the signed manifest and decrypted the envelope, so the time
from the push to that call is "push + hub verify and open"; what follows (XSD validation, with libxml2 and,
only for a batch it finds invalid, xmlschema as well; then storing the records and signing the receipt) is
reported apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.bundled import bundled_dir
from gateway.delivery.render import RenderRow, render_batch
from gateway.intake import open_source
from gateway.mapping.engine import apply_plan, plan_for
from gateway.mapping.spec import load_mappings
from gateway.schema import load_record_types
from gateway.store.records import prepare
from gateway.transfer import HubClient, Sender, generate_keys, hub_store, open_envelope
from gateway.validation import validate
from hub.app import create_app
from hub.server import ServerThread
from hub.settings import Settings as HubSettings
from hub.validate import BatchValidator, StoredRecord, Verdict

SENDER = "XZ140900"
HUB = "SX-HUB"
BATCH_ID = "BENCH-0001"
PASSPHRASES = {"GATEWAY_KEY_PASSPHRASE": "bench-gateway", "HUB_KEY_PASSPHRASE": "bench-hub"}
XML_BYTES_PER_PAYLOAD_BYTE = 1.25  # element tags replace JSON keys and quotes: measured on the penalty batch


class _TimedValidator(BatchValidator):
    """The hub's own validator with clocks around its two passes."""

    checking = 0.0
    reading = 0.0
    called_at: float | None = None  # when the hub, having received, verified and opened the batch, checks it

    def check(self, path: Path, *, batch_id: str, sender: str, seq: int) -> Verdict:
        start = time.perf_counter()
        if _TimedValidator.called_at is None:
            _TimedValidator.called_at = start
        try:
            return super().check(path, batch_id=batch_id, sender=sender, seq=seq)
        finally:
            _TimedValidator.checking += time.perf_counter() - start

    def records(self, path: Path, record_type: str) -> Iterator[StoredRecord]:
        records = super().records(path, record_type)
        while True:
            start = time.perf_counter()
            record = next(records, None)
            _TimedValidator.reading += time.perf_counter() - start
            if record is None:
                return
            yield record


def _rows(csv: Path, target_bytes: int) -> tuple[Any, list[RenderRow]]:
    """Canonical penalty records from the CSV until the rendered batch will be about ``target_bytes``."""
    record_types = load_record_types(bundled_dir("schemas"))
    rows: list[RenderRow] = []
    size = 0.0
    with open_source(csv) as source:
        plan = plan_for(source.headers, load_mappings(bundled_dir("mappings")), record_types)
        for batch in source.batches():
            checked = validate(plan.record_type, apply_plan(plan, batch).table, plan.header_of)
            prepared = prepare(plan.record_type, checked.good)
            for key, payload in zip(prepared.keys, prepared.payloads, strict=True):
                rows.append(RenderRow("i", len(rows) + 1, key, 1, payload, attach="natural_person"))
                size += len(payload.encode()) * XML_BYTES_PER_PAYLOAD_BYTE
                if size >= target_bytes:
                    return plan.record_type, rows
    return plan.record_type, rows


def measure(csv: Path, megabytes: int, home: Path) -> dict[str, Any]:
    os.environ.update(PASSPHRASES)
    rtype, rows = _rows(csv, megabytes * 2**20)
    xml = home / "batch.xml"
    start = time.perf_counter()
    with xml.open("wb") as out:
        render_batch(
            out,
            rtype=rtype,
            batch_id=BATCH_ID,
            seq=1,
            sender=SENDER,
            created_at=datetime.now(UTC),
            count=len(rows),
            rows=rows,
        )
    render_s = time.perf_counter() - start
    del rows
    keys = home / "keys"
    generate_keys(keys, SENDER, HUB)
    sender = Sender.load(keys / "gateway", SENDER)
    envelope = home / "batch.env"

    start = time.perf_counter()
    sealed = sender.seal(xml, envelope, batch_id=BATCH_ID, seq=1)
    seal_s = time.perf_counter() - start

    base = BatchValidator.from_dir(bundled_dir("schemas"))
    validator = _TimedValidator(
        base.schema, base.fast_schema, base.element_types, max_rejections=base.max_rejections
    )
    hub_settings = HubSettings(home=home / "hub", keys=keys / "hub", schemas=bundled_dir("schemas"))
    server = ServerThread(create_app(hub_settings, validator=validator))
    with server as url, HubClient(url, sender, retries=0, timeout=(10, 3600)) as client:
        start = time.perf_counter()
        receipt = client.push(envelope, sealed, BATCH_ID)
        push_s = time.perf_counter() - start
    if _TimedValidator.called_at is None:
        raise RuntimeError("the hub never validated the batch")
    # The hub runs in this process (a ServerThread), so its clock is ours: from the push to the moment the
    # hub starts validating is the transfer, the spooling with its hash, the manifest check and the opening.
    push_verify_open_s = _TimedValidator.called_at - start

    store = hub_store(keys)
    keyring = store.load_keyring()
    opened = home / "opened.xml"
    start = time.perf_counter()
    with envelope.open("rb") as src, opened.open("wb") as dst:
        open_envelope(
            src, dst, private_key_for=lambda h: store.decrypter(keyring.get(h.rcpt_kid, use="encrypt"))
        )
    open_s = time.perf_counter() - start
    if opened.stat().st_size != xml.stat().st_size:
        raise RuntimeError("the opened envelope does not match the batch")
    return {
        "records": receipt.accepted,
        "receipt_status": receipt.status,
        "xml_bytes": xml.stat().st_size,
        "envelope_bytes": sealed.size,
        "render_s": render_s,
        "seal_s": seal_s,
        "push_s": push_s,
        "push_verify_open_s": push_verify_open_s,
        "hub_xsd_check_s": _TimedValidator.checking,
        "hub_read_records_s": _TimedValidator.reading,
        "open_s": open_s,
    }
