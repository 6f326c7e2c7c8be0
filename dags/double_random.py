"""双随机、一公开 — draw a task's objects and inspectors on demand; check the results' deadlines every day.

**double_random_draw** (triggered by hand, never on a timer). Trigger with ``{"task_id": "T2025-01",
"nonce": "..."}``: the task (made beforehand with ``gateway credit draws plan add`` / ``task add``) is drawn
once, by risk class with the ratios of ``draw_ratios.yaml`` and the 3 % floor, no object drawn twice in the
plan's year unless the task allows it, then at least two inspectors per object and department with
conflicts of interest removed first. The nonce is the witnessed random number announced at the draw (a
public lottery number, a number drawn before witnesses): it is written into the signed record and makes the
draw impossible to choose in advance. ``verify`` then re-runs the draw from the stored record alone. The
task's XCom is the per-stratum counts and the number drawn (the drawn list itself is in the record:
``gateway credit draws show TASK``).

**double_random_results** (every day at 07:00 Asia/Shanghai). For every drawn task: objects drawn, results
in (spot_check records of that task), pending, and overdue: no result 20 working days after the task's end
date (企业信息公示暂行条例 第六条; the holiday calendar is ``holidays.yaml``). The report is logged and is the
task's XCom; overdue results are the inspecting department's to chase, so they do not fail the run. A task
whose deadline falls in a year the calendar does not cover yet is reported with that reason.

**When it fails.** A draw that cannot be made (no such task, already drawn, too few inspectors, no signing
key) fails without writing anything: the draw is one transaction. It is not retried: the same request would
fail the same way, and a draw is never repeated. docs/double-random.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task
from gateway_common.defaults import DB_WRITERS_POOL, START, default_args

DOC = __doc__


def draw_task(task_id: str, nonce: str) -> dict[str, Any]:
    """Run and verify one draw with the deployment's settings; the counts are the XCom."""
    from connectors.airflow_settings import gateway_settings
    from gateway.credit.draws.service import run_draw

    result = run_draw(gateway_settings(), task_id, nonce)
    drawn = len(result.drawn)
    print(f"任务 {task_id} 抽取完成：{drawn} 户；各类别 {result.counts}")
    return {"task_id": task_id, "drawn": drawn, "counts": result.counts, "seed": result.record["seed"]}


def verify_task(task_id: str) -> dict[str, Any]:
    from connectors.airflow_settings import gateway_settings
    from gateway.credit.draws.service import verify_draw

    check = verify_draw(gateway_settings(), task_id)
    print(("复核通过：" if check.ok else "复核失败：") + check.reason)
    if not check.ok:
        raise RuntimeError(f"draw of {task_id} does not verify: {check.reason}")
    return check.as_dict()


def results_check() -> list[dict[str, Any]]:
    from connectors.airflow_settings import gateway_settings
    from gateway.credit.draws.results import results_report

    report = results_report(gateway_settings())
    for r in report:
        line = (
            f"任务 {r.task_id}：抽中 {r.drawn}，已有结果 {r.results_in}，待公示 {r.pending}，逾期 {r.overdue}"
            f"（公示期限 {r.deadline or '未知'}）"
        )
        print(line + (f"；{r.problem}" if r.problem else ""))
    return [r.as_dict(objects=False) for r in report]


@dag(
    dag_id="double_random_draw",
    description="双随机抽取：按信用风险分类抽取检查对象和执法检查人员，签名留痕并复核",
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args=default_args(retries=2, execution_timeout=timedelta(minutes=30)),
    params={
        "task_id": Param("", type="string", minLength=1, description="抽查任务编号（task add 建立的）"),
        "nonce": Param("", type="string", minLength=1, maxLength=128, description="见证随机数"),
    },
    tags=["gateway", "credit", "double-random"],
    doc_md=DOC,
)
def double_random_draw() -> None:
    @task(task_id="draw", pool=DB_WRITERS_POOL, execution_timeout=timedelta(minutes=30))
    def draw() -> dict[str, Any]:
        """Draw the task named in the params, once: objects by stratum, inspectors, signed record."""
        params = get_current_context()["params"]
        return draw_task(str(params["task_id"]), str(params["nonce"]))

    @task(task_id="verify", execution_timeout=timedelta(minutes=30))
    def verify(drawn: dict[str, Any]) -> dict[str, Any]:
        """Re-run the draw from its stored record and check the signature; fail if anything differs."""
        return verify_task(drawn["task_id"])

    verify(draw())


@dag(
    dag_id="double_random_results",
    description="双随机抽查结果：每日核对各任务的结果归集与 20 个工作日公示期限，列出逾期",
    schedule=CronTriggerTimetable("0 7 * * *", timezone="Asia/Shanghai"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args=default_args(
        retries=2, retry_delay=timedelta(minutes=5), execution_timeout=timedelta(minutes=30)
    ),
    tags=["gateway", "credit", "double-random"],
    doc_md=DOC,
)
def double_random_results() -> None:
    @task(task_id="overdue", execution_timeout=timedelta(minutes=30))
    def overdue() -> list[dict[str, Any]]:
        """Per drawn task: drawn, results in, pending and overdue against the 20-working-day deadline."""
        return results_check()

    overdue()


double_random_draw()
double_random_results()
