"""One DAG shape for every family of pulled sources: list its sources, pull each from its cursor and land
it, then process what landed (including units an earlier, interrupted run left behind).

Which sources belong to a family is configuration: the mappings whose `pull:` block names one of the
family's Airflow connections. Adding a dataset of the credit platform is a new mapping file, not code. Every
kind is pulled the same way, by connectors.pulled.run_pull, which finds the kind's connector.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, dag, task

from gateway_common.defaults import DB_WRITERS_POOL, START, default_args, schedule_for
from gateway_common.outbox import announce_outbox


def pulled_source_dag(
    *,
    dag_id: str,
    description: str,
    connections: tuple[str, ...],
    kind: str,
    schedule: Any,
    tags: list[str],
    doc_md: str | None = None,
) -> DAG:
    """A pulled family's DAG. ``doc_md``: the DAG file's own documentation (its sources, its connection);
    what every pulled DAG does is appended from this module."""

    @dag(
        dag_id=dag_id,
        description=description,
        schedule=schedule_for(dag_id, schedule),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=6),
        default_args=default_args(
            retries=2, retry_delay=timedelta(minutes=2), retry_exponential_backoff=True
        ),
        tags=["gateway", "pull", *tags],
        doc_md=f"{doc_md}\n\n---\n\n{__doc__}" if doc_md else __doc__,
    )
    def pulled() -> None:
        @task(execution_timeout=timedelta(minutes=5))
        def sources() -> list[str]:
            """The family's sources: mappings whose pull block names one of its connections."""
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

        @task(
            pool=DB_WRITERS_POOL,
            max_active_tis_per_dagrun=1,
            execution_timeout=timedelta(hours=2),
            map_index_template="{{ task.op_kwargs['mapping_id'] }}",
            # A mapped task does not take its docs from the docstring (Airflow does so only when unmapped).
            doc_md="Pull one source from its stored cursor and land what came (rows and cursor together).",
        )
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

        @task(pool=DB_WRITERS_POOL, execution_timeout=timedelta(hours=2))
        def process(pulls: list[dict[str, Any]]) -> dict[str, int]:
            """Map, validate, attach and store every landed unit not yet processed, this run's and older."""
            from connectors.airflow_settings import gateway_settings
            from gateway.landing import process_pending, summarize_results

            settings = gateway_settings()
            results = [r for item in pulls for r in process_pending(settings, str(item["source"]))]
            return summarize_results(results)

        announce_outbox(process(pull.expand(mapping_id=sources())))

    return pulled()
