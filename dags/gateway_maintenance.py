"""网关维护 — retention, vacuum and the daily summary, every night at 02:30 (Asia/Shanghai).

**What a run does.** Each task is one job of ``gateway.maintenance`` (``gateway maintenance run --only JOB``
does the same by hand), with the retentions of the ``GATEWAY_*_RETENTION_*`` settings:

* ``landing``: processed units' raw rows in the landing area, past ``GATEWAY_LANDING_RETENTION_DAYS`` (90
  whole local days); never a unit not processed yet, nor the newest unit of a pulled source;
* ``outbox``: acknowledged batches' plaintext XML, ``GATEWAY_PLAINTEXT_RETENTION_HOURS`` (0: the first run)
  after the acknowledgement; their sealed envelopes only if ``GATEWAY_ENVELOPE_RETENTION_DAYS`` is set;
  batches in any other state are never touched;
* ``receipts``: the drop folders' dated ``processed/`` and ``rejected/`` folders past
  ``GATEWAY_ARCHIVE_RETENTION_DAYS`` (365), audit rows past ``GATEWAY_AUDIT_RETENTION_DAYS`` (1095);
* ``vacuum``, once the three have run: VACUUM and ANALYZE of the gateway database;
* ``summary``, independently: the last 24 hours per department and source, deliveries, the oldest
  unacknowledged batch and the resolution queue, in Chinese and English in its log and as its XCom.

**Dry run.** Trigger with ``{"dry_run": true}``: every job reports what it would remove and changes nothing.

**When it fails.** Every removal is written to the database before its file goes, so a task that dies half
way is simply retried (or the next night's run finishes it): nothing is removed twice, nothing it should
keep is touched. A failed task alerts the owners (Connections gateway_alert_webhook, gateway_alert_smtp).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task
from gateway_common.defaults import DB_WRITERS_POOL, START, default_args


def _dry_run() -> bool:
    return bool(get_current_context()["params"]["dry_run"])


def _job(job: str) -> dict[str, Any]:
    """Run one maintenance job with the deployment's settings; its report is the task's XCom."""
    from connectors.airflow_settings import gateway_settings
    from gateway.maintenance import run_job

    return run_job(gateway_settings(), job, dry_run=_dry_run()).as_dict()


@dag(
    dag_id="gateway_maintenance",
    description="网关维护：落地数据、明文报文、回执归档与审计记录的保留期清理，数据库整理，每日摘要",
    schedule=CronTriggerTimetable("30 2 * * *", timezone="Asia/Shanghai"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    default_args=default_args(
        retries=2, retry_delay=timedelta(minutes=10), execution_timeout=timedelta(hours=1)
    ),
    params={
        "dry_run": Param(False, type="boolean", description="Report what would be removed; change nothing.")
    },
    tags=["gateway", "maintenance"],
    doc_md=__doc__,
)
def gateway_maintenance() -> None:
    @task(task_id="landing", pool=DB_WRITERS_POOL, execution_timeout=timedelta(hours=1))
    def landing() -> dict[str, Any]:
        """Remove processed units' raw rows (landing Parquet) past their retention; mark, remove, clear."""
        return _job("landing")

    @task(task_id="outbox", pool=DB_WRITERS_POOL, execution_timeout=timedelta(hours=1))
    def outbox() -> dict[str, Any]:
        """Remove acknowledged batches' plaintext XML (and envelopes, if their retention is set)."""
        return _job("outbox")

    @task(task_id="receipts", pool=DB_WRITERS_POOL, execution_timeout=timedelta(hours=1))
    def receipts() -> dict[str, Any]:
        """Remove the drop folders' dated archive folders and audit rows past their retentions."""
        return _job("receipts")

    @task(task_id="vacuum", pool=DB_WRITERS_POOL, execution_timeout=timedelta(hours=2))
    def vacuum() -> dict[str, Any]:
        """VACUUM and ANALYZE the gateway database (outside a transaction), after the removals."""
        return _job("vacuum")

    @task(task_id="summary", execution_timeout=timedelta(minutes=15))
    def summary() -> dict[str, Any]:
        """The last 24 hours in figures: logged as text (Chinese and English), returned as a dict."""
        from connectors.airflow_settings import gateway_settings
        from gateway.maintenance import daily_summary, summary_text

        figures = daily_summary(gateway_settings())
        print(summary_text(figures))
        return figures

    [landing(), outbox(), receipts()] >> vacuum()
    summary()


gateway_maintenance()
