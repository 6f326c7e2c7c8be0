"""The reading side in a forked process: items in order, the child's failures raised here, early stops."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from gateway import read_process
from gateway.read_process import ReadProcessError, in_child
from gateway.settings import Settings


def _children() -> set[int]:
    """Live (or unreaped) children of this process."""
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", encoding="ascii") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                found.add(int(name))
    return found


def test_items_arrive_in_order_with_arrow_tables_intact() -> None:
    def produce() -> Iterator[tuple[int, pa.Table]]:
        for n in range(5):
            yield n, pa.table({"n": pa.array(range(n * 1000, n * 1000 + 1000))})

    got = list(in_child(produce))
    assert [n for n, _ in got] == [0, 1, 2, 3, 4]
    assert got[3][1].column("n").to_pylist() == list(range(3000, 4000))
    assert read_process.last_child.items == 5
    assert read_process.last_child.peak_bytes >= read_process.last_child.start_bytes > 0
    assert not _children()


def test_the_child_works_while_the_parent_does() -> None:
    """Both sides busy 0.2 s per item: overlapped they take about half the sum (the tail of an item is not
    left in the child's buffer until the next one is made)."""

    def busy(seconds: float) -> int:
        """Spin on the CPU (a sleep would leave the core free); returns how often it looked at the clock."""
        end, looks = time.perf_counter() + seconds, 1
        while time.perf_counter() < end:
            looks += 1
        return looks

    def produce() -> Iterator[int]:
        for n in range(6):
            busy(0.2)
            yield n

    start = time.perf_counter()
    for _ in in_child(produce):
        busy(0.2)
    took = time.perf_counter() - start
    assert took < 2.4 * 0.8, f"{took:.2f} s: the two sides took turns instead of overlapping"


def test_an_exception_in_the_child_is_raised_here_with_its_type() -> None:
    def produce() -> Iterator[int]:
        yield 1
        raise ValueError("第 7 行：日期无法识别")

    seen = []
    with pytest.raises(ValueError, match="第 7 行"):
        for item in in_child(produce):
            seen.append(item)
    assert seen == [1]
    assert not _children()


class _Unpicklable(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def test_an_exception_that_cannot_be_carried_arrives_as_its_text() -> None:
    def produce() -> Iterator[int]:
        raise _Unpicklable("E_X", "坏了")
        yield 0

    with pytest.raises(ReadProcessError, match="_Unpicklable: 坏了"):
        list(in_child(produce))


def test_a_killed_child_is_an_error_not_a_short_file() -> None:
    def produce() -> Iterator[int]:
        yield 1
        os.kill(os.getpid(), signal.SIGKILL)
        yield 2

    with pytest.raises(ReadProcessError, match="SIGKILL"):
        list(in_child(produce))
    assert not _children()


def test_a_consumer_that_stops_early_ends_the_child() -> None:
    def produce() -> Iterator[bytes]:
        while True:
            yield b"x" * 100_000

    items = in_child(produce)
    assert next(items) == b"x" * 100_000
    items.close()
    assert not _children()


def test_prepared_batches_cross_as_arrow_and_make_their_lists_on_arrival() -> None:
    import pickle

    from gateway.schema.model import FieldSpec, RecordType, SubjectSpec
    from gateway.store.records import prepare

    rtype = RecordType(
        name="probe",
        element="Probe",
        label="测试",
        version="1",
        fields=(FieldSpec("A", "A"), FieldSpec("B", "B")),
        natural_key=("A",),
        subject=SubjectSpec(name="B"),
    )
    table = pa.table({"A": ["a1", "a2"], "B": ["某公司", None], "__row__": pa.array([2, 3], pa.int64())})
    prepared = prepare(rtype, table)
    sent = pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"a1" in sent and "keys" not in prepared.__dict__  # nothing made yet, only Arrow travels
    prepared.materialize()
    assert len(pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL)) == len(sent)  # the lists stay home
    back = pickle.loads(sent)
    assert back.keys == ["a1", "a2"] and back.names == ["某公司", None] and back.rows == [2, 3]
    assert back.payloads == ['{"A":"a1","B":"某公司"}', '{"A":"a2"}']
    assert back.hashes == prepared.hashes and back.withdraws == [False, False]


# ------------------------------------------------------------------ a unit read in a process of its own


def _stored(settings: Settings) -> list[tuple[object, ...]]:
    from sqlalchemy import select

    from gateway.store.db import engine_for
    from gateway.store.tables import outbox, record, record_version

    with engine_for(settings.database_url).connect() as conn:
        return [
            *conn.execute(
                select(
                    record.c.natural_key, record.c.status, record.c.entity_id, record.c.source_row
                ).order_by(record.c.id)
            ).all(),
            *conn.execute(
                select(
                    record_version.c.payload, record_version.c.content_hash, record_version.c.outbound
                ).order_by(record_version.c.id)
            ).all(),
            *conn.execute(select(outbox.c.record_version_id).order_by(outbox.c.id)).all(),
        ]


@pytest.mark.parametrize("forked", [False, True], ids=["thread", "process"])
def test_a_file_read_in_a_process_is_stored_as_one_read_on_a_thread(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """Batches of 7 rows, a bad row, a repeat three batches later: the same receipt, rows and landing copy
    whichever side reads; the reading process is gone afterwards."""
    import pyarrow.parquet as pq

    from gateway import processing
    from gateway.ingest import ingest_file

    from .test_ingest import penalty_row, write_csv

    rows = [penalty_row(n) for n in range(1, 40)]
    rows[10] = penalty_row(11, uscc="91140902MA0K2B3C31")
    rows[25] = penalty_row(3)
    path = write_csv(tmp_path / "many.csv", rows)
    monkeypatch.setattr(processing, "BATCH_ROWS", 7)
    chosen = settings.with_overrides(read_process_min_bytes=0 if forked else None)
    before = read_process.last_child
    result = ingest_file(chosen, path, "dept")
    receipt = result.receipt
    assert (receipt.rows, receipt.accepted, receipt.rejected, receipt.new) == (39, 37, 2, 37)
    assert [(e["row"], e["code"]) for e in receipt.errors] == [(12, "E_USCC"), (27, "E_DUPLICATE_KEY")]
    assert (read_process.last_child is not before) is forked
    landed = list((settings.landing_dir / "dept").glob("*.parquet"))
    assert len(landed) == 1 and pq.read_table(landed[0]).num_rows == 39
    assert not list((settings.landing_dir / "dept").glob("*.tmp"))
    stored = _stored(settings)
    assert len(stored) == 37 * 3
    assert not _children()
    # The other path over the same bytes in a fresh home stores the very same rows.
    other_home = tmp_path / "other"
    other = chosen.with_overrides(
        home=other_home,
        landing_dir=other_home / "landing",
        database_url=f"sqlite:///{tmp_path / 'other.db'}",
        read_process_min_bytes=None if forked else 0,
    )
    from gateway.store.db import migrate

    migrate(other.database_url)
    again = ingest_file(other, path, "dept").receipt
    assert (again.rows, again.accepted, again.errors) == (receipt.rows, receipt.accepted, receipt.errors)
    assert [row[:2] for row in _stored(other)[:37]] == [row[:2] for row in stored[:37]]
    assert _stored(other)[37:74] == stored[37:74]


def test_a_file_rejected_early_stops_its_reading_process_and_lands_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row bad: the rejection is certain after the first batches, the reading process is ended
    mid-file, nothing is stored and no landing copy (nor its temporary file) stays behind."""
    from gateway import processing
    from gateway.ingest import ingest_file

    from .test_ingest import penalty_row, write_csv

    rows = [penalty_row(n, uscc="91140902MA0K2B3C31") for n in range(1, 3000)]
    path = write_csv(tmp_path / "bad.csv", rows)
    monkeypatch.setattr(processing, "BATCH_ROWS", 100)
    monkeypatch.setattr(processing, "EARLY_STOP_MIN_BAD_ROWS", 200)
    chosen = settings.with_overrides(read_process_min_bytes=0, reject_threshold=0.01)
    result = ingest_file(chosen, path, "dept")
    assert result.receipt.status == "rejected"
    assert result.receipt.rows < 2999  # stopped before the end
    assert not _children()
    assert not list((settings.landing_dir / "dept").glob("*"))
    assert _stored(settings) == []


@pytest.mark.parametrize("forked", [False, True], ids=["thread", "process"])
def test_a_file_refused_mid_read_gets_the_same_receipt_from_a_reading_process(
    settings: Settings, tmp_path: Path, forked: bool
) -> None:
    """A record over the size limit at row 10 is found by the reader, in the child when forked: the error
    crosses the pipe as itself, so the department gets E_TOO_LARGE naming the row, not a crash."""
    from gateway.ingest import ingest_file
    from gateway.intake import ReadLimits

    from .test_ingest import penalty_row, write_csv

    path = write_csv(tmp_path / "long.csv", [penalty_row(n) for n in range(1, 9)])
    with path.open("ab") as handle:
        handle.write(b'"' + b"x" * 300_000)  # a quoted cell that never closes
    chosen = settings.with_overrides(read_process_min_bytes=0 if forked else None)
    result = ingest_file(chosen, path, "dept", limits=ReadLimits(max_csv_record_bytes=65_536))
    receipt = result.receipt
    assert receipt.status == "rejected"
    assert receipt.file_error is not None and receipt.file_error["code"] == "E_TOO_LARGE"
    assert "第10行" in str(receipt.file_error["message"])
    assert not _children()
    assert _stored(settings) == []


def test_the_childs_traceback_is_logged_with_id_numbers_masked(caplog: pytest.LogCaptureFixture) -> None:
    def produce() -> Iterator[int]:
        raise ValueError("无法转换 110101199003074477")
        yield 0

    with pytest.raises(ValueError, match="110101199003074477"):
        list(in_child(produce))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "the reading process failed" in logged and "in produce" in logged
    assert "110101199003074477" not in logged
