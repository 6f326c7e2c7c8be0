"""Seal a batch into a new envelope; render its XML again when the file is gone or must carry a new seq.

Envelopes are named by seal number (``<batch>.s<n>.gwenv``) and never overwritten once recorded, so every
envelope the hub may hold stays available to push again (states.py, "batch_conflict"). A seal killed before
its commit leaves a file under the number the next seal takes again, which overwrites it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from gateway.delivery import ledger
from gateway.delivery.batcher import render_to
from gateway.delivery.ledger import Batch
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import outbox
from gateway.transfer import Sealed, Sender

log = logging.getLogger(__name__)
HEAD_BYTES = 4096
_BATCH_TAG = re.compile(rb"<Batch\b[^>]*>")


def xml_matches(path: Path, batch_id: str, seq: int) -> bool:
    """The rendered file is there and its Batch element names this batch id and seq (the hub checks both
    against the signed manifest, so a mismatch would be a refusal the hub records for good)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return False
    tag = _BATCH_TAG.search(head)
    if tag is None:
        return False
    return f'batchId="{batch_id}"'.encode() in tag.group() and f'seq="{seq}"'.encode() in tag.group()


def _render(settings: Settings, batch: Batch, rtype: RecordType, seq: int, path: Path, now: datetime) -> None:
    """Render the batch's records with ``seq``; the seq and path are recorded with the file in one step."""
    with engine_for(settings.database_url).begin() as conn:
        count = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.batch_id == batch.batch_id)
        ).scalar_one()
        render_to(
            conn,
            settings,
            rtype,
            batch_id=batch.batch_id,
            seq=seq,
            created_at=batch.created_at,
            count=count,
            path=path,
        )
        action = "batch.rendered" if seq == batch.seq else "batch.renumbered"
        ledger.move(
            conn,
            batch.batch_id,
            now=now,
            action=action,
            detail={"seq": seq, "previous_seq": batch.seq, "records": count},
            from_states=(batch.status,),
            seq=seq,
            xml_path=str(path),
            records=count,
        )


def ensure_xml(settings: Settings, batch: Batch, rtype: RecordType, now: datetime) -> Batch:
    path = Path(batch.xml_path) if batch.xml_path else settings.outbox_dir / f"{batch.batch_id}.xml"
    if xml_matches(path, batch.batch_id, batch.seq):
        return batch
    log.warning("batch %s: XML missing or not for seq %d; rendering it again", batch.batch_id, batch.seq)
    _render(settings, batch, rtype, batch.seq, path, now)
    return ledger.load(settings, batch.batch_id)


def renumber(settings: Settings, batch: Batch, rtype: RecordType, now: datetime) -> Batch:
    """Give the batch the next seq of the gateway's sequence (same batch id); its XML is rendered again
    under a new name, so the file and the recorded seq change together."""
    with engine_for(settings.database_url).connect() as conn:
        seq = ledger.next_seq(conn)
    path = settings.outbox_dir / f"{batch.batch_id}.q{seq}.xml"
    log.info("batch %s: the hub has a later seq than %d; renumbering to %d", batch.batch_id, batch.seq, seq)
    _render(settings, batch, rtype, seq, path, now)
    return ledger.load(settings, batch.batch_id)


def seal(
    settings: Settings, sender: Sender, batch: Batch, rtype: RecordType, now: datetime
) -> tuple[Batch, Path, Sealed] | None:
    """A new envelope for the batch, recorded as its current one; None if the batch moved on meanwhile."""
    batch = ensure_xml(settings, batch, rtype, now)
    seal_no = batch.seals + 1
    envelope = settings.outbox_dir / f"{batch.batch_id}.s{seal_no}.gwenv"
    sealed = sender.seal(Path(str(batch.xml_path)), envelope, batch_id=batch.batch_id, seq=batch.seq)
    if not ledger.record_seal(settings, batch, seal_no, batch.seq, envelope, sealed, now):
        return None
    return ledger.load(settings, batch.batch_id), envelope, sealed
