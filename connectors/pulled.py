"""Pulled sources: what a connector is, the registry of connectors by pull kind, and ``run_pull``, the one way
a mapping's source is pulled and landed (by the DAGs, the tests and anything else).

A connector is a resource in dlt's sense: opened from the mapping (its ``pull:`` block, its ``from`` names)
and the Airflow Connection its hook reads, it is handed the stored cursor and yields ``gateway.landing.Pull``
objects, each with its Arrow batches and the cursor it reached. ``run_pull`` lands each with
``gateway.landing.land_pull`` — the rows and the cursor move together, in one transaction — before it asks
for the next, so a connector that takes several inputs per run (a feed's export files) yields one Pull per
input and the cursor never runs ahead of what has landed. A REST API or a staging table yields one.

When landing a Pull fails, the exception is thrown into the connector at its ``yield``: a connector that can
tell "this input is not ready yet" from a real failure (a feed file rewritten while it was read) stops its
run there without losing the inputs already landed; any other connector simply lets it propagate.

The registry names classes by module, as providers list their hooks, so that a pull imports only its own
connector: a staging table's task never loads lxml and xmlschema.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.connection import ConnectionLike
from gateway.landing import LandedUnit, Pull, land_pull, read_cursor
from gateway.mapping.spec import MappingError, MappingSpec
from gateway.settings import Settings

CONNECTORS: Mapping[str, str] = {
    "rest_api": "connectors.rest_api:RestApiSource",
    "sql_staging": "connectors.sql_staging:StagingSource",
    "xml_feed": "connectors.xml_feed:FeedSource",
}


class RejectedFile(Exception):
    """One input file of a run that cannot be taken (not well-formed, not valid, too large): the run goes on
    with the others, and the task fails at its end so that someone looks. Names the file, line and reason."""

    def __init__(self, file: str, reason: str, line: int | None = None) -> None:
        self.file = file
        self.reason = reason
        self.line = line
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.file} 第 {self.line} 行：{self.reason}" if self.line else f"{self.file}：{self.reason}"


@dataclass
class PullRun:
    """What one run of a pulled source did: the task's log and return value, and whether the task fails."""

    source_id: str
    cursor: str | None  # the stored cursor after the run
    landed: list[LandedUnit] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # input files taken, in order (with or without records)
    rejected: list[RejectedFile] = field(default_factory=list)  # refused this run
    still_rejected: list[RejectedFile] = field(default_factory=list)  # refused earlier, still in place
    waiting: list[str] = field(default_factory=list)  # not ready (still being written): the next run's

    @property
    def rows(self) -> int:
        return sum(unit.rows for unit in self.landed)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def summary(self) -> dict[str, Any]:
        """The task's return value (an XCom): small, and enough to see in the UI what the run took."""
        return {
            "source": self.source_id,
            "units": len(self.landed),
            "rows": self.rows,
            "files": len(self.files),
            "rejected": [error.file for error in self.rejected],
            "waiting": self.waiting,
            "cursor": self.cursor,
        }


class PulledSource(Protocol):
    """One source opened for one run."""

    source_id: str

    def pulls(self, cursor: str | None, run: PullRun) -> Generator[Pull, None, None]:
        """The Pulls from the stored ``cursor`` on, in order; each is landed before the next is asked for.
        What is not a landed unit (files taken, refused, waiting) is noted in ``run``."""
        ...


class Connector(Protocol):
    """A connector class as the registry names it."""

    def open(self, settings: Settings, spec: MappingSpec, conn: ConnectionLike) -> PulledSource:
        """The source of ``spec`` (a mapping with a ``pull:`` block), reached through ``conn``; checks the
        pull block and the Connection, so that a mistake fails before anything is read."""
        ...


def connector(kind: str) -> Connector:
    """The connector of a pull kind, imported now."""
    if kind not in CONNECTORS:
        raise MappingError(f"pull.kind {kind!r} 没有对应的连接器（可用：{'、'.join(CONNECTORS)}）")
    module, _, name = CONNECTORS[kind].partition(":")
    found: Connector = getattr(importlib.import_module(module), name)
    return found


def run_pull(settings: Settings, spec: MappingSpec, conn: ConnectionLike) -> PullRun:
    """Pull the source of ``spec`` from its stored cursor and land what it brings."""
    if not spec.pull:
        raise MappingError(f"{spec.path.name}：映射没有 pull 配置，不是拉取的数据源")
    return land_pulls(settings, connector(str(spec.pull.get("kind"))).open(settings, spec, conn))


def land_pulls(settings: Settings, source: PulledSource) -> PullRun:
    """Land an opened source's Pulls one by one; ``run_pull`` once the source is open."""
    run = PullRun(source.source_id, read_cursor(settings, source.source_id))
    pulls = source.pulls(run.cursor, run)
    try:
        pull = next(pulls, None)
        while pull is not None:
            try:
                unit = land_pull(settings, pull)
            except Exception as exc:  # the connector decides: stop its run here, or let it propagate
                pull = _resume(pulls, exc)
                continue
            if unit is not None:
                run.landed.append(unit)
            run.cursor = pull.cursor_to
            pull = next(pulls, None)
    finally:
        pulls.close()
    return run


def _resume(pulls: Generator[Pull, None, None], error: Exception) -> Pull | None:
    try:
        return pulls.throw(error)
    except StopIteration:
        return None


class PullOnce:
    """The ``cursor_to`` of a connector's Pull: known only once ``batches()`` has run to its end, which is
    when the connector knows how far it got. Reading it earlier is a bug in the caller, never a cursor."""

    source_id: str
    _finished: bool = False
    _cursor_to: str | None = None

    @property
    def cursor_to(self) -> str | None:
        if not self._finished:
            raise RuntimeError(f"{self.source_id}: cursor_to is known only once batches() has been exhausted")
        return self._cursor_to

    def _finish(self, cursor: str | None) -> None:
        self._cursor_to, self._finished = cursor, True


def cursor_json(data: Mapping[str, Any]) -> str:
    """A cursor's canonical text: equal positions store equal text, whatever order they were built in."""
    return json.dumps(dict(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_cursor_json(text: str, keys: tuple[str, ...], error: type[Exception]) -> dict[str, Any]:
    """A stored cursor that must be a JSON object with some of ``keys``; anything else raises ``error`` with
    the text, since a damaged cursor has to be looked at, not silently restarted from the beginning."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"游标不是 JSON：{text!r}") from exc
    if not isinstance(data, dict) or set(data) - set(keys):
        raise error(f"游标格式不对（应为 {'、'.join(keys)}）：{text!r}")
    return data
