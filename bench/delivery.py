"""Seal, push and open one batch with the real transfer code and the real hub on loopback.

The batch is real: penalty records from the benchmark's CSV, read, mapped, validated and made canonical by
the gateway's own pipeline, then rendered with gateway.delivery.render (the XML the hub receives). Measured:

* seal      Sender.seal: HPKE-wrapped file key, AES-256-GCM STREAM segments, signed manifest, fsync;
* push      HubClient.push to the reference hub (hub.app.create_app in a hub.server.ServerThread): the body
            streamed over HTTP, spooled and hashed by the hub, manifest signature and freshness checked, the
            envelope opened (decrypted to a file), the batch validated against the XSD, its records stored,
            the receipt signed, and the receipt verified by the client;
* open      open_envelope on the bench's side with the hub's key: decryption alone.

The hub runs in this process (a ServerThread), so its clock is ours. "push + hub verify and open" is the
time from the push to the hub's Receiver.receive (transfer, spooling with its hash, the manifest check) plus
the hub's own decryption and writing of the plaintext, as the hub reports it (``hub_timings`` on its
"accepted" log record). The hub validates and stores while it decrypts (hub/fastpath.py), so the rest is
reported by stage: the XSD check (libxml2 over the pieces, on the hub's second thread), reading the
records, storing them; for a batch the fast path leaves to the careful path, the validator's own check is
timed from inside (a subclass of BatchValidator that only adds clocks), as before.
"""

from __future__ import annotations

import logging
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
    """The hub's own validator with clocks around its careful path (the fast path times itself)."""

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


class _HubTimings(logging.Handler):
    """Keeps the stage timings the hub attaches to its "accepted" log record."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.timings: dict[str, float] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        timings = getattr(record, "hub_timings", None)
        if timings is not None:
            self.timings = timings


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
        base.schema,
        base.fast_schema,
        base.element_types,
        max_rejections=base.max_rejections,
        lean_schema=base.lean_schema,
    )
    hub_settings = HubSettings(home=home / "hub", keys=keys / "hub", schemas=bundled_dir("schemas"))
    app = create_app(hub_settings, validator=validator)
    receiver = app.state.receiver
    received_at: list[float] = []
    receive = receiver.receive

    def timed_receive(*args: Any, **kwargs: Any) -> Any:
        received_at.append(time.perf_counter())
        return receive(*args, **kwargs)

    receiver.receive = timed_receive  # type: ignore[method-assign]
    hub_log = logging.getLogger("hub.receiving")
    handler, level = _HubTimings(), hub_log.level
    hub_log.addHandler(handler)
    hub_log.setLevel(logging.INFO)
    try:
        with ServerThread(app) as url, HubClient(url, sender, retries=0, timeout=(10, 3600)) as client:
            start = time.perf_counter()
            receipt = client.push(envelope, sealed, BATCH_ID)
            push_s = time.perf_counter() - start
    finally:
        hub_log.removeHandler(handler)
        hub_log.setLevel(level)
    if not received_at:
        raise RuntimeError("the hub never received the batch")
    hub = handler.timings or {}
    if hub.get("pieces"):  # the fast path: decrypted while validated and stored
        push_verify_open_s = received_at[0] - start + hub["decrypt"]
        xsd_s, read_s, store_s = hub["xsd"], hub["read"], hub["sink"]
    elif _TimedValidator.called_at is not None:  # the careful path: decrypted, then checked
        push_verify_open_s = _TimedValidator.called_at - start
        xsd_s, read_s, store_s = _TimedValidator.checking, _TimedValidator.reading, 0.0
    else:
        raise RuntimeError("the hub never validated the batch")

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
        "hub_xsd_check_s": xsd_s,
        "hub_read_records_s": read_s,
        "hub_store_records_s": store_s,
        "hub_stages": hub,  # the hub's own timings of the fast path, seconds (hub.fastpath.Timings)
        "open_s": open_s,
    }
