"""Departments' front-end staging databases (前置库): 行政检查行为 and other 互联网+监管 tables, pulled by
(update time, key) keyset cursor in chunks (see dags/gateway_common/pulled.py and docs/connectors.md)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG
from gateway_common.pulled import pulled_source_dag

# Module-level DAG object: Airflow's parser also only looks at files that mention airflow and dag.
dag: DAG = pulled_source_dag(
    dag_id="staging_tables",
    description="部门前置库：互联网+监管 行为数据（按更新时间与主键增量读取）",
    connections=("xz_amr_qzk",),
    kind="sql_staging",
    schedule=timedelta(minutes=30),
    doc_md=__doc__,
    tags=["staging"],
)
