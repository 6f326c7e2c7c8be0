"""The hub's own SQLite database: batches (with their receipts), per-sender sequence state, records.

The replay state lives here, next to the batches, so "seq strictly increasing, nonce unseen" is decided
in the same transaction that records the batch: a crash can never leave a batch stored without its
nonce, or a sequence advanced without its batch. The schema is created on first use (the reference hub
has no migrations; it is not the gateway's store and shares nothing with it).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
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
