"""Department drop folders → map, validate, attach, store → outbox. One run handles every inbox.

Thin on purpose: each task wires one library call and passes references (inbox paths), never data.
Heavy imports stay inside the tasks because the dag-processor parses this file constantly.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from gateway_common.outbox import announce_outbox


@dag(
    dag_id="department_files",
    description="部门报送文件：接收、映射、校验、关联主体、入库、回执",
    schedule=timedelta(minutes=10),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["gateway", "ingest"],
    doc_md=__doc__,
)
def department_files() -> None:
    @task
    def scan_inboxes() -> list[dict[str, str]]:
        from connectors.airflow_settings import gateway_settings
        from connectors.department_files import scan_inboxes as scan

        return scan(gateway_settings())

    @task(max_active_tis_per_dagrun=1, map_index_template="{{ task.op_kwargs['item']['name'] }}")
    def ingest(item: dict[str, str]) -> dict[str, object]:
        from connectors.airflow_settings import gateway_settings
        from connectors.department_files import process_file

        return process_file(gateway_settings(), item["department"], item["path"])

    @task
    def report(results: list[dict[str, object]]) -> dict[str, int]:
        from connectors.department_files import log_summary

        return log_summary(list(results))

    announce_outbox(report(ingest.expand(item=scan_inboxes())))


department_files()
