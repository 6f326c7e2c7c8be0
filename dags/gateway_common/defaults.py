"""What every gateway DAG shares: owner, start date, timeouts, retries, the failure alert and the pool.

``DB_WRITERS_POOL``: every task that writes the gateway's database takes a slot of this pool, across DAGs,
so that an ingest, a pull and a delivery do not fight over SQLite's single writer (size 1 there) and do not
flood PostgreSQL's connections (wider there). The pool must exist before the scheduler queues such a task:
``python -m connectors.airflow_setup`` creates it with the size that fits the configured database (make up,
the compose file's airflow-init and the scheduler tests run it).

``DELIVERY_PRIORITY``: when the slot frees, the scheduler gives it to the waiting task of highest priority
weight; delivery's tasks outrank every other writer, so that four pulled sources on 30-second timers cannot
keep a built batch from the province (seen under the real scheduler on a loaded machine: four minutes).

Schedules: a deployment may pull a source more or less often than the default without editing code:
``GATEWAY_SCHEDULE_<DAG_ID>`` (e.g. ``GATEWAY_SCHEDULE_CREDIT_PLATFORM``) set to a number of seconds or to a
cron expression (Asia/Shanghai) replaces the timer of the pulled DAGs and of the watch. It is read when the
dag-processor parses the file, so it belongs in that program's environment.

Timeouts: ``execution_timeout`` bounds every task (a hung read of a share or a hub that never answers must
end in a failure and an alert, not hold the pool), ``dagrun_timeout`` every run.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum

from connectors.notifiers import GatewayAlertNotifier

OWNER = "gateway-platform"
DB_WRITERS_POOL = "gateway_db_writers"
DELIVERY_PRIORITY = {"priority_weight": 100, "weight_rule": "absolute"}
START = pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai")


def default_args(
    *,
    retries: int = 2,
    retry_delay: timedelta = timedelta(minutes=1),
    execution_timeout: timedelta = timedelta(hours=1),
    **more: Any,
) -> dict[str, Any]:
    """default_args for a gateway DAG: owner, retries, a timeout and the failure alert on every task."""
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": [GatewayAlertNotifier()],
        **more,
    }


def schedule_for(dag_id: str, default: Any) -> Any:
    """The timer: ``GATEWAY_SCHEDULE_<DAG_ID>`` (seconds, or a cron expression) if set, else ``default``."""
    value = os.environ.get(f"GATEWAY_SCHEDULE_{dag_id.upper()}", "").strip()
    if not value:
        return default
    if value.isdigit():
        return timedelta(seconds=int(value))
    from airflow.sdk import CronTriggerTimetable

    return CronTriggerTimetable(value, timezone="Asia/Shanghai")
