"""Ingest's two-thread pipeline and its bounded error list, with batches small enough to cross many."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import processing
from gateway.ingest import ingest_file
from gateway.processing import _Errors
from gateway.read_ahead import ahead
from gateway.row_errors import RowError
from gateway.settings import Settings

from .test_ingest import penalty_row, write_csv


def test_ahead_yields_in_order_from_another_thread() -> None:
    threads: set[str] = set()

    def numbers() -> Iterator[int]:
        for n in range(20):
            threads.add(threading.current_thread().name)
            yield n

    assert list(ahead(numbers())) == list(range(20))
    assert threads == {"ingest-ahead"}


def test_ahead_raises_the_producers_error_where_the_consumer_meets_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("bad batch")

    seen = []
    with pytest.raises(ValueError, match="bad batch"):
        for item in ahead(failing()):
            seen.append(item)
    assert seen == [1]


def test_ahead_stops_and_closes_the_producer_when_the_consumer_gives_up() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    for item in ahead(endless()):
        if item == 3:
            break
    assert closed.wait(5)


def test_errors_keep_the_first_rows_and_count_them_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processing, "MAX_ERRORS", 3)
    errors = _Errors()
    errors.add([RowError(5, "b", "E", "m"), RowError(2, "a", "E", "m"), RowError(2, "b", "E", "m")])
    errors.add([RowError(9, "a", "E", "m"), RowError(8, "a", "E", "m")])
    assert [(e.row, e.field) for e in errors.kept] == [(2, "a"), (2, "b"), (5, "b")]
    assert (errors.count, errors.bad_rows) == (5, 4)


def test_a_file_of_many_batches_matches_one_batch(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 7 rows: bad rows, a repeat across batches and the receipt's order come out as with one."""
    rows = [penalty_row(n) for n in range(1, 40)]
    rows[10] = penalty_row(11, uscc="91140902MA0K2B3C31")  # wrong check character: row 12
    rows[25] = penalty_row(3)  # repeats row 4, three batches earlier: row 27
    path = write_csv(tmp_path / "many.csv", rows)
    monkeypatch.setattr(processing, "BATCH_ROWS", 7)
    result = ingest_file(settings, path, "dept")
    receipt = result.receipt
    assert (receipt.rows, receipt.accepted, receipt.rejected, receipt.new) == (39, 37, 2, 37)
    assert [(e["row"], e["code"]) for e in receipt.errors] == [(12, "E_USCC"), (27, "E_DUPLICATE_KEY")]
    assert "第 4 行" in str(receipt.errors[1]["message"])
