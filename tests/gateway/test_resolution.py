"""Records that waited for an entity flow on once the registry can place them, whatever the file order."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.ingest import ingest_file
from gateway.outbound import settle_and_batch
from gateway.resolution import settle_from_registry
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import outbox, record, record_version, resolution_queue
from tests.paths import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "inbox"


def test_licence_naming_only_an_org_code_waits_then_attaches(settings: Settings) -> None:
    licences = ingest_file(
        settings, SAMPLES / "xz_transport" / "行政许可信息-2026年10月.xlsx", "xz_transport"
    )
    assert licences.receipt.queued == 1
    record_types = load_record_types(settings.schemas_dir)
    assert settle_from_registry(settings, record_types) == 0  # the registry knows nobody yet

    ingest_file(settings, SAMPLES / "xz_amr" / "2026年10月行政处罚信息.csv", "xz_amr")  # registers 定襄县宏达
    assert settle_from_registry(settings, record_types) == 1
    with engine_for(settings.database_url).connect() as conn:
        attached = conn.execute(
            select(record.c.attach_method, record.c.status, record_version.c.entity_uscc)
            .join(record_version, record_version.c.record_id == record.c.id)
            .where(record.c.natural_key == "11140900MB19500249|忻交运许〔2026〕202号")
        ).one()
        waiting = conn.execute(
            select(func.count()).select_from(resolution_queue).where(resolution_queue.c.resolved_at.is_(None))
        ).scalar_one()
        queued_for_delivery = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    assert tuple(attached) == ("org_code", "active", "91140921MA0K4D5E9E")
    assert waiting == 0
    assert queued_for_delivery == 5 + 10
    assert settle_from_registry(settings, record_types) == 0  # settled once, never twice


def test_the_outbox_is_settled_before_it_is_batched(settings: Settings) -> None:
    """gateway.outbound.settle_and_batch, what the delivery DAG and `gateway deliver` run: a record that
    waited until the registry could place it goes out in the same run's batches."""
    ingest_file(settings, SAMPLES / "xz_transport" / "行政许可信息-2026年10月.xlsx", "xz_transport")
    ingest_file(settings, SAMPLES / "xz_amr" / "2026年10月行政处罚信息.csv", "xz_amr")
    assert settle_and_batch(settings)
    with engine_for(settings.database_url).connect() as conn:
        batched = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.batch_id.is_not(None))
        ).scalar_one()
        waiting = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.batch_id.is_(None)))
        assert (batched, waiting.scalar_one()) == (5 + 10, 0)
