"""信用中国(忻州): serious-dishonesty list, credit commitments, credit repair.

Pulled from the credit platform's API by updated-since cursor, landed, mapped, validated, attached and
stored (see dags/gateway_common/pulled.py)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG
from gateway_common.pulled import pulled_source_dag

# Module-level DAG object: Airflow's parser also only looks at files that mention airflow and dag.
dag: DAG = pulled_source_dag(
    dag_id="credit_platform",
    description="信用中国(忻州)：严重失信主体名单、信用承诺、信用修复（接口增量拉取）",
    connections=("xz_creditchina",),
    kind="rest_api",
    schedule=timedelta(hours=1),
    doc_md=__doc__,
    tags=["credit"],
)
