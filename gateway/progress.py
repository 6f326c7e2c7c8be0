"""Progress of the library's long loops, for whoever wants to show it.

A check of a large file or a delivery run can take minutes; the command line shows a bar
(gateway.cli_progress), the DAGs show nothing. So the loops only *report* — a stage, its total when known,
how far it got — to the observer the caller installed for its context, and do nothing when none is. The
reports cost a context-variable lookup per batch, not per row. This module imports nothing of ours, so any
layer (processing, delivery) may report without reaching the one that displays.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

ROWS = "rows"
"""Rows of a file (or of a pulled unit) read, mapped, validated and stored — skipped rows included."""
BATCHES = "batches"
"""Delivery batches handed to the hub in this run."""


class Observer(Protocol):
    def begin(self, stage: str, total: int | None) -> None:
        """A stage starts over ``total`` steps (None: not known in advance)."""

    def advance(self, stage: str, amount: int) -> None:
        """``amount`` more steps of ``stage`` are done."""


_observer: ContextVar[Observer | None] = ContextVar("gateway_progress_observer", default=None)


def begin(stage: str, total: int | None = None) -> None:
    observer = _observer.get()
    if observer is not None:
        observer.begin(stage, total)


def advance(stage: str, amount: int = 1) -> None:
    observer = _observer.get()
    if observer is not None:
        observer.advance(stage, amount)


@contextmanager
def observed_by(observer: Observer | None) -> Iterator[None]:
    """Report to ``observer`` inside the block (None: to nobody, as outside any block)."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)
