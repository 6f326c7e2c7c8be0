"""`gateway queue resolve` and `gateway entity show`: an engineer settles a waiting record by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.entity_view import show
from gateway.ingest import ingest_file
from gateway.resolution_queue import ResolveError, resolve, waiting
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import outbox
from tests.paths import REPO_ROOT

ECOLOGY = REPO_ROOT / "samples" / "inbox" / "xz_ecology" / "环境行政处罚台账.csv"


def outbox_size(settings: Settings) -> int:
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox)).scalar_one()


def test_resolve_registers_the_entity_and_sends_the_record(settings: Settings) -> None:
    ingest_file(settings, ECOLOGY, "xz_ecology")
    before = outbox_size(settings)
    items = waiting(settings)
    assert len(items) == 2  # two rows name only registration numbers the empty registry does not know
    target = next(i for i in items if "33号" in i.natural_key)
    with pytest.raises(ResolveError, match="give --name"):
        resolve(settings, target.queue_id, "91140932MA0KAB1C44", by="tester")
    with pytest.raises(ResolveError, match="not a valid USCC"):
        resolve(settings, target.queue_id, "91140932MA0KAB1C45", by="tester")
    done = resolve(settings, target.queue_id, "91140932MA0KAB1C44", by="tester", name="偏关县老牛湾石料厂")
    assert done.natural_key == target.natural_key
    assert outbox_size(settings) == before + 1
    assert [i.queue_id for i in waiting(settings)] == [i.queue_id for i in items if i is not target]
    with pytest.raises(ResolveError, match="already resolved"):
        resolve(settings, target.queue_id, "91140932MA0KAB1C44", by="tester")
    view = show(settings, "91140932MA0KAB1C44")
    assert view is not None and view.origin == "manual"
    assert [(r.record_type, r.attach_method, r.source) for r in view.records] == [
        ("admin_penalty", "manual", "xz_ecology/环境行政处罚台账.csv")
    ]


def test_unknown_queue_entry(settings: Settings) -> None:
    with pytest.raises(ResolveError, match="does not exist"):
        resolve(settings, 999, "91140902MA0K2B3C30", by="tester")
    assert show(settings, "91140902MA0K2B3C30") is None
