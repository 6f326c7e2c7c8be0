"""公示期满、信用修复、异议期限 — every morning at 05:30 (Asia/Shanghai), what must stop being published
stops, and what was held for an objection past its deadline goes on.

**What a run does**, in three tasks, each one transaction:

1. ``withdraw_expired`` computes the publicity period of every record of the configured types that is new
   or changed (``publicity.yaml`` in ``GATEWAY_CREDIT_DIR``: the national tiers from 2026-04-01, the market
   supervision rules, the province's 较低数额罚款 threshold; docs/publicity.md) and withdraws the active
   records whose period ended before today: a version with operation d and reason ``publicity_expired``,
   sent to the province by the next delivery if the province has the record. A record's own 公示截止期
   that contradicts the rules is reported in the log (``gateway credit publicity conflicts`` lists them).
2. ``apply_repairs`` withdraws every active record an effective credit repair decision names
   (``repairs.yaml``; the decision arrives as a credit_repair record from the credit platform, the
   disclosure system or a department): operation d, reason ``credit_repaired``; then closes the warnings
   that rested on it and runs the warnings and the month's risk classes again where they exist.
3. ``lapse_objections`` ends the holds of objections whose working-day deadline passed (docs/objections.md):
   their records' waiting versions go with the next delivery.

``announce_outbox`` wakes delivery when anything was withdrawn or released.

**Repeating is safe.** Only active records are withdrawn and only open objections lapse, each claimed in
the transaction that changes it, so a retried or repeated run does nothing twice; the province receives
each withdrawal exactly once (the delivery's own guarantee, docs/architecture.md).

**Other days.** Trigger with ``{"as_of": "2026-06-30"}`` to withdraw as of that day.

**When it fails.** A mistake in a configuration file fails the task with a message naming the file and the
key (no retry helps: fix the file, then clear the task); a failure of the platform is retried. A failed task
alerts the owners (Connections gateway_alert_webhook, gateway_alert_smtp).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, task
from gateway_common.defaults import DB_WRITERS_POOL, START, default_args, schedule_for
from gateway_common.outbox import announce_outbox

ACTOR = "airflow:credit_publicity"


def _as_of(params: dict[str, Any] | None) -> Any:
    """The day the run is for: the parameter, or today where the city is."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from connectors.airflow_settings import gateway_settings

    given = (params or {}).get("as_of")
    if given:
        return date.fromisoformat(given)
    return datetime.now(ZoneInfo(gateway_settings().timezone)).date()


@dag(
    dag_id="credit_publicity",
    description="公示期满撤下、信用修复撤回、异议超期解除：每日撤回应停止公示的记录并报送省级平台",
    schedule=schedule_for("credit_publicity", CronTriggerTimetable("30 5 * * *", timezone="Asia/Shanghai")),
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
            description="Withdraw as of this day (YYYY-MM-DD); empty: today in GATEWAY_TIMEZONE.",
        )
    },
    tags=["gateway", "credit"],
    doc_md=__doc__,
)
def credit_publicity() -> None:
    @task(task_id="withdraw_expired", pool=DB_WRITERS_POOL)
    def withdraw_expired(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Compute publicity periods, then withdraw what expired; the counts are the XCom."""
        from datetime import UTC, datetime

        from airflow.sdk.exceptions import AirflowFailException

        from connectors.airflow_settings import gateway_settings
        from gateway.credit.publicity.expiry import withdraw_expired as run
        from gateway.credit.publicity.rules import PublicityRulesError

        try:
            summary = run(gateway_settings(), _as_of(params), datetime.now(UTC))
        except PublicityRulesError as exc:  # a retry cannot fix the configuration
            raise AirflowFailException(str(exc)) from exc
        print(summary.describe())
        return summary.as_dict()

    @task(task_id="apply_repairs", pool=DB_WRITERS_POOL)
    def apply_repairs(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Withdraw what credit repairs named, then recompute the warnings and classes that exist."""
        from datetime import UTC, datetime

        from connectors.airflow_settings import gateway_settings
        from gateway.credit.repairs import apply_repairs as run

        report = run(gateway_settings(), datetime.now(UTC), _as_of(params))
        print(report.summary())
        return {"withdrawn": len(report.withdrawn), "sent": report.sent, "entities": len(report.entities)}

    @task(task_id="lapse_objections", pool=DB_WRITERS_POOL)
    def lapse_objections(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Lift the holds of objections past their deadline."""
        from datetime import UTC, datetime

        from connectors.airflow_settings import gateway_settings
        from gateway.credit.objections.service import lapse_overdue

        report = lapse_overdue(gateway_settings(), _as_of(params), datetime.now(UTC))
        released = sum(1 for item in report.lapsed if item.held_by is None)
        print(f"objections lapsed: {len(report.lapsed)}; records released: {released}")
        return {"lapsed": len(report.lapsed), "released": released}

    @task(task_id="totals")
    def totals(expired: dict[str, Any], repaired: dict[str, Any], lapsed: dict[str, Any]) -> dict[str, int]:
        """What the outbox gained: withdrawals to send, held versions released."""
        return {
            "withdrawn": int(expired.get("sent", 0)) + int(repaired.get("sent", 0)),
            "updated": int(lapsed.get("released", 0)),
        }

    expired = withdraw_expired()
    repaired = apply_repairs()
    lapsed = lapse_objections()
    expired >> repaired >> lapsed
    announce_outbox(totals(expired, repaired, lapsed))


credit_publicity()
