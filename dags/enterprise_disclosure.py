"""国家企业信用信息公示系统(山西): market entities (the registry), abnormal operations, spot-check results.

Pulled from the disclosure system's API by updated-since cursor (see dags/gateway_common/pulled.py)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG
from gateway_common.pulled import pulled_source_dag

# Module-level DAG object: Airflow's parser also only looks at files that mention airflow and dag.
dag: DAG = pulled_source_dag(
    dag_id="enterprise_disclosure",
    description="国家企业信用信息公示系统(山西)：市场主体、经营异常名录、双随机抽查结果（接口增量拉取）",
    connections=("xz_gsxt",),
    kind="rest_api",
    schedule=timedelta(hours=1),
    doc_md=__doc__,
    tags=["disclosure"],
)
