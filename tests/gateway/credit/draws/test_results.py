"""Results of drawn inspections: spot_check records matched by task and USCC (or entity), the 20-working-day
deadline counted over the National Day holiday, and overdue flags."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from gateway.credit.draws.results import results_report
from gateway.credit.draws.service import run_draw
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity
from tests.gateway.credit.draws.store_world import add_entities, add_records, load_samples, plan_and_task


def drawn_world(settings: Settings) -> list[tuple[int, str]]:
    """Task T1 ends on Friday 2025-09-26, just before the National Day holiday; 10 objects drawn."""
    with engine_for(settings.database_url).begin() as conn:
        add_entities(conn, {"D": 20})
    load_samples(settings)
    plan_and_task(settings, "T1", end_date=date(2025, 9, 26))
    plan_and_task(settings, "T2", end_date=date(2026, 12, 15), allow_repeat=True)
    run_draw(settings, "T1", "n1")
    run_draw(settings, "T2", "n2")
    with engine_for(settings.database_url).connect() as conn:
        from gateway.credit.draws.tables import draw_object

        rows = conn.execute(
            select(entity.c.id, entity.c.uscc)
            .join(draw_object, draw_object.c.entity_id == entity.c.id)
            .where(draw_object.c.task_id == "T1")
            .order_by(entity.c.uscc)
        ).all()
    return [(r.id, r.uscc) for r in rows]


def spot_checks(settings: Settings, rows: list[tuple[int | None, str, str, str]]) -> None:
    """(entity id, task id, USCC or '', result) as spot_check records."""
    with engine_for(settings.database_url).begin() as conn:
        add_records(
            conn,
            "spot_check",
            [
                (
                    entity_id,
                    f"CHK-{task}-{n}",
                    {
                        "CheckId": f"CHK-{task}-{n}",
                        "InspectTaskId": task,
                        "UniscId": code,
                        "InspectDate": "2025-10-15",
                        "InspectResult": result,
                    },
                )
                for n, (entity_id, task, code, result) in enumerate(rows)
            ],
        )


def test_the_deadline_skips_the_national_day_holiday(gateway: Settings) -> None:
    settings = gateway
    drawn = drawn_world(settings)
    assert len(drawn) == 10
    spot_checks(
        settings,
        [
            (drawn[0][0], "T1", drawn[0][1], "未发现问题"),
            (drawn[1][0], "T1", "", "发现问题已责令改正"),  # attached by registration number: no UniscId
            (drawn[2][0], "T2", drawn[2][1], "未发现问题"),  # another task's result does not count
            (drawn[3][0], "T1", drawn[3][1], "未按规定公示"),
            (drawn[3][0], "T1", drawn[3][1], "未发现问题"),  # corrected later: the latest counts
        ],
    )
    (before,) = results_report(settings, ["T1"], today=date(2025, 10, 30))
    assert before.deadline == date(2025, 10, 30)  # 20 working days, with 9-28 and 10-11 worked, 10-1..8 off
    assert (before.drawn, before.results_in, before.pending, before.overdue) == (10, 3, 7, 0)
    (after,) = results_report(settings, ["T1"], today=date(2025, 10, 31))
    assert (after.results_in, after.pending, after.overdue) == (3, 0, 7)
    flagged = {o["uscc"] for o in after.objects if o["overdue"]}
    assert flagged == {code for _, code in drawn[2:]} - {drawn[3][1]}
    corrected = next(o for o in after.objects if o["uscc"] == drawn[3][1])
    assert corrected["InspectResult"] == "未发现问题"
    assert "class" not in corrected and "stratum" not in corrected  # the risk class is not shown


def test_a_deadline_outside_the_calendar_is_reported_not_guessed(gateway: Settings) -> None:
    settings = gateway
    drawn_world(settings)
    both = {r.task_id: r for r in results_report(settings, today=date(2027, 3, 1))}
    assert set(both) == {"T1", "T2"}
    assert both["T2"].deadline is None and "2027" in (both["T2"].problem or "")
    assert both["T2"].overdue == 0 and both["T2"].pending == both["T2"].drawn
    assert both["T1"].overdue == 10
