"""The large-batch path (Receiver._receive_streaming): stored while it is decrypted and validated, in one
transaction that commits only for a batch the fast path accepts; answers as the ordinary path does."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

import hub.fastpath
import hub.receiving
from gateway.transfer import HubClient, HubRejected, HubUnavailable, Sealed, Sender
from hub import db
from hub.settings import Settings

from .conftest import SENDER, Rec

Seal = Callable[..., tuple[Path, Sealed]]
Post = Callable[..., requests.Response]
Resign = Callable[..., Sealed]


@pytest.fixture(autouse=True)
def streaming(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch takes the large-batch path, cut into pieces of a few records each."""
    monkeypatch.setattr(hub.receiving, "STREAM_FROM", 0)
    monkeypatch.setattr(hub.fastpath, "PIECE_BYTES", 2048)


def _rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(settings.db_path) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def stored_by(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which path stored each batch: "large" (the large-batch transaction), or the ordinary one with the
    records read in the validating pass ("ordinary") or read again from the file ("from file")."""
    paths: list[str] = []
    accept, publish = hub.receiving.Receiver._accept, hub.receiving.Receiver._publish

    def _accept(self: hub.receiving.Receiver, *args: Any) -> Any:
        paths.append("ordinary" if args[3] is not None else "from file")
        return accept(self, *args)

    def _publish(self: hub.receiving.Receiver, *args: Any) -> None:
        if not paths or paths[-1] == "large":
            paths.append("large")
        publish(self, *args)

    monkeypatch.setattr(hub.receiving.Receiver, "_accept", _accept)
    monkeypatch.setattr(hub.receiving.Receiver, "_publish", _publish)
    return paths


def test_a_large_batch_is_stored_as_it_is_checked(
    hub_url: str, sender: Sender, seal_batch: Seal, settings: Settings, stored_by: list[str]
) -> None:
    records = [Rec("i")] * 20 + [Rec("d")]
    envelope, sealed = seal_batch("b-1", 1, records=records)
    with HubClient(hub_url, sender, retries=0) as client:
        receipt = client.push(envelope, sealed, "b-1")
    assert (receipt.status, receipt.accepted) == ("accepted", 21) and stored_by == ["large"]
    (batch,) = _rows(settings, "SELECT id, records, record_type, status, receipt, path FROM batch")
    assert batch[1:4] == (21, "admin_penalty", "accepted") and batch[4] == receipt.encode()
    stored = _rows(
        settings,
        "SELECT batch_pk, idx, op, record_id, natural_key, version, payload FROM record ORDER BY idx",
    )
    assert [row[1] for row in stored] == list(range(21)) and {row[0] for row in stored} == {batch[0]}
    assert stored[20][2:4] == ("d", "r20") and stored[0][4] == "11140900MB0000000X|忻市监罚〔2024〕1号"
    assert json.loads(str(stored[3][6]))["CF_WSH"] == "忻市监罚〔2024〕4号"
    assert Path(str(batch[5])).read_bytes().startswith(b"<?xml")
    assert _rows(settings, "SELECT last_seq FROM sender_state") == [(1,)]


def test_an_invalid_record_in_a_later_piece_gets_the_ordinary_rejections(
    hub_url: str, sender: Sender, seal_batch: Seal, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    negative = Rec("i", (("CF_NR_FK", "-1"),))
    records = [Rec()] * 12 + [negative, Rec(), negative]
    answers = []
    with HubClient(hub_url, sender, retries=0) as client:
        for batch_id, seq, threshold in (("b-1", 1, 0), ("b-2", 2, 1 << 40)):  # large path, then ordinary
            monkeypatch.setattr(hub.receiving, "STREAM_FROM", threshold)
            envelope, sealed = seal_batch(batch_id, seq, records=records)
            with pytest.raises(HubRejected) as err:
                client.push(envelope, sealed, batch_id)
            answers.append(err.value)
    large, ordinary = answers
    assert (large.status, large.code) == (ordinary.status, ordinary.code) == (422, "invalid_xml")
    assert large.receipt is not None and ordinary.receipt is not None
    assert large.receipt.rejected == ordinary.receipt.rejected
    assert [r.index for r in large.receipt.rejected] == [12, 14]
    assert _rows(settings, "SELECT count(*) FROM record") == [(0,)]
    assert _rows(settings, "SELECT batch_id, status FROM batch ORDER BY id") == [
        ("b-1", "rejected"),
        ("b-2", "rejected"),
    ]
    assert _rows(settings, "SELECT count(*) FROM sender_state WHERE last_seq > 0") == [(0,)]


def test_a_tampered_segment_leaves_nothing_but_the_rejection(
    sender: Sender, seal_batch: Seal, post_raw: Post, resign: Resign, settings: Settings
) -> None:
    envelope, sealed = seal_batch("b-1", 1, records=[Rec()] * 12)
    data = bytearray(envelope.read_bytes())
    data[-20] ^= 0x04
    response = post_raw(bytes(data), resign(bytes(data), sealed))
    assert response.status_code == 422 and json.loads(response.content)["error"]["code"] == "segment_tampered"
    assert _rows(settings, "SELECT status, records FROM batch") == [("rejected", 0)]
    assert _rows(settings, "SELECT count(*) FROM record") == [(0,)]
    assert not (settings.received_dir / SENDER / "b-1.xml").exists()


def test_a_failure_inside_the_commit_leaves_nothing_half_stored(
    hub_url: str, sender: Sender, seal_batch: Seal, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(name: str) -> None:
        if name == "during_commit":
            raise RuntimeError("the hub fails between publishing the file and committing")

    monkeypatch.setattr(hub.receiving, "crash_point", crash)
    envelope, sealed = seal_batch("b-1", 1, records=[Rec()] * 12)
    with HubClient(hub_url, sender, retries=0) as client, pytest.raises(HubUnavailable):  # a 500
        client.push(envelope, sealed, "b-1")
    for table in ("batch", "record", "sender_state"):
        assert _rows(settings, f"SELECT count(*) FROM {table}") == [(0,)]
    monkeypatch.setattr(hub.receiving, "crash_point", lambda _name: None)
    with HubClient(hub_url, sender, retries=0) as client:  # the sender's retry, on a new connection
        receipt = client.push(envelope, sealed, "b-1")
    assert receipt.accepted == 12
    assert _rows(settings, "SELECT count(*) FROM record") == [(12,)]


def test_a_claim_lost_to_a_concurrent_push_takes_the_ordinary_path(
    hub_url: str,
    sender: Sender,
    seal_batch: Seal,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    stored_by: list[str],
) -> None:
    calls: list[int] = []
    advance = db.advance_seq

    def first_one_lost(conn: object, sender_id: str, seq: int) -> bool:
        calls.append(seq)
        return False if len(calls) == 1 else advance(conn, sender_id, seq)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "advance_seq", first_one_lost)
    envelope, sealed = seal_batch("b-1", 1, records=[Rec()] * 12)
    with HubClient(hub_url, sender, retries=0) as client:
        receipt = client.push(envelope, sealed, "b-1")
    # The ordinary path decided (its own compare-and-set passed) and stored the batch once; a batch this
    # large has its records read from the file again rather than held in memory.
    assert receipt.accepted == 12 and calls == [1, 1] and stored_by == ["from file"]
    assert _rows(settings, "SELECT count(*) FROM record") == [(12,)]


def test_a_batch_the_fast_path_cannot_vouch_for_is_stored_by_the_careful_path(
    hub_url: str, sender: Sender, seal_batch: Seal, settings: Settings, stored_by: list[str], tmp_path: Path
) -> None:
    envelope, sealed = seal_batch("b-1", 1, records=[Rec()] * 12, record_type="admin_penalty")
    # Valid, but a comment after the root: not the usual shape, so the fast path does not take it.
    xml = tmp_path / "b-1.xml"
    xml.write_bytes(xml.read_bytes() + b"\n<!-- end -->\n")
    sealed = sender.seal(xml, envelope, batch_id="b-1", seq=1)
    with HubClient(hub_url, sender, retries=0) as client:
        receipt = client.push(envelope, sealed, "b-1")
    assert receipt.accepted == 12 and stored_by == ["from file"]
    assert _rows(settings, "SELECT count(*), min(idx), max(idx) FROM record") == [(12, 0, 11)]
