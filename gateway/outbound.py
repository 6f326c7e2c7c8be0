"""The outbox made ready for delivery: records the registry can now place leave the resolution queue, then
everything in the outbox is cut into batches.

The one step that needs both gateway.resolution and gateway.delivery, which stays below resolution and
never imports it (tests/gateway/test_layering.py). The deliver_to_province DAG's first task and
`gateway deliver` run it before delivering the batches (gateway.delivery.service.deliver_all).
"""

from __future__ import annotations

from gateway.delivery.service import build_pending
from gateway.resolution import settle_from_registry
from gateway.schema import load_record_types
from gateway.settings import Settings


def settle_and_batch(settings: Settings) -> list[str]:
    """Attach what the registry can now place, then batch everything in the outbox; returns the batches."""
    record_types = load_record_types(settings.schemas_dir)
    settle_from_registry(settings, record_types)
    return build_pending(settings, record_types)
