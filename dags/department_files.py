"""部门报送文件 — department drop folders → map, validate, attach, store → outbox, with a receipt per file.

**When it runs.** A department drops a file into ``<dropzone>/<department>/inbox/``; the inbox watcher (an
event trigger in Airflow's triggerer, connectors/inbox_trigger.py) sees it once it has settled and starts a
run through the asset ``gateway_inboxes``, within seconds. An hourly timer runs it as well, which picks up
anything the watcher could not announce (the triggerer down, a file put back after a database outage).

**What a run does.** ``scan_inboxes`` lists what waits in every inbox; ``ingest`` runs once per file (mapped,
labelled with the file's name, ID numbers masked), one at a time and in the database writers' pool; each
file leaves the inbox for processed/ or rejected/ with its receipts. ``report`` logs the totals, and
``announce_outbox`` wakes delivery only when new versions were stored.

**When it fails.** A failure of the platform (database down, disk full) stops the run and leaves the file in
the inbox; the task is retried and the owners get an alert (Connections gateway_alert_webhook and
gateway_alert_smtp). A bad file never fails the run: it gets a receipt that says why.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from gateway_common.assets import INBOXES
from gateway_common.defaults import DB_WRITERS_POOL, START, default_args
from gateway_common.outbox import announce_outbox


@dag(
    dag_id="department_files",
    description="部门报送文件：接收、映射、校验、关联主体、入库、回执",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("7 * * * *", timezone="Asia/Shanghai"), assets=INBOXES
    ),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=default_args(retries=2, retry_delay=timedelta(minutes=1)),
    tags=["gateway", "ingest"],
    doc_md=__doc__,
)
def department_files() -> None:
    @task(execution_timeout=timedelta(minutes=5))
    def scan_inboxes() -> list[dict[str, str]]:
        """List the files whose turn has come in every department's inbox (names masked)."""
        from connectors.airflow_settings import gateway_settings
        from connectors.department_files import scan_inboxes as scan

        return scan(gateway_settings())

    @task(
        pool=DB_WRITERS_POOL,
        max_active_tis_per_dagrun=1,
        execution_timeout=timedelta(hours=1),
        map_index_template="{{ task.op_kwargs['item']['department'] }}/{{ task.op_kwargs['item']['name'] }}",
        # A mapped task does not take its docs from the docstring (Airflow sets doc_md only when unmapped).
        doc_md="Claim one file, ingest it in one transaction and archive it with its receipts.",
    )
    def ingest(item: dict[str, str]) -> dict[str, object]:
        from connectors.airflow_settings import gateway_settings
        from connectors.department_files import process_file

        return process_file(gateway_settings(), item["department"], item["path"])

    @task(execution_timeout=timedelta(minutes=5))
    def report(results: list[dict[str, object]]) -> dict[str, int]:
        """One line per file and the run's totals, in the log."""
        from connectors.department_files import log_summary

        return log_summary(list(results))

    announce_outbox(report(ingest.expand(item=scan_inboxes())))


department_files()
