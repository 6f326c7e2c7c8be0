"""The courts' judicial export feed: 裁判文书 and 失信被执行人 files, checked against the feed's own XSD and
read streaming, one landed unit per export file (see dags/gateway_common/pulled.py and docs/connectors.md)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG
from gateway_common.pulled import pulled_source_dag

# Module-level DAG object: Airflow's parser also only looks at files that mention airflow and dag.
dag: DAG = pulled_source_dag(
    dag_id="judicial_feed",
    description="法院接口文件：裁判文书、失信被执行人（按文件顺序读取，XSD 校验）",
    connections=("court_share",),
    kind="xml_feed",
    schedule=timedelta(hours=1),
    doc_md=__doc__,
    tags=["judicial"],
)
