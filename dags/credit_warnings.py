"""风险预警 — raise the credit early warnings every morning at 06:30 (Asia/Shanghai).

**What a run does.** ``raise_warnings`` evaluates every enabled rule of ``warning_rules.yaml`` (in
``GATEWAY_CREDIT_DIR``, default the shipped configuration) as of today in ``GATEWAY_TIMEZONE``, or as of the
``as_of`` parameter, and raises the warnings whose evidence is new, each with its evidence, level and
department; ``gateway credit warnings raise`` does the same by hand. Its log and XCom give the counts per rule
and level: found (what the evidence gives today) and raised (new today). Departments then follow their
warnings with ``gateway credit warnings list / ack / handle / dismiss / export`` (docs/credit-warnings.md).

**Repeating is safe.** A warning is unique by the sha256 of its rule, entity and evidence (record ids and
versions): a retried or repeated run raises nothing it raised before, and the run is one transaction, so a
run that dies half way raised nothing. Records withdrawn by their department and records a credit repair took
out of use never count.

**Other days.** Trigger with ``{"as_of": "2026-06-30"}`` to evaluate as of that day (the windows
count back from it; risk runs as of a later day are not looked at).

**When it fails.** A mistake in the rules file fails the task with a message naming the file, the rule and
the key (no retry helps: fix the file, then clear the task). A failure of the platform (database down) is
retried. A failed task alerts the owners (Connections gateway_alert_webhook, gateway_alert_smtp).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, task
from gateway_common.defaults import DB_WRITERS_POOL, START, default_args, schedule_for

ACTOR = "airflow:credit_warnings"


@dag(
    dag_id="credit_warnings",
    description="风险预警：按预警规则（warning_rules.yaml）每日生成信用风险预警，并按部门分派",
    schedule=schedule_for("credit_warnings", CronTriggerTimetable("30 6 * * *", timezone="Asia/Shanghai")),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=default_args(
        retries=2, retry_delay=timedelta(minutes=10), execution_timeout=timedelta(hours=2)
    ),
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Evaluate the rules as of this day (YYYY-MM-DD); empty: today in GATEWAY_TIMEZONE.",
        )
    },
    tags=["gateway", "credit"],
    doc_md=__doc__,
)
def credit_warnings() -> None:
    @task(task_id="raise_warnings", pool=DB_WRITERS_POOL, execution_timeout=timedelta(hours=2))
    def raise_warnings(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the warning rules and raise what is new, in one transaction; the counts are the XCom."""
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from connectors.airflow_settings import gateway_settings
        from gateway.credit.warnings.raising import raise_warnings as run
        from gateway.credit.warnings.rules import WarningRulesError

        as_of = (params or {}).get("as_of")
        try:
            report = run(gateway_settings(), date.fromisoformat(as_of) if as_of else None, actor=ACTOR)
        except WarningRulesError as exc:  # a retry cannot fix the configuration
            raise AirflowFailException(str(exc)) from exc
        figures = report.as_dict()
        for rule_id, counts in figures["rules"].items():
            print(
                f"{rule_id} ({counts['label']}, {counts['level']}): found {counts['found']}, "
                f"raised {counts['raised']}"
            )
        print(f"as of {figures['as_of']}: raised {figures['raised']} by level {figures['by_level']}")
        return figures

    raise_warnings()


credit_warnings()
