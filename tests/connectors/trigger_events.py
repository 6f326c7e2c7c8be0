"""Reading an event trigger's events with timeouts, as the triggerer does: the trigger runs as its own task.

A timeout around ``anext()`` would cancel the trigger's generator itself; a queue fed by a task does not."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


class EventReader:
    def __init__(self, events: AsyncIterator[Any]) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._events = events
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for event in self._events:
            await self.queue.put(event.payload)

    async def next(self, timeout: float) -> Any | None:
        """The next event's payload, or None if none came within ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            if self._task.done() and self._task.exception():
                raise self._task.exception()  # type: ignore[misc] # noqa: B904
            return None

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
