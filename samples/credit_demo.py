"""The demo's credit step: once the samples are in and delivered, grade the sample entities, raise the
early warnings, and run one double-random draw and verify it — printing each (docs/credit.md).

Idempotent like the rest of the demo: a second run classifies the month again (a new run, nobody moves),
raises no warning twice, and re-verifies the draw it made the first time instead of drawing again.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from gateway.settings import Settings

CREDIT_SAMPLES = Path(__file__).resolve().parent / "credit"
PLAN_ID = "XZ-2026-SJ"
TASK_ID = "XZ-2026-SJ-001"
# A witnessed nonce is what the people present at the draw contribute (the number read out at a public
# draw); the demo's is fixed, so every demo draws the same objects from the same population.
NONCE = "2026-12-demo-witness-0417"


def run_credit(settings: Settings, console: Console) -> None:
    from gateway.credit.draws.lists import load_file
    from gateway.credit.draws.plans import add_plan, add_task
    from gateway.credit.draws.service import run_draw, stored_record, verify_draw
    from gateway.credit.draws.tables import draw_task
    from gateway.credit.risk.service import run as classify
    from gateway.credit.warnings.raising import raise_warnings
    from gateway.store.db import engine_for

    report = classify(settings, actor="demo")
    console.print(
        f"\n[bold]credit risk classes (信用风险分类, internal)[/] {report.period}: "
        f"{report.entities} enterprises"
    )
    console.print("  " + " · ".join(f"{cls} {n}" for cls, n in report.counts.items()))
    console.print(f"  forced by a veto: {report.vetoed}; moved since the previous run: {report.moved()}")

    warnings = raise_warnings(settings, actor="demo")
    console.print(f"\n[bold]early warnings (风险预警)[/]: {warnings.total_raised} raised today")
    for rule_id, n in warnings.found.items():
        if n:
            console.print(
                f"  {warnings.labels[rule_id]} ({warnings.levels[rule_id]}): "
                f"{n} found, {warnings.raised[rule_id]} new"
            )

    loaded = [
        load_file(settings, kind, CREDIT_SAMPLES / name)
        for kind, name in (("items", "抽查事项清单.csv"), ("inspectors", "执法检查人员名录.csv"))
    ]
    console.print(
        f"\n[bold]double-random draw (双随机抽查)[/]: {loaded[0].rows} inspection items, "
        f"{loaded[1].rows} inspectors loaded"
    )
    with engine_for(settings.database_url).begin() as conn:
        planned = conn.execute(select(draw_task.c.task_id).where(draw_task.c.task_id == TASK_ID)).first()
        if planned is None:
            add_plan(conn, PLAN_ID, "2026年度市场监管双随机抽查计划（演示）", 2026, "市市场监督管理局")
            add_task(
                conn,
                TASK_ID,
                PLAN_ID,
                "企业公示信息情况检查（不定向）",
                ["SC-AMR-001"],
                "不定向",
                date(2026, 12, 31),
            )
        drawn = stored_record(conn, TASK_ID)
    if drawn is None:
        drawn = run_draw(settings, TASK_ID, NONCE).record
        console.print(f"  task {TASK_ID} drawn now, nonce {NONCE!r}")
    else:
        console.print(f"  task {TASK_ID} was drawn before; its signed record is kept")
    console.print(
        "  per class: "
        + ", ".join(
            f"{cls} {c['quota'] + c['topup']} of {c['scope']}" for cls, c in sorted(drawn["counts"].items())
        )
    )
    for item in drawn["drawn"][:5]:
        console.print(f"  {item['uscc']} ({item['stratum']}) ← inspectors {', '.join(item['inspectors'])}")
    if len(drawn["drawn"]) > 5:
        console.print(f"  … {len(drawn['drawn']) - 5} more")
    verdict = verify_draw(settings, TASK_ID)
    if verdict.ok:
        console.print("  [green]verified: the draw re-runs to the same result and its signature holds[/]")
    else:
        console.print(f"  [red]verification refused: {verdict.reason}[/]")
