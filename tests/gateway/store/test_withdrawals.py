"""Withdrawals the gateway decides (publicity ended, repaired): a d version with the reason, sent once, and
a source sending the record again does not bring it back."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from sqlalchemy import Connection, insert, select

from gateway.source_units import record_unit
from gateway.store.db import engine_for
from gateway.store.records import Attachment, StoreCounts, store_batch
from gateway.store.tables import audit, record, record_hold, record_version
from gateway.store.withdrawals import withdraw
from tests.gateway.store.test_withdrawal import NOW, RTYPE, history, put


def _ids(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(record.c.natural_key, record.c.id)).all())


def _status(conn: Connection) -> dict[str, str]:
    return dict(conn.execute(select(record.c.natural_key, record.c.status)).all())


def test_an_expired_record_is_withdrawn_once_with_its_reason(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        put(conn, [("A1", None), ("B2", None)])
        ids = _ids(conn)
        done = withdraw(
            conn, [ids["A1"]], status="expired", actor="test", now=NOW, details={ids["A1"]: {"ends_on": "x"}}
        )
        again = withdraw(conn, [ids["A1"]], status="expired", actor="test", now=NOW)
        reasons = conn.execute(select(record_version.c.version, record_version.c.reason)).all()
        logged = conn.execute(select(audit.c.action, audit.c.subject_id, audit.c.detail)).all()
        assert _status(conn) == {"A1": "expired", "B2": "active"}
        assert history(conn) == [
            ("A1", 1, "i", True, True),
            ("B2", 1, "i", True, True),
            ("A1", 2, "d", True, True),
        ]
    assert [(w.record_id, w.version, w.sent) for w in done] == [(ids["A1"], 2, True)]
    assert again == []
    assert sorted(reasons, key=lambda r: (r[0], r[1] or "")) == [
        (1, None),
        (1, None),
        (2, "publicity_expired"),
    ]
    assert len(logged) == 1 and logged[0][:2] == ("record.expired", str(ids["A1"]))
    assert json.loads(logged[0][2]) == {
        "reason": "publicity_expired",
        "version": 2,
        "sent": True,
        "ends_on": "x",
    }


def test_only_active_records_are_withdrawn(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        put(conn, [("W1", "2026-11-01")])  # withdrawn by its source
        put(conn, [("U1", None)], attached=False)  # waiting for an entity
        ids = _ids(conn)
        assert withdraw(conn, list(ids.values()), status="repaired", actor="test", now=NOW) == []
        assert _status(conn) == {"W1": "withdrawn", "U1": "unattached"}


def test_a_withdrawal_status_must_be_one_the_gateway_makes(database_url: str) -> None:
    with engine_for(database_url).begin() as conn, pytest.raises(ValueError, match="expired or repaired"):
        withdraw(conn, [1], status="withdrawn", actor="test", now=NOW)


def test_the_source_sending_it_again_does_not_bring_it_back(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        put(conn, [("A1", None)])
        withdraw(conn, list(_ids(conn).values()), status="repaired", actor="test", now=NOW)
        same = put(conn, [("A1", None)])
        changed = put(conn, [("A1", "2099-01-01")])  # withdrawn by the source too: nothing more to send
        edited = _edit_key(conn, "A1")  # other content under the same key
        assert _status(conn) == {"A1": "repaired"}
        assert history(conn)[-1] == ("A1", 3, "u", False, False)  # stored, never sent
    assert (same.unchanged, same.kept_out) == (1, 0)
    assert (changed.unchanged, changed.withdrawn) == (1, 0)
    assert (edited.updated, edited.kept_out) == (1, 1)


def test_changes_to_a_held_record_are_counted(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        put(conn, [("H1", None)])
        conn.execute(
            insert(record_hold).values(
                record_id=_ids(conn)["H1"], reason="objection", reference="1", since=NOW
            )
        )
        counts = _edit_key(conn, "H1")
    assert (counts.updated, counts.held) == (1, 1)


def _edit_key(conn: Connection, key: str) -> StoreCounts:
    """The record stored under ``key`` again, with another name: changed content from its source."""
    file_id = record_unit(
        conn, source_id="t", file_name="h", sha256=f"edit-{key}", size=1, status="accepted", received_at=NOW
    )
    table = pa.table(
        {
            "MC": pa.array(["丙"], pa.string()),
            "K": pa.array([key], pa.string()),
            "YCRQ": pa.array([None], pa.string()),
            "__row__": [2],
        }
    )
    return store_batch(
        conn,
        RTYPE,
        table,
        Attachment([None], [None], ["natural_person"], 0, 0),
        source_file_id=file_id,
        source_sha256="0" * 64,
        now=NOW,
        header_of=str,
    )
