"""hub/chunks.py: a batch cut into standalone documents of whole Records, or not cut at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.chunks import END_TAG, Chunker

from .conftest import BatchWriter, Rec


def _cut(
    document: bytes, *, target: int, step: int = 997, max_pending: int = 1 << 20
) -> tuple[Chunker, list[bytes]]:
    """Feed ``document`` in ``step``-byte slices, as the decryption would."""
    chunker = Chunker(target=target, max_pending=max_pending)
    pieces: list[bytes] = []
    for at in range(0, len(document), step):
        pieces += chunker.feed(document[at : at + step])
    pieces += chunker.close()
    return chunker, pieces


def test_pieces_are_whole_records_that_add_up_to_the_document(
    batch_writer: BatchWriter, tmp_path: Path
) -> None:
    document = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec()] * 12).read_bytes()
    chunker, pieces = _cut(document, target=1500)
    assert chunker.broken is None and chunker.head is not None
    assert len(pieces) >= 4
    head = chunker.head
    assert head.startswith(b"<?xml") and head.rstrip().endswith(b'schemaVersion="1">')
    contents = [piece[len(head) : -len(END_TAG)] for piece in pieces]
    assert all(piece.startswith(head) and piece.endswith(END_TAG) for piece in pieces)
    assert head + b"".join(contents) + b"</Batch>" == document  # every byte in exactly one piece
    assert all(content.lstrip().startswith(b"<Record ") for content in contents)
    records = [len(etree.fromstring(piece)) for piece in pieces]  # each one a document of its own
    assert sum(records) == 12


def test_a_small_document_is_one_piece(batch_writer: BatchWriter, tmp_path: Path) -> None:
    document = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec()] * 2).read_bytes()
    chunker, pieces = _cut(document, target=1 << 20)
    assert chunker.broken is None and pieces == [document]


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE Batch [<!ENTITY x "y">]><Batch a="1">&x;</Batch>',
        b'<?xml version="1.0"?><!-- a comment first --><Batch a="1"></Batch>',
        b'<?xml version="1.0" encoding="GB18030"?><Batch a="1"></Batch>',
        b'<xz:Batch xmlns:xz="urn:cn:xinzhou:gateway:1"></xz:Batch>',
        b'<Batch a="1"/>',
        b'<Batch a="1"></Batch><!-- after the root -->',
        b'<Batch a="1"></Batch',
        b"",
    ],
    ids=[
        "doctype",
        "comment-first",
        "gb18030",
        "prefixed-root",
        "empty-root",
        "trailing-comment",
        "cut",
        "nothing",
    ],
)
def test_an_unusual_document_is_not_cut(document: bytes) -> None:
    chunker, pieces = _cut(document, target=16, step=5)
    assert chunker.broken is not None and pieces == []


def test_a_record_longer_than_the_bound_gives_up(batch_writer: BatchWriter, tmp_path: Path) -> None:
    long = Rec("i", (("CF_SY", "经查" * 2000),))
    document = batch_writer(
        tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec(), long, Rec()]
    ).read_bytes()
    chunker, _ = _cut(document, target=512, max_pending=4096)
    assert chunker.broken is not None and "记录边界" in chunker.broken
    assert chunker.feed(b"<Record ") == []  # what comes after is dropped, not buffered
