"""`airflow dags test` for the demo, followed line by line so that a failing task stops the demo at once.

Under `airflow dags test` a failed task waits out its retry delay (minutes, with exponential backoff) before
the next attempt, and nothing is printed meanwhile: a demo that hit a bug looked hung. In the demo there is
nothing to wait for — the sources and the hub are local and already up — so the first failed attempt ends
the run, and the demo says which task failed and why. The DAGs keep their retries for real deployments.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_STARTING = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_NEW_STATE = re.compile(r"new_state=(\w+)")
_TIMESTAMPED = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_RUN_STATE = re.compile(r"DagRun Finished: .*\bstate=(\w+)")


class DagTestFailed(RuntimeError):
    """A DAG run under `airflow dags test` failed; the message names the task and its error."""


@dataclass
class DagTestOutput:
    """What the output of one `airflow dags test` said so far: task states, the failure, the run's end."""

    states: Counter[str] = field(default_factory=Counter)
    task: str | None = None
    failure: str | None = None
    run_state: str | None = None
    _traceback: list[str] = field(default_factory=list)
    _in_traceback: bool = False

    def feed(self, line: str) -> None:
        if self._in_traceback and not _TIMESTAMPED.match(line):
            self._traceback.append(line.rstrip())
            return
        self._in_traceback = False
        if match := _STARTING.search(line):
            index = int(match.group(2))
            self.task = match.group(1) + (f"[{index}]" if index >= 0 else "")
        elif "Task failed with exception" in line:
            self._in_traceback, self._traceback = True, []
        elif match := _NEW_STATE.search(line):
            state = match.group(1)
            self.states[state] += 1
            if state in ("up_for_retry", "failed") and self.failure is None:
                self.failure = f"task {self.task or '?'}: {self.error() or 'failed (see the log)'}"
        elif match := _RUN_STATE.search(line):
            self.run_state = match.group(1)

    def error(self) -> str | None:
        """The exception line of the last traceback: its last unindented line."""
        lines = [
            line
            for line in self._traceback
            if line and not line[0].isspace() and not line.startswith(("Traceback", "The above", "During"))
        ]
        return lines[-1][:500] if lines else None

    def summary(self) -> str:
        parts = [f"{n} {state}" for state, n in sorted(self.states.items())]
        return ", ".join(parts) if parts else "no tasks"


def run_dag_test(dag_id: str, env: dict[str, str], log_path: Path) -> DagTestOutput:
    """Run one DAG to its end or its first failed task; the whole output goes to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    output = DagTestOutput()
    with log_path.open("w", encoding="utf-8", errors="replace") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            output.feed(line)
            if output.failure:
                break
        if output.failure:
            proc.terminate()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    if output.failure:
        raise DagTestFailed(
            f"DAG {dag_id}, {output.failure} — stopped at the first failed attempt instead of waiting for "
            f"Airflow's retries; full log: {log_path}"
        )
    if code != 0 or output.run_state != "success":
        raise DagTestFailed(f"DAG {dag_id} ended {output.run_state or f'with exit {code}'}; see {log_path}")
    return output
