"""Withdrawals (移出 / 撤销): a d version reaches the hub only for records it has; re-listing is an update."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from sqlalchemy import Connection, select

from gateway.schema.model import Condition, FieldSpec, RecordType, SubjectSpec
from gateway.source_units import record_unit
from gateway.store.db import engine_for
from gateway.store.records import Attachment, store_batch
from gateway.store.tables import outbox, record, record_version

NOW = datetime(2026, 11, 28, tzinfo=UTC)
RTYPE = RecordType(
    name="listing",
    element="Listing",
    label="名录",
    version="1",
    fields=(FieldSpec("MC", "名称", "Y"), FieldSpec("K", "编号", "Y"), FieldSpec("YCRQ", "移出日期")),
    natural_key=("K",),
    subject=SubjectSpec(name="MC"),
    withdrawal=Condition("YCRQ", "present", ()),
)


def put(conn: Connection, rows: list[tuple[str, str | None]], *, attached: bool = True):  # type: ignore[no-untyped-def]
    file_id = record_unit(
        conn,
        source_id="t",
        file_name="f",
        sha256=f"{datetime.now().timestamp()}",
        size=1,
        status="accepted",
        received_at=NOW,
    )
    text = pa.string()
    table = pa.table(
        {
            "MC": pa.array(["甲"] * len(rows), text),
            "K": pa.array([k for k, _ in rows], text),
            "YCRQ": pa.array([d for _, d in rows], text),
            "__row__": list(range(2, len(rows) + 2)),
        }
    )
    n = len(rows)
    attachment = Attachment([None] * n, [None] * n, ["natural_person" if attached else None] * n, 0, 0)
    return store_batch(
        conn, RTYPE, table, attachment, source_file_id=file_id, source_sha256="0" * 64, now=NOW, header_of=str
    )


def history(conn: Connection) -> list[tuple[str, int, str, bool, bool]]:
    stmt = (
        select(
            record.c.natural_key,
            record_version.c.version,
            record_version.c.operation,
            record_version.c.outbound,
            outbox.c.id.is_not(None),
        )
        .join(record, record.c.id == record_version.c.record_id)
        .outerjoin(outbox, outbox.c.record_version_id == record_version.c.id)
        .order_by(record_version.c.id)
    )
    return [tuple(r) for r in conn.execute(stmt)]  # type: ignore[misc]


def test_listing_withdrawal_and_relisting(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        assert put(conn, [("A1", None)]).inserted == 1
        assert put(conn, [("A1", "2026-11-01")]).withdrawn == 1
        assert put(conn, [("A1", "2026-11-01")]).unchanged == 1  # withdrawn already: nothing to send
        assert put(conn, [("A1", None)]).updated == 1  # listed again
        assert put(conn, [("B2", "2026-11-02")]).withdrawn == 1  # never listed here: stored, never sent
        status = dict(conn.execute(select(record.c.natural_key, record.c.status)).all())
        assert history(conn) == [
            ("A1", 1, "i", True, True),
            ("A1", 2, "d", True, True),
            ("A1", 3, "u", True, True),
            ("B2", 1, "d", False, False),
        ]
    assert status == {"A1": "active", "B2": "withdrawn"}


def test_withdrawing_a_record_the_hub_never_had_sends_nothing(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        put(conn, [("C3", None)], attached=False)  # waits for an entity: never sent
        put(conn, [("C3", "2026-11-03")], attached=False)
        assert [(k, op, out) for k, _, op, out, _ in history(conn)] == [
            ("C3", "i", False),
            ("C3", "d", False),
        ]
