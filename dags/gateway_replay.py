"""重放落地数据 — process units again from the landing area with today's mappings, triggered by a person.

**When to use it.** After a mapping is fixed, or when a department asks: what was already landed (a
department's accepted file, a pulled unit, also one that was rejected) is mapped, validated, attached and
stored again, without the department dropping the file again and without pulling the source again. It never
runs on a timer: trigger it with parameters (the "Trigger" button, or ``airflow dags trigger gateway_replay
--conf '{"source_id": "xz_ecology"}'``). At least one of ``source_id``, ``unit_id``, ``since`` and ``until``
must be given; ``since``/``until`` are local days (Asia/Shanghai unless ``GATEWAY_TIMEZONE`` says
otherwise), both included.

**What a run does.** ``select`` lists the processed units whose landed rows are still there, oldest first
(never a unit not processed yet, never an earlier replay, never one whose rows the retention removed) and
fails with a clear message when no filter is given or nothing matches. ``replay`` runs once per unit
(mapped, labelled with the unit's id), one at a time and in the database writers' pool: each replay is a
unit of its own (kind ``replay``, with its own receipt and an audit row), in one transaction. Unchanged data
stores nothing; a changed mapping updates exactly the records whose mapped content changed; records a later
unit changed since are left alone. ``report`` logs the totals, and ``announce_outbox`` wakes delivery only
when new versions were stored. ``gateway replay`` does the same from the command line.

**Dry run.** Trigger with ``{"dry_run": true}`` (and a filter): ``select`` lists the units and each
``replay`` task says what it would replay; nothing is changed.

**When it fails.** A unit whose landed file is missing or unreadable fails its task with a message naming
the unit (no retry: it will not come back by itself); the other units are replayed, and delivery takes what
they stored on its own 15-minute timer. A failure of the platform (database down) is retried; a replay that
died is rolled back and simply replays again. A failed task alerts the owners.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task
from gateway_common.defaults import DB_WRITERS_POOL, START, default_args
from gateway_common.outbox import announce_outbox


def _params() -> dict[str, Any]:
    return dict(get_current_context()["params"])


@dag(
    dag_id="gateway_replay",
    description="重放落地数据：按当前映射重新处理已落地的文件或拉取单元（按来源、单元或接收日期）",
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args=default_args(retries=2, retry_delay=timedelta(minutes=1)),
    params={
        "source_id": Param(
            None,
            type=["null", "string"],
            minLength=1,
            description="Only units of this department (its inbox id) or pulled source, e.g. xz_ecology.",
        ),
        "unit_id": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="Only this unit (the id of its source_file row, as gateway pages and logs show it).",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Units received on this local day (YYYY-MM-DD) or later.",
        ),
        "until": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Units received on this local day (YYYY-MM-DD) or earlier.",
        ),
        "dry_run": Param(False, type="boolean", description="List what would be replayed; change nothing."),
    },
    tags=["gateway", "replay"],
    doc_md=__doc__,
)
def gateway_replay() -> None:
    @task(execution_timeout=timedelta(minutes=5))
    def select() -> list[int]:
        """The units the parameters select, oldest first; fails when no filter is given or nothing matches."""
        from airflow.sdk.exceptions import AirflowFailException

        from connectors.airflow_settings import gateway_settings
        from gateway.replay import ReplayError, parse_day, replayable, select_units

        params = _params()
        source_id, unit_id = params.get("source_id"), params.get("unit_id")
        since, until = params.get("since"), params.get("until")
        if source_id is None and unit_id is None and since is None and until is None:
            raise AirflowFailException(
                "give at least one of source_id, unit_id, since, until: a replay of everything is "
                "`gateway replay --all`, on purpose"
            )
        settings = gateway_settings()
        try:
            units = select_units(
                settings,
                source_id=source_id,
                unit_id=unit_id,
                since=parse_day(since, "since") if since else None,
                until=parse_day(until, "until") if until else None,
            )
        except ReplayError as exc:
            raise AirflowFailException(str(exc)) from exc
        if not units and unit_id is not None:
            try:
                replayable(settings, unit_id)
            except ReplayError as exc:  # why the unit asked for cannot be replayed
                raise AirflowFailException(str(exc)) from exc
        if not units:
            raise AirflowFailException(
                f"no processed unit with its landed rows matches source_id={source_id!r}, "
                f"unit_id={unit_id!r}, since={since!r}, until={until!r}"
            )
        for unit in units:
            print(unit.as_dict(settings))
        dry = " (dry run: nothing is changed)" if params["dry_run"] else ""
        print(f"{len(units)} units to replay{dry}")
        return [unit.id for unit in units]

    @task(
        pool=DB_WRITERS_POOL,
        max_active_tis_per_dagrun=1,
        execution_timeout=timedelta(hours=1),
        map_index_template="{{ task.op_kwargs['unit_id'] }}",
        # A mapped task does not take its docs from the docstring (Airflow sets doc_md only when unmapped).
        doc_md="Replay one unit from the landing area with today's mappings, in one transaction, as a "
        "replay of its own (its receipt and audit row); with dry_run, only say what would be replayed.",
    )
    def replay(unit_id: int) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from connectors.airflow_settings import gateway_settings
        from gateway.replay import ReplayError, replay_summary, replay_unit, select_units

        settings = gateway_settings()
        if _params()["dry_run"]:
            found = select_units(settings, unit_id=unit_id)
            if not found:
                raise AirflowFailException(f"unit {unit_id} can no longer be replayed")
            print(f"would replay {found[0].as_dict(settings)}")
            return {"unit": unit_id, "dry_run": True}
        try:
            summary = replay_summary(unit_id, replay_unit(settings, unit_id))
        except ReplayError as exc:
            raise AirflowFailException(str(exc)) from exc
        print(summary)
        return summary

    @task(execution_timeout=timedelta(minutes=5))
    def report(results: list[dict[str, Any]]) -> dict[str, int]:
        """The run's totals in the log: units replayed, rows, and what was stored."""
        totals = {
            key: sum(int(r.get(key) or 0) for r in results)
            for key in ("rows", "new", "updated", "unchanged", "withdrawn", "rejected", "queued")
        }
        totals["units"] = len(results)
        print(totals)
        return totals

    announce_outbox(report(replay.expand(unit_id=select())))


gateway_replay()
