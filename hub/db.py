"""The hub's own SQLite database: batches (with their receipts), per-sender sequence state, records.

The replay state lives here, next to the batches, so "seq strictly increasing, nonce unseen" is decided
in the same transaction that records the batch: a crash can never leave a batch stored without its
nonce, or a sequence advanced without its batch. The schema is created on first use (the reference hub
has no migrations; it is not the gateway's store and shares nothing with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)

from gateway.transfer.private_files import private_database

metadata = MetaData()

batch = Table(
    "batch",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("batch_id", String(128), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("nonce", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("envelope_sha256", String(64), nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("record_type", String(64)),
    Column("records", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # accepted | rejected
    Column("error_code", String(64)),
    Column("http_status", Integer, nullable=False),
    Column("path", String(1024)),
    Column("manifest", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("receipt", LargeBinary, nullable=False),
    Column("receipt_signature", LargeBinary, nullable=False),
    UniqueConstraint("sender", "batch_id", name="uq_batch_sender_batch_id"),
    UniqueConstraint("sender", "nonce", name="uq_batch_sender_nonce"),
)

sender_state = Table(
    "sender_state",
    metadata,
    Column("sender", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

record = Table(
    "record",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("batch_pk", Integer, ForeignKey("batch.id"), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("batch_id", String(128), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("record_type", String(64), nullable=False),
    Column("op", String(1), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("natural_key", String(512), nullable=False),
    Column("version", Integer, nullable=False),
    Column("entity", String(18)),
    Column("payload", Text, nullable=False),
    Column("reason", String(32)),  # a withdrawal's reason, as the sender gave it (Record/@reason)
)
Index("ix_record_sender_type_op", record.c.sender, record.c.record_type, record.c.op)
Index("ix_record_key", record.c.record_type, record.c.natural_key)

# The statements of a push, as SQL text run by the driver (Connection.exec_driver_sql, 7-14 µs each):
# SQLAlchemy Core builds, keys and looks up a statement on every call, 50-70 µs each, which was a good part
# of the ~3 ms of CPU a one-record push cost the hub (bench/hub_abuse.py). Errors still arrive as
# SQLAlchemy's (IntegrityError on a taken batch id or nonce).
_BATCH_COLUMNS = frozenset(batch.c.keys())


def stored_batch(conn: Connection, sender: str, batch_id: str) -> Row[Any] | None:
    """(envelope_sha256, http_status, receipt, receipt_signature) of a decided batch, or None."""
    return conn.exec_driver_sql(
        "SELECT envelope_sha256, http_status, receipt, receipt_signature FROM batch"
        " WHERE sender = ? AND batch_id = ?",
        (sender, batch_id),
    ).first()


def nonce_user(conn: Connection, sender: str, nonce: str) -> str | None:
    """The batch id that used this sender's nonce, or None."""
    return conn.exec_driver_sql(
        "SELECT batch_id FROM batch WHERE sender = ? AND nonce = ?", (sender, nonce)
    ).scalar_one_or_none()


def last_seq(conn: Connection, sender: str) -> int | None:
    return conn.exec_driver_sql(
        "SELECT last_seq FROM sender_state WHERE sender = ?", (sender,)
    ).scalar_one_or_none()


def advance_seq(conn: Connection, sender: str, seq: int) -> bool:
    """Compare-and-set of the sender's last seq to ``seq`` (only upwards), in ``conn``'s transaction."""
    conn.exec_driver_sql(
        "INSERT INTO sender_state (sender, last_seq) VALUES (?, -1) ON CONFLICT DO NOTHING", (sender,)
    )
    advanced = conn.exec_driver_sql(
        "UPDATE sender_state SET last_seq = ? WHERE sender = ? AND last_seq < ?", (seq, sender, seq)
    )
    return advanced.rowcount == 1


def insert_batch(conn: Connection, values: Mapping[str, object]) -> int:
    """Insert a batch row (columns named by ``values``' keys); its primary key."""
    unknown = set(values) - _BATCH_COLUMNS
    if unknown:
        raise ValueError(f"batch has no column {sorted(unknown)}")
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    result = conn.exec_driver_sql(f"INSERT INTO batch ({columns}) VALUES ({marks})", tuple(values.values()))
    return int(result.lastrowid)


def update_batch(conn: Connection, batch_pk: int, values: Mapping[str, object]) -> None:
    unknown = set(values) - _BATCH_COLUMNS
    if unknown:
        raise ValueError(f"batch has no column {sorted(unknown)}")
    assignments = ", ".join(f"{column} = ?" for column in values)
    conn.exec_driver_sql(f"UPDATE batch SET {assignments} WHERE id = ?", (*values.values(), batch_pk))


_INSERT_RECORDS = (
    "INSERT INTO record (batch_pk, sender, batch_id, record_type, idx, op, record_id, natural_key, version,"
    " entity, payload, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_records(
    conn: Connection, batch: tuple[int, str, str, str], rows: Iterable[tuple[object, ...]]
) -> None:
    """Insert records, in ``conn``'s open transaction: ``batch`` is (batch_pk, sender, batch_id,
    record_type), each row (idx, op, record_id, natural_key, version, entity, payload, reason).

    The DB-API cursor's executemany of plain tuples, not SQLAlchemy Core's of dicts: the 196,550 records
    of a 187 MiB batch in 1.3 s instead of 2.4-2.6 s (measured back to back, the commit apart)."""
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(_INSERT_RECORDS, (batch + row for row in rows))
    finally:
        cursor.close()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets `hub report` read while the server writes; busy_timeout makes concurrent writers wait
    # for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(db_path: Path, *, create: bool = True) -> Engine:
    private_database(db_path)  # receipts and records of received batches: owner-only, like the XML files
    engine = create_engine(f"sqlite:///{db_path}")
    event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        metadata.create_all(engine)
        _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """A database made by an earlier hub lacks the columns added since (record.reason): add them, empty.
    The reference hub has no migrations; this is the one change its schema has had."""
    with engine.begin() as conn:
        present = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(record)")}
        if "reason" not in present:
            conn.exec_driver_sql("ALTER TABLE record ADD COLUMN reason VARCHAR(32)")
