"""The demo's DAG runs (Airflow's ``dag.test()``, in one child process: samples/run_dags.py), followed line by
line so that a failing task stops the demo at once.

Under ``dag.test()`` a failed task waits out its retry delay (minutes, with exponential backoff) before the
next attempt, and nothing is printed meanwhile: a demo that hit a bug looked hung. In the demo there is
nothing to wait for — the sources and the hub are local and already up — so the first failed attempt ends
the run, and the demo says which task failed and why. The DAGs keep their retries for real deployments.
Each DAG's output goes to a log file of its own.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_STARTING = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_NEW_STATE = re.compile(r"new_state=(\w+)")
_TIMESTAMPED = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_RUN_STATE = re.compile(r"DagRun Finished: .*\bstate=(\w+)")
_MARK = re.compile(r"^@@gateway-dag (start|end|import-errors) ?(\S*)")


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


def run_dags(
    dag_ids: Sequence[str],
    env: dict[str, str],
    log_dir: Path,
    dags_folder: Path,
    on_start: Callable[[str], None] = lambda _dag_id: None,
) -> dict[str, DagTestOutput]:
    """Run ``dag_ids`` in order, each to its end, stopping at the first failed task; each DAG's output goes
    to ``log_dir``/<dag id>.log (<dag id>#2.log for its second run, and so on). Raises DagTestFailed naming
    the DAG, the task and its error."""
    log_dir.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, DagTestOutput] = {}
    current: str | None = None
    log = (log_dir / "airflow-start.log").open("w", encoding="utf-8", errors="replace")
    proc = subprocess.Popen(
        [sys.executable, "-m", "samples.run_dags", str(dags_folder), *dag_ids],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    failure: str | None = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            mark = _MARK.match(line)
            if mark and mark.group(1) == "start":
                current = mark.group(2)
                runs = sum(1 for name in outputs if name.split("#")[0] == current)
                current = f"{current}#{runs + 1}" if runs else current  # a DAG run again: its own log
                log.close()
                log = (log_dir / f"{current}.log").open("w", encoding="utf-8", errors="replace")
                outputs[current] = DagTestOutput()
                on_start(current)
                continue
            log.write(line)
            if mark and mark.group(1) == "import-errors":
                failure = f"the DAG files do not import: {line.strip()[:500]}"
                break
            if current is not None and not mark:
                output = outputs[current]
                output.feed(line)
                if output.failure:
                    failure = f"DAG {current}, {output.failure}"
                    break
    finally:
        log.close()
        if proc.poll() is None:
            proc.terminate()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    where = log_dir / f"{current or 'airflow-start'}.log"
    if failure:
        raise DagTestFailed(
            f"{failure} — stopped at the first failed attempt instead of waiting for Airflow's retries; "
            f"full log: {where}"
        )
    unfinished = [d for d in dag_ids if d not in outputs or outputs[d].run_state != "success"]
    if code != 0 or unfinished:
        name = unfinished[0] if unfinished else current
        state = outputs[name].run_state if name in outputs else None
        raise DagTestFailed(f"DAG {name} ended {state or f'with exit {code}'}; see {where}")
    return outputs
