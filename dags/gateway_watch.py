"""网关值守 — is the gateway keeping up? Alerts when it falls behind, before a department calls.

Every 10 minutes it reads the delivery ledger and the inboxes: the oldest batch the hub has not yet
acknowledged (over ``GATEWAY_ALERT_BATCH_AGE_SECONDS``, default 2 h), dead letters (any), the oldest file
waiting in an inbox (over ``GATEWAY_ALERT_INBOX_AGE_SECONDS``, default 30 min: the triggerer or the ingest
is stuck). When one of them is off, the task fails with the findings as its reason, and the failure alert
(Connections gateway_alert_webhook, gateway_alert_smtp) carries them; the next run that finds all well turns
green again. It writes nothing, so it takes no slot of the database writers' pool.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from gateway_common.defaults import START, default_args, schedule_for


@dag(
    dag_id="gateway_watch",
    description="网关值守：报送积压、死信、收件箱积压告警",
    schedule=schedule_for("gateway_watch", timedelta(minutes=10)),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=9),
    default_args=default_args(retries=0, execution_timeout=timedelta(minutes=5)),
    tags=["gateway", "operations"],
    doc_md=__doc__,
)
def gateway_watch() -> None:
    @task
    def watch() -> dict[str, object]:
        """Read the figures; fail with the findings when the gateway has fallen behind."""
        from connectors.airflow_settings import gateway_settings
        from connectors.department_files import inbox_lag
        from gateway.health import check

        settings = gateway_settings()
        health = check(settings, inbox_seconds=inbox_lag(settings))
        if health.findings:
            raise RuntimeError(health.summary())
        print(health.summary())
        return {"open_batches": health.open_batches, "dead_letters": health.dead_letters}

    watch()


gateway_watch()
