"""Progress bars for the command line: on stderr, and only when stderr is a terminal.

A check of a large export or a delivery run takes long enough that a silent terminal looks hung. The bars
are drawn by rich on stderr, so stdout keeps exactly what scripts read (the JSON receipt, the summary); and
when stderr is not a terminal — a pipe, a log file, cron, a test — nothing is drawn at all, so logs stay
free of control sequences. The library's loops report through gateway.progress; the steps the CLI itself
waits on without a count (migrating the database, cutting batches) show a spinner with the time taken.
Bars are transient: they vanish when the command ends and leave only its output.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from gateway.progress import BATCHES, ROWS, observed_by

STAGES: dict[str, tuple[str, str]] = {ROWS: ("已检查数据行", "行"), BATCHES: ("投递批次", "批")}
"""Stage → (label, unit) as the bar shows it; a stage not listed shows its own name."""


class _CountColumn(ProgressColumn):
    """How far a stage got, with its unit — 12,345 行 (1,520 行/秒), or 3/10 批 when the total is known."""

    def render(self, task: Task) -> Text:
        unit = str(task.fields.get("unit", ""))
        if not unit:  # a phase: nothing is counted, the spinner and the time say it all
            return Text("")
        done = f"{int(task.completed):,}"
        shown = done if task.total is None else f"{done}/{int(task.total):,}"
        speed = f"（{task.speed:,.0f} {unit}/秒）" if task.speed and task.total is None else ""
        return Text(f"{shown} {unit}{speed}", style="progress.download")


def stderr_is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Bars:
    """The bars of one command: a gateway.progress observer, plus spinners for uncounted steps.

    Without a Progress (stderr is not a terminal) every method does nothing, so commands call them
    unconditionally."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def begin(self, stage: str, total: int | None) -> None:
        if self._progress is None:
            return
        if stage in self._tasks:
            self._progress.reset(self._tasks[stage], total=total, completed=0)
            return
        label, unit = STAGES.get(stage, (stage, ""))
        self._tasks[stage] = self._progress.add_task(label, total=total, unit=unit)

    def advance(self, stage: str, amount: int) -> None:
        if self._progress is None:
            return
        if stage not in self._tasks:
            self.begin(stage, None)
        self._progress.advance(self._tasks[stage], amount)

    @contextmanager
    def phase(self, label: str) -> Iterator[None]:
        """A step without a count (migrating, batching, counting): a spinner and its time, while it runs."""
        if self._progress is None:
            yield
            return
        task = self._progress.add_task(label, total=None, unit="")
        try:
            yield
        finally:
            self._progress.remove_task(task)


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        _CountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        # stdout carries the command's output (JSON for scripts); nothing of it may go through the bars.
        redirect_stdout=False,
        redirect_stderr=False,
    )


@contextmanager
def progress_bars(console: Console | None = None, *, enabled: bool | None = None) -> Iterator[Bars]:
    """Bars on ``console`` (default: stderr) for the block, and the library's progress reported to them.

    ``enabled``: None draws them only when stderr is a terminal; tests force it either way."""
    if enabled is None:
        enabled = stderr_is_terminal()
    if not enabled:
        with observed_by(None):
            yield Bars(None)
        return
    progress = _progress(console if console is not None else Console(stderr=True))
    bars = Bars(progress)
    with progress, observed_by(bars):
        yield bars
