"""run_pull's contract with a connector: every pull kind has one; each Pull is landed, its cursor stored,
before the next is asked for; a landing failure comes back into the connector at its ``yield``."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest

from connectors.pulled import CONNECTORS, PullRun, connector, land_pulls, run_pull
from gateway.landing import read_cursor
from gateway.mapping.spec import MappingError, load_mappings
from gateway.settings import Settings
from tests.connectors.connections import Connection

SOURCE = "xz_test_source"


@dataclass
class Rows:
    """A Pull of a few names; ``fail`` is raised while the rows are being landed."""

    names: list[str]
    cursor_from: str | None
    cursor_to: str | None
    fail: Exception | None = None
    source_id: str = SOURCE
    kind: str = "api"
    headers: list[str] = field(default_factory=lambda: ["name"])

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.fail is not None:
            raise self.fail
        rows = pa.array(range(1, len(self.names) + 1), pa.int64())
        yield pa.RecordBatch.from_arrays([pa.array(self.names, pa.string()), rows], names=["c0", "__row__"])


@dataclass
class Inputs:
    """A source with three inputs; landing the second fails, and ``catch`` says whether the source expects
    that (it stops its run there, as a feed does for a file still being written) or not."""

    settings: Settings
    catch: bool
    source_id: str = SOURCE
    stored: list[str | None] = field(default_factory=list)  # the stored cursor each time a Pull is asked for

    def pulls(self, cursor: str | None, run: PullRun) -> Generator[Rows, None, None]:
        self.stored.append(cursor)
        yield Rows(["甲", "乙"], cursor, "1")
        self.stored.append(read_cursor(self.settings, SOURCE))
        try:
            yield Rows(["丙"], "1", "2", fail=TimeoutError("the share stopped answering"))
        except TimeoutError:
            if not self.catch:
                raise
            run.waiting.append("input 2")
            return
        yield Rows(["丁"], "2", "3")


def test_each_pull_is_landed_before_the_next_and_a_failure_comes_back_in(settings: Settings) -> None:
    source = Inputs(settings, catch=True)
    run = land_pulls(settings, source)
    assert source.stored == [None, "1"]  # the first Pull's cursor was stored before the second was asked for
    assert [unit.rows for unit in run.landed] == [2] and run.rows == 2
    assert run.waiting == ["input 2"] and run.ok
    assert run.cursor == read_cursor(settings, SOURCE) == "1"
    assert not list((settings.landing_dir / SOURCE).glob("*.tmp"))


def test_a_failure_the_connector_does_not_handle_fails_the_run_after_what_landed(settings: Settings) -> None:
    with pytest.raises(TimeoutError, match="stopped answering"):
        land_pulls(settings, Inputs(settings, catch=False))
    assert read_cursor(settings, SOURCE) == "1"  # the first input stays landed; the next run goes on from it


@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_every_pull_kind_has_a_connector(kind: str) -> None:
    assert callable(connector(kind).open)


def test_every_pulled_mapping_names_a_kind_with_a_connector(mappings_dir: Path) -> None:
    kinds = {spec.pull["kind"] for spec in load_mappings(mappings_dir).values() if spec.pull}
    assert kinds == set(CONNECTORS)


def test_an_unknown_kind_or_a_mapping_without_pull_is_refused(settings: Settings) -> None:
    with pytest.raises(MappingError, match=r"pull\.kind 'ftp' 没有对应的连接器"):
        connector("ftp")
    spec = next(spec for spec in load_mappings(settings.mappings_dir).values() if not spec.pull)
    with pytest.raises(MappingError, match="不是拉取的数据源"):
        run_pull(settings, spec, Connection("http", "h"))
