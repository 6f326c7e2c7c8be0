"""Following `airflow dags test` output: the first failed attempt is caught with its task and its error."""

from __future__ import annotations

from samples.demo_dagtest import DagTestOutput

T = "2026-12-07T03:07:41.599760Z"
FAILING = [
    f"{T} [info     ] [DAG TEST] starting task_id=sources map_index=-1 [airflow.sdk.definitions.dag]\n",
    f"{T} [info     ] Task instance state updated [execution_api] new_state=success rows_affected=1\n",
    f"{T} [info     ] [DAG TEST] starting task_id=pull map_index=0 [airflow.sdk.definitions.dag]\n",
    f"{T} [error    ] Task failed with exception     [task] loc=task_runner.py:1676\n",
    "Traceback (most recent call last):\n",
    '  File "/x/sqlalchemy/engine/base.py", line 1977, in _exec_single_context\n',
    "    self.dialect.do_execute(\n",
    "sqlite3.IntegrityError: UNIQUE constraint failed: source_file.department, source_file.sha256\n",
    "\n",
    "The above exception was the direct cause of the following exception:\n",
    "\n",
    "Traceback (most recent call last):\n",
    '  File "/x/gateway/landing.py", line 140, in land_pull\n',
    "sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed: source_file.sha256\n",
    f"{T} [info     ] Task instance state updated [execution_api] new_state=up_for_retry rows_affected=1\n",
]


def test_a_failed_attempt_names_the_task_and_the_last_exception() -> None:
    output = DagTestOutput()
    for line in FAILING:
        output.feed(line)
    assert output.failure == (
        "task pull[0]: sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed: "
        "source_file.sha256"
    )
    assert output.states == {"success": 1, "up_for_retry": 1}


def test_a_clean_run_counts_states_and_its_end() -> None:
    output = DagTestOutput()
    for line in [
        FAILING[0],
        FAILING[1],
        f"{T} [info     ] Task instance state updated [execution_api] new_state=skipped rows_affected=1\n",
        f"{T} [info     ] DagRun Finished: dag_id=x, run_duration=2.1, state=success, run_type=manual,\n",
    ]:
        output.feed(line)
    assert output.failure is None and output.run_state == "success"
    assert output.summary() == "1 skipped, 1 success"
