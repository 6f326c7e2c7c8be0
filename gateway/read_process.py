"""Iterate in a forked child process, so the reading side of ingest has a core of its own.

Reading, mapping, validating and preparing a batch is Python and Arrow work; storing it is Python driving
the database. On a second *thread* (gateway.read_ahead) both sides share one interpreter lock and take
turns more than they overlap (126 % of a core, docs/performance.md). In a child process each side has its
own interpreter: the child produces batches and pickles them into a pipe, the parent unpickles and stores
them. Arrow tables pickle as their buffers, so the handoff is a copy, not a conversion.

Why ``os.fork`` and not ``multiprocessing``: the child must take the already opened source (a CSV reader
past its header, a workbook sheet, a landed unit) as it is, which only a fork gives without describing
every kind of source anew; and multiprocessing refuses to start children from daemonic processes (some
executors' workers are), where a bare fork has no such rule. The child never touches what it inherited
besides the source: no database connection, no log handler (Airflow's task log is a socket the parent
writes), and it leaves by ``os._exit`` so no finaliser of an inherited object runs.

Backpressure is the pipe's: the child blocks writing batch n+1 until the parent reads it, so at most about
one batch waits, as with the thread. A parent that stops early (a rejection, an error while storing) closes
its end; the child's next write fails and it exits; the parent reaps it either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

from gateway.ids.resident_id import mask_in_text

T = TypeVar("T")
log = logging.getLogger(__name__)

_ITEM, _DONE, _ERROR = "item", "done", "error"
_PIPE_BYTES = 1 << 20
"""The pipe's buffer (Linux allows a process up to 1 MiB unprivileged): fewer wake-ups per batch."""
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, named in the fcntl module only from Python 3.10 on Linux


class ReadProcessError(RuntimeError):
    """The reading process failed in a way that has no exception of its own to show (killed, or an
    exception that cannot be carried across the pipe)."""


@dataclass
class ChildStats:
    """What the last reading process reported about itself: its peak resident memory (VmHWM) and how much
    of it was already resident when it was forked (pages it shares with the parent until either writes
    them). The benchmark adds the difference to the parent's own peak."""

    items: int = 0
    peak_bytes: int = 0
    start_bytes: int = 0

    @property
    def own_bytes(self) -> int:
        """What the child held beyond the pages it shared with its parent at the fork."""
        return max(self.peak_bytes - self.start_bytes, 0)


last_child = ChildStats()
largest_child = ChildStats()
"""Of this process's reading processes, the one that held the most of its own (what the benchmark adds)."""


def _memory() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in bytes; zeros where /proc is not there."""
    values = {"VmRSS:": 0, "VmHWM:": 0}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                name = line.split(maxsplit=1)[0] if line.strip() else ""
                if name in values:
                    values[name] = int(line.split()[1]) * 1024
    except OSError:
        return 0, 0
    return values["VmRSS:"], values["VmHWM:"]


def _carried(error: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a ReadProcessError with its text: an exception
    class whose constructor takes other arguments than it passes to Exception cannot be rebuilt."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # any failure to carry it is answered by carrying its text
        return ReadProcessError(f"{type(error).__name__}: {error}")


def _child(produce: Callable[[], Iterator[object]], out: BinaryIO) -> int:
    """Run in the child: send every item, then the end (or the error); returns the exit status."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handlers (Airflow's) are not ours
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    logging.disable(logging.CRITICAL)  # the parent's handlers may write to a socket it owns
    start, _ = _memory()
    count = 0
    try:
        for item in produce():
            pickle.dump((_ITEM, item), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()  # the item's tail must not wait in the buffer for the next item to be made
            count += 1
        _, peak = _memory()
        pickle.dump((_DONE, ChildStats(count, peak, start)), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
        return 0
    except BrokenPipeError:  # the parent stopped reading: nothing to tell it
        return 0
    except BaseException as error:  # every failure goes to the parent, which raises it
        text = "".join(traceback.format_exception(error))
        try:
            pickle.dump((_ERROR, (_carried(error), text)), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
        except BrokenPipeError:
            return 1
        return 1


def _reap(pid: int, stop: bool) -> int:
    """Wait for the child; with ``stop`` (the parent gave up early) make sure it ends first."""
    if stop:
        with contextlib.suppress(ProcessLookupError):  # it has ended on its own already
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return status


def in_child(produce: Callable[[], Iterator[T]]) -> Iterator[T]:
    """Iterate ``produce()`` in a forked child; items arrive here in order, pickled through a pipe.

    An exception in the child is raised here (its traceback logged), as gateway.read_ahead.ahead does; a
    consumer that stops early ends the child. Only for POSIX systems with fork.
    """
    read_end, write_end = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(write_end, _F_SETPIPE_SZ, _PIPE_BYTES)
    except OSError as exc:  # a system limit below 1 MiB: the default buffer works, only more slowly
        log.debug("pipe buffer left at its default: %s", exc)
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        status = 1
        try:
            with os.fdopen(write_end, "wb", buffering=_PIPE_BYTES) as out:
                status = _child(produce, out)  # type: ignore[arg-type]
        except BrokenPipeError:  # flushing on close after the parent left
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    finished = False
    try:
        with os.fdopen(read_end, "rb", buffering=_PIPE_BYTES) as inp:
            while True:
                try:
                    kind, value = pickle.load(inp)
                except EOFError:
                    status = _reap(pid, stop=False)
                    pid = 0
                    raise ReadProcessError(_ended(status)) from None
                if kind == _ITEM:
                    yield value
                elif kind == _DONE:
                    finished = True
                    global last_child, largest_child
                    last_child = value
                    if value.own_bytes > largest_child.own_bytes:
                        largest_child = value
                    return
                else:
                    error, text = value
                    # The traceback is the only trace of where it failed (the exception's own is lost on
                    # the way); an ID number a message may quote is masked, as in receipts.
                    log.error("the reading process failed:\n%s", mask_in_text(text))
                    raise error
    finally:
        if pid:
            _reap(pid, stop=not finished)


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return f"the reading process was ended by signal {number} ({signal.Signals(number).name}) mid-file"
    return f"the reading process ended mid-file with status {os.WEXITSTATUS(status)}"
