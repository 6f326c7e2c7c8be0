"""Validate and read a batch while it is being decrypted, libxml2 on a second core.

The decrypted bytes are written to the plaintext file and fed here (:meth:`FastRead.write`). hub/chunks.py
cuts them into standalone pieces of about ``PIECE_BYTES``; each piece is parsed and validated by libxml2
against batch.xsd less its identity constraints (BatchValidator.parse_piece: one C call with Python's lock
released, so on a worker thread it runs on the other core), while this thread reads the records out of the
previous piece's tree and hands them to ``sink`` (the database, or a list). What spans pieces is checked
here: the Batch attributes against the signed manifest, ``@count``, every Record's element against
``@recordType``, and the two identity constraints of batch.xsd (``id``+``version`` and ``key``+``version``
unique, compared as the XSD compares them: the strings as they are, the version as an integer).

This path only ever says yes. Anything it cannot vouch for (a document of unusual shape, a malformed or
invalid piece, a mismatch, a duplicate) ends it with :class:`NotFast`, and the careful path
(BatchValidator.check on the whole file) decides, with the messages and per-record rejections it has always
given. Measured on a 187 MiB batch (docs/performance.md): the worker's parse and validation (3.5 s) end
before this thread's reading and storing (4.7 s), which hold the GIL and so bound the whole.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from lxml import etree

from hub.chunks import Chunker
from hub.validate import BATCH_ELEMENT, TARGET_NAMESPACE, BatchValidator, Row, Verdict, WrongRecordElement

PIECE_BYTES = 4 * 2**20  # small enough to start the worker early and to end with a short tail
# No Record boundary within this many bytes: not the usual shape (a valid Record is ~16 fields of at most
# a few thousand characters), the careful path reads it. Bounds a piece, and so the worker's trees (~7x).
MAX_PENDING = 16 * 2**20
IN_FLIGHT = 3  # pieces handed to the worker and not yet read: bounds memory (a tree is ~7x its piece)
_BATCH_TAG = f"{{{TARGET_NAMESPACE}}}{BATCH_ELEMENT}"

Sink = Callable[[str, list[Row]], None]  # (record type, rows of one piece)


def _has_markup_declarations(piece: bytes, start: int) -> bool:
    """Does the content hold a comment, processing instruction or CDATA section (``<!``, ``<?``)? Such a
    piece is read the careful way. Searched by the rare second character: a search for ``<!--`` stops at
    every ``<`` of the piece and took 0.3 s over a 187 MiB batch, this one a few milliseconds."""
    for second in (b"!", b"?"):
        at = piece.find(second, start)
        while at >= 0:
            if piece[at - 1] == 0x3C:  # "<"
                return True
            at = piece.find(second, at + 1)
    return False


def _drop(_tree: etree._Element) -> None:
    """Run on the worker: the last reference to a tree it parsed goes away in the thread that made it."""


class NotFast(Exception):
    """The fast path cannot vouch for this batch; the careful path decides."""


@dataclass
class Timings:
    """Where the time went (seconds), for the log and bench/delivery.py."""

    decrypt: float = 0.0  # decrypt and write the plaintext file (this thread; set by hub/receiving.py)
    xsd: float = 0.0  # parse and validate the pieces (worker thread, or inline for a one-piece batch)
    read: float = 0.0  # read the records out of the trees (this thread)
    sink: float = 0.0  # hand them on (insert into the database)
    waited: float = 0.0  # this thread waiting for the worker
    pieces: int = 0


@dataclass
class _State:
    record_type: str = ""
    element: str = ""
    declared: str | None = None
    count: int = 0
    ids: set[tuple[str, int]] = field(default_factory=set)
    keys: set[tuple[str, int]] = field(default_factory=set)


class FastRead:
    """One batch through the fast path. Feed it with :meth:`write`, end with :meth:`finish`, and always
    :meth:`close` it (a ``with`` block does)."""

    def __init__(
        self,
        validator: BatchValidator,
        *,
        batch_id: str,
        sender: str,
        seq: int,
        sink: Sink,
        piece_bytes: int | None = None,
    ) -> None:
        if validator.lean_schema is None:
            raise NotFast("没有可用于快速校验的 batch.xsd")
        self.validator = validator
        self.expected = {"batchId": batch_id, "sender": sender, "seq": str(seq)}
        self.sink = sink
        self.timings = Timings()
        self.failed: str | None = None
        self._chunker = Chunker(target=piece_bytes or PIECE_BYTES, max_pending=MAX_PENDING)
        self._state = _State()
        self._pool: ThreadPoolExecutor | None = None
        self._queue: deque[tuple[Future[etree._Element], bool]] = deque()
        self._parsers = threading.local()

    def __enter__(self) -> FastRead:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ feed

    def write(self, data: bytes) -> int:
        """Take the next decrypted bytes (file-like, so the decryption can write here)."""
        if self.failed is None:
            try:
                for piece in self._chunker.feed(data):
                    self._submit(piece, parallel=True)
            except NotFast as exc:
                self._fail(str(exc))
        return len(data)

    def finish(self) -> Verdict:
        """All bytes written: the verdict of a batch this path vouches for, else NotFast."""
        if self.failed is None:
            try:
                for piece in self._chunker.close():
                    self._submit(piece, parallel=self._pool is not None)  # one piece: no worker needed
                if self._chunker.broken is not None:
                    raise NotFast(self._chunker.broken)
                self._drain()
                state = self._state
                if state.declared != str(state.count):
                    raise NotFast("Batch/@count 与记录数不符")
            except NotFast as exc:
                self._fail(str(exc))
        if self.failed is not None:
            raise NotFast(self.failed)
        return Verdict(record_type=self._state.record_type, count=self._state.count)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._queue.clear()

    # ----------------------------------------------------------------------------------------- inner

    def _fail(self, reason: str) -> None:
        self.failed = reason
        self.close()

    def _submit(self, piece: bytes, *, parallel: bool) -> None:
        careful = _has_markup_declarations(piece, len(self._chunker.head or b""))
        if parallel:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-xsd")
            # Read the oldest piece only once IN_FLIGHT are queued, so the worker always has the next
            # ones: decrypting further is cheap, the worker idling while this thread reads is not.
            while len(self._queue) >= IN_FLIGHT:
                self._drain_one()
            self._queue.append((self._pool.submit(self._parse, piece), careful))
        else:
            done: Future[etree._Element] = Future()
            try:
                done.set_result(self._parse(piece))
            except Exception as exc:  # reported by _drain_one, like the worker's
                done.set_exception(exc)
            self._queue.append((done, careful))

    def _parse(self, piece: bytes) -> etree._Element:
        parser = getattr(self._parsers, "parser", None)
        if parser is None:
            parser = self._parsers.parser = self.validator.piece_parser()
        start = time.perf_counter()
        try:
            return self.validator.parse_piece(piece, parser)
        finally:
            self.timings.xsd += time.perf_counter() - start  # one thread at a time adds here

    def _drain(self) -> None:
        while self._queue:
            self._drain_one()

    def _drain_one(self) -> None:
        future, careful = self._queue.popleft()
        start = time.perf_counter()
        try:
            root = future.result()
        except Exception as exc:  # malformed or invalid (lxml.etree.XMLSyntaxError), or worse
            raise NotFast(f"libxml2：{str(exc)[:300]}") from exc
        finally:
            self.timings.waited += time.perf_counter() - start
        del future  # holds the tree too: only ``root`` may, for _drop below
        self.timings.pieces += 1
        state = self._state
        if state.count == 0 and not state.element:
            self._read_root(root)
        start = time.perf_counter()
        try:
            rows = self.validator.read_piece(root, start=state.count, element=state.element, careful=careful)
        except WrongRecordElement as exc:
            raise NotFast(f"记录元素 {exc} 与批次类型不符") from exc
        except Exception as exc:  # a valid piece reads without error; if not, the careful path decides
            raise NotFast(f"读取记录失败：{exc!r}"[:300]) from exc
        finally:
            self.timings.read += time.perf_counter() - start
        if self._pool is not None:
            # The tree's nodes were allocated by the worker thread: freed there too, they stay in its
            # malloc arena (freed here, every node would contend with the worker's next parse for it).
            self._pool.submit(_drop, root)
        del root
        ids, keys = state.ids, state.keys
        for row in rows:
            ident, natural = (row[2], row[4]), (row[3], row[4])
            if ident in ids or natural in keys:
                raise NotFast("记录 id+version 或 key+version 重复")
            ids.add(ident)
            keys.add(natural)
        state.count += len(rows)
        if rows:
            start = time.perf_counter()
            self.sink(state.record_type, rows)
            self.timings.sink += time.perf_counter() - start

    def _read_root(self, root: etree._Element) -> None:
        """The first piece's root: the head every piece repeats."""
        if root.tag != _BATCH_TAG:
            raise NotFast("根元素不是 Batch")
        for attr, value in self.expected.items():
            if root.get(attr) != value:
                raise NotFast(f"Batch/@{attr} 与签名清单不符")
        state = self._state
        state.record_type = root.get("recordType", "")
        state.declared = root.get("count")
        element = self.validator.type_elements.get(state.record_type)
        if element is None:
            raise NotFast(f"未知的记录类型 {state.record_type}")
        state.element = element
