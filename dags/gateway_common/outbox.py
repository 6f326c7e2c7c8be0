"""The outbox asset and the task that announces it: deliver_to_province runs on its events.

An event means "versions are waiting for the province". A run that changed nothing — a quiet pull, files
answered as duplicates — must not wake delivery, so the announcing task is skipped then (Airflow emits an
asset event only when the producing task succeeds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset, task

OUTBOX = Asset(name="gateway_outbox", uri="x-gateway://outbox")
CHANGES = ("new", "updated", "withdrawn")


@task(outlets=[OUTBOX])
def announce_outbox(totals: Mapping[str, Any]) -> dict[str, int]:
    """Emit the outbox event when the run stored new versions; skipped (no event) when it stored none."""
    from airflow.sdk.exceptions import AirflowSkipException

    changed = {key: int(totals.get(key, 0) or 0) for key in CHANGES}
    if not any(changed.values()):
        raise AirflowSkipException("nothing new was stored: the outbox is unchanged, delivery is not woken")
    return changed
