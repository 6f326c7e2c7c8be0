"""Cut a batch document, as it is decrypted, into standalone documents of whole Records.

Why: libxml2 parses and validates a piece in C with Python's lock released, so a second core can check
piece n+1 while this one reads the records of piece n and stores them (hub/fastpath.py). One libxml2 pass
over a whole large batch cannot be split that way, and a tree of the whole batch would need about seven
times its size in memory.

Each piece is the document's own head (XML declaration and ``<Batch …>`` start tag, byte for byte), a run
of the root's content cut just before a ``<Record`` start tag, and ``</Batch>``. Why the pieces say exactly
what the whole says: every byte of the root's content is in exactly one piece, each cut is before a ``<``
(so it splits no character, reference or ``]]>``), and a cut that is not between two of the root's
children (inside a comment, a CDATA section, a processing instruction or a deeper element) leaves a
construct open at the end of its piece, which is then not well-formed. So when every piece is well-formed,
the whole content is their concatenation at the root's level, and the Batch content model (``Record*``)
accepts the whole exactly when it accepts each piece. What spans pieces, the identity constraints over all
Records and ``@count``, is checked by the caller.

Only the usual shape is cut: a UTF-8 document, an optional XML declaration, an unprefixed ``<Batch>`` root
and ``</Batch>`` then whitespace at the end. Anything else (a DOCTYPE, a comment before the root, another
encoding, a prefixed root, a Record longer than ``max_pending``) makes the chunker give up (``broken``) and
the hub validates the whole file the careful way.
"""

from __future__ import annotations

import re

_WS = rb"[ \t\r\n]"
_QUOTED = rb"(?:\"[^\"<]*\"|'[^'<]*')"
_HEAD = re.compile(
    rb"(?:\xef\xbb\xbf)?"
    rb"(?:<\?xml" + _WS + rb"+version" + _WS + rb"*=" + _WS + rb"*(?:\"1\.0\"|'1\.0')"
    rb"(?:" + _WS + rb"+encoding" + _WS + rb"*=" + _WS + rb"*(?:\"(?i:utf-8)\"|'(?i:utf-8)'))?"
    rb"(?:"
    + _WS
    + rb"+standalone"
    + _WS
    + rb"*="
    + _WS
    + rb"*(?:\"(?:yes|no)\"|'(?:yes|no)'))?"
    + _WS
    + rb"*\?>)?"
    + _WS
    + rb"*<Batch(?:"
    + _WS
    + rb"+[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?"
    + _WS
    + rb"*="
    + _WS
    + rb"*"
    + _QUOTED
    + rb")*"
    + _WS
    + rb"*>"
)
_TAIL = re.compile(rb"</Batch" + _WS + rb"*>" + _WS + rb"*")
_RECORD_START = b"<Record"
_AFTER_NAME = frozenset(b" \t\r\n/>")
END_TAG = b"</Batch>"
HEAD_WINDOW = 64 * 1024  # a root start tag longer than this is not the usual shape


class Chunker:
    """Feed the plaintext in order; get back standalone documents of about ``target`` bytes each."""

    def __init__(self, *, target: int, max_pending: int) -> None:
        self.target = target
        self.max_pending = max(max_pending, target)
        self.head: bytes | None = None
        self.broken: str | None = None  # why the document cannot be cut; then everything fed is dropped
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The pieces that ``data`` completes (possibly none)."""
        if self.broken is not None:
            return []
        self._pending += data
        if self.head is None and not self._take_head(final=False):
            return []
        pieces: list[bytes] = []
        while len(self._pending) >= self.target:
            cut = self._last_record_start()
            if cut <= 0:  # one Record so far, still open: wait for more, within bounds
                if len(self._pending) > self.max_pending:
                    self._give_up(f"没有在 {self.max_pending} 字节内找到记录边界")
                    return []
                break
            pieces.append(self._piece(self._pending[:cut]))
            del self._pending[:cut]
        return pieces

    def close(self) -> list[bytes]:
        """The last piece(s) once the whole document is fed; ``broken`` says when it cannot be cut."""
        if self.broken is not None or (self.head is None and not self._take_head(final=True)):
            return []
        end = self._pending.rfind(b"</Batch")
        if end < 0 or _TAIL.fullmatch(self._pending, end) is None:
            self._give_up("文档不以 </Batch> 结尾")
            return []
        piece = self._piece(self._pending[:end])
        self._pending = bytearray()
        return [piece]

    # ------------------------------------------------------------------------------------------ inner

    def _take_head(self, *, final: bool) -> bool:
        # A match needs the start tag's closing ">" outside any quoted value, so a match on the first bytes
        # is the match on the whole document; no match yet may mean the start tag is still incomplete.
        match = _HEAD.match(self._pending, 0, HEAD_WINDOW)
        if match is None:
            if final or len(self._pending) >= HEAD_WINDOW:
                self._give_up("文档开头不是通常的 XML 声明与 <Batch> 起始标签")
            return False
        self.head = bytes(self._pending[: match.end()])
        del self._pending[: match.end()]
        return True

    def _last_record_start(self) -> int:
        """Offset of the last ``<Record`` start tag in the pending content, or -1."""
        pending = self._pending
        at = len(pending)
        while True:
            at = pending.rfind(_RECORD_START, 0, at)
            if at < 0:
                return -1
            after = at + len(_RECORD_START)
            if after < len(pending) and pending[after] in _AFTER_NAME:
                return at

    def _piece(self, content: bytearray | memoryview) -> bytes:
        assert self.head is not None
        return b"".join((self.head, content, END_TAG))

    def _give_up(self, reason: str) -> None:
        self.broken = reason
        self._pending = bytearray()
