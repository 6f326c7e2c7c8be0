"""向省级平台报送 — outbox → batches (XML valid against schemas/batch.xsd) → seal → push → verified receipt.

**When it runs.** Soon after an ingest or a pull stored new versions (the asset ``gateway_outbox``, emitted
only when something changed); when a failed batch's backoff is over (the asset ``gateway_delivery_retry``,
whose watcher reads the delivery ledger); and every 15 minutes as a safety net.

**What a run does.** ``build_batches`` settles the resolution queue and cuts the waiting versions into
batches; ``deliver`` seals each batch for the hub, pushes it and verifies the signed receipt, in sequence
order. A batch that fails waits for its backoff; after too many failures or too long it becomes a dead
letter, the task fails and the owners get an alert. ``gateway deliveries`` lists and retries them.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from gateway_common.assets import DELIVERY_RETRY
from gateway_common.defaults import DB_WRITERS_POOL, DELIVERY_PRIORITY, START, default_args
from gateway_common.outbox import OUTBOX


@dag(
    dag_id="deliver_to_province",
    description="向省级互联网+监管平台加密签名报送，并核验签名回执",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/15 * * * *", timezone="Asia/Shanghai"),
        assets=OUTBOX | DELIVERY_RETRY,
    ),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=default_args(retries=3, retry_delay=timedelta(minutes=2), retry_exponential_backoff=True),
    tags=["gateway", "delivery"],
    doc_md=__doc__,
)
def deliver_to_province() -> None:
    @task(pool=DB_WRITERS_POOL, execution_timeout=timedelta(minutes=30), **DELIVERY_PRIORITY)
    def build_batches() -> list[str]:
        """Settle the resolution queue and cut the outbox into batches (XML on disk, rows in one commit)."""
        from connectors.airflow_settings import gateway_settings
        from gateway.outbound import settle_and_batch

        return settle_and_batch(gateway_settings())

    # No Airflow retries: the delivery keeps its own retry schedule per batch (next_attempt_at), and a
    # retry of a task that failed because a batch died would find nothing new dead and turn the run green.
    @task(pool=DB_WRITERS_POOL, retries=0, execution_timeout=timedelta(hours=2), **DELIVERY_PRIORITY)
    def deliver(batch_ids: list[str]) -> dict[str, object]:
        """Seal, push and settle every open batch in sequence order; fails when a batch died."""
        from connectors.airflow_settings import gateway_settings
        from gateway.delivery.service import deliver_all

        return deliver_all(gateway_settings(), list(batch_ids))

    deliver(build_batches())


deliver_to_province()
