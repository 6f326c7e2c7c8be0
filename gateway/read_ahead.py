"""Iterate on a second thread, a bounded number of items ahead of the consumer.

Processing a unit is two kinds of work: reading, mapping, validating and preparing a batch (Arrow compute and
Python, CPU-bound), and writing it (the database, which releases the GIL while it works). Running the first
for batch n+1 while the second runs for batch n uses the second core; the queue bounds memory to a few
batches (gateway.processing).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
THREAD_NAME = "ingest-ahead"
_DONE = object()


def ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``items`` on a second thread, up to ``depth`` items ahead of the consumer.

    An exception on the producing side is raised here, where the consumer would have met it; a consumer
    that stops early stops the producer and closes ``items``.
    """
    handoff: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                handoff.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed over to the consumer, which raises it
            offer(_DONE, exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=THREAD_NAME, daemon=True)
    thread.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
