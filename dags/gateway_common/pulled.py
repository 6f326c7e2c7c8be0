"""One DAG shape for every family of pulled sources: list its sources, pull each from its cursor and land
it, then process what landed (including units an earlier, interrupted run left behind).

Which sources belong to a family is configuration: the mappings whose `pull:` block names one of the
family's Airflow connections. Adding a dataset of the credit platform is a new mapping file, not code. Every
kind is pulled the same way, by connectors.pulled.run_pull, which finds the kind's connector.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, dag, task

from gateway_common.outbox import announce_outbox


def pulled_source_dag(
    *, dag_id: str, description: str, connections: tuple[str, ...], kind: str, schedule: Any, tags: list[str]
) -> DAG:
    @dag(
        dag_id=dag_id,
        description=description,
        schedule=schedule,
        start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "retry_exponential_backoff": True},
        tags=["gateway", "pull", *tags],
        doc_md=__doc__,
    )
    def pulled() -> None:
        @task
        def sources() -> list[str]:
            from connectors.airflow_settings import gateway_settings
            from gateway.mapping.spec import load_mappings
            from gateway.schema import load_record_types

            settings = gateway_settings()
            types = load_record_types(settings.schemas_dir)
            specs = [
                s
                for s in load_mappings(settings.mappings_dir).values()
                if s.pull and s.pull["kind"] == kind and s.pull["connection"] in connections
            ]
            # Registry sources first: records of the others that name only legacy codes then attach at once.
            return [s.id for s in sorted(specs, key=lambda s: (not types[s.record_type].registry, s.id))]

        @task(max_active_tis_per_dagrun=1, map_index_template="{{ task.op_kwargs['mapping_id'] }}")
        def pull(mapping_id: str) -> dict[str, Any]:
            from connectors.airflow_settings import gateway_settings
            from connectors.connection import get_connection
            from connectors.pulled import run_pull
            from gateway.mapping.spec import load_mappings

            settings = gateway_settings()
            spec = load_mappings(settings.mappings_dir)[mapping_id]
            run = run_pull(settings, spec, get_connection(str(spec.pull["connection"])))
            if not run.ok:  # a refused file: the task fails so that someone looks; the others have landed
                raise RuntimeError("; ".join(error.message for error in run.rejected))
            return run.summary()

        @task
        def process(pulls: list[dict[str, Any]]) -> dict[str, int]:
            from connectors.airflow_settings import gateway_settings
            from gateway.landing import process_pending, summarize_results

            settings = gateway_settings()
            results = [r for item in pulls for r in process_pending(settings, str(item["source"]))]
            return summarize_results(results)

        announce_outbox(process(pull.expand(mapping_id=sources())))

    return pulled()
