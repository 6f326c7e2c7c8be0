"""信用风险分类 — every enterprise in scope re-classified once a month (A 低 / B 一般 / C 较高 / D 高).

**What a run does.** On the 1st of each month at 03:00 (Asia/Shanghai) it classifies the month that just
ended, as of its last day, with the model in ``GATEWAY_CREDIT_DIR/risk_model.yaml``
(``gateway credit classify`` does the same by hand): every indicator's records, time decay and caps, then
the veto rules. The run is kept with the model's text; its report (entities per class, how many moved
between classes since the previous run, the vetoes, records whose dates could not be read) is the task's
XCom and its log. Trigger with ``{"period": "2026-11"}`` to classify another month again.

**Internal only.** The class is a basis for allocating supervision (抽查比例和频次), not a public rating; it
never enters the feed to the province (docs/credit.md).

**When it fails.** The run is one transaction: a failed task leaves no half-written month, and its retry
(or a manual trigger) classifies the month afresh. A failure alerts the owners.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task
from gateway_common.defaults import DB_WRITERS_POOL, START, default_args, schedule_for


@dag(
    dag_id="credit_classify",
    description="信用风险分类：每月对范围内的企业重新分类（内部使用，不对外公开）",
    schedule=schedule_for("credit_classify", CronTriggerTimetable("0 3 1 * *", timezone="Asia/Shanghai")),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    default_args=default_args(
        retries=2, retry_delay=timedelta(minutes=10), execution_timeout=timedelta(hours=1)
    ),
    params={
        "period": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}$",
            description="The month to classify, YYYY-MM; empty: the month before the run's date.",
        )
    },
    tags=["gateway", "credit"],
    doc_md=__doc__,
)
def credit_classify() -> None:
    @task(task_id="classify", pool=DB_WRITERS_POOL)
    def classify() -> dict[str, Any]:
        """Classify every entity in scope for the month and report entities per class and the moves."""
        import pendulum

        from connectors.airflow_settings import gateway_settings
        from gateway.credit.risk.classify import period_of
        from gateway.credit.risk.service import run

        context = get_current_context()
        settings = gateway_settings()
        period = context["params"].get("period")
        if not period:
            local = pendulum.instance(context["logical_date"]).in_timezone(settings.timezone)
            period = period_of(local.subtract(months=1).date())
        report = run(settings, period, actor="credit_classify")  # as of the month's last day, or today
        print(
            f"信用风险分类 {report.period}（截至 {report.as_of}）：{report.entities} 户，各类 {report.counts}"
        )
        print(f"较上次变动 {report.moved()} 户 {report.moves}；否决规则 {report.vetoed}")
        if report.undated:
            print(f"日期无法识别的记录（按满分计入，到期类不计）：{report.undated}")
        return {**report.__dict__, "as_of": report.as_of.isoformat()}

    classify()


credit_classify()
