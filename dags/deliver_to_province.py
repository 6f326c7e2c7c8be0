"""Outbox → batches (XML, valid against schemas/batch.xsd) → seal → push → verified hub receipt.

Runs when an ingest or a pull has put something in the outbox (the gateway_outbox asset), and on a timer so
failed batches are retried.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from gateway_common.outbox import OUTBOX


@dag(
    dag_id="deliver_to_province",
    description="向省级互联网+监管平台加密签名报送，并核验签名回执",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/15 * * * *", timezone="Asia/Shanghai"), assets=OUTBOX
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=2), "retry_exponential_backoff": True},
    tags=["gateway", "delivery"],
    doc_md=__doc__,
)
def deliver_to_province() -> None:
    @task
    def build_batches() -> list[str]:
        from connectors.airflow_settings import gateway_settings
        from gateway.outbound import settle_and_batch

        return settle_and_batch(gateway_settings())

    # No Airflow retries: the delivery keeps its own retry schedule per batch (next_attempt_at), and a
    # retry of a task that failed because a batch died would find nothing new dead and turn the run green.
    @task(retries=0)
    def deliver(batch_ids: list[str]) -> dict[str, object]:
        from connectors.airflow_settings import gateway_settings
        from gateway.delivery.service import deliver_all

        return deliver_all(gateway_settings(), list(batch_ids))

    deliver(build_batches())


deliver_to_province()
