"""The gateway database, as SQLAlchemy Core tables.

Core rather than the ORM because every hot path is a bulk statement (executemany with RETURNING), never
one object per row. The Alembic migrations in ``migrations/versions`` create exactly these tables; a test
compares the two so they cannot drift.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row per file a department dropped (per sheet, for a workbook) or unit a pulled source landed, named by
# where it came from: ``source_id`` is the department (its inbox) for a dropped file and the source's id for a
# pulled unit (migration 0007; the column was called department). A file's (source_id, sha256, part) is
# unique: the same content dropped again is processed once. A pulled unit is an event, which may repeat
# content (migration 0005); landing answers a repeat of the source's latest unit as nothing new. Written only
# through gateway.source_units.
source_file = Table(
    "source_file",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", String(64), nullable=False),  # the department, or the pulled source
    Column("kind", String(16), nullable=False, server_default="file"),  # file | api | sql | xml | replay
    Column("file_name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("format", String(16)),
    Column("encoding", String(32)),
    Column("mapping_id", String(128)),
    Column("record_type", String(64)),
    Column("status", String(16), nullable=False),  # processing | landed | accepted | partial | rejected
    Column("rows_total", Integer, nullable=False, default=0),
    Column("rows_accepted", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("rows_unchanged", Integer, nullable=False, default=0),
    Column("receipt", Text, nullable=False),  # the receipt JSON, so it can be re-issued after a crash
    Column("landing_path", String(1024)),
    Column("cursor_from", Text),  # pulled sources: the cursor range this unit covers
    Column("cursor_to", Text),
    Column("archived_path", String(1024)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("archived_at", DateTime(timezone=True)),
    # One row per part of a file: '' for a file of one table, the sheet name for each sheet of a workbook.
    Column("part", String(128), nullable=False, server_default=""),
    # Set by gateway.maintenance before it removes the file (migration 0008): the landed Parquet (landing_path
    # is cleared once it is gone), the archived export with its receipts (archived_path stays, as history).
    Column("landing_purged_at", DateTime(timezone=True)),
    Column("archive_purged_at", DateTime(timezone=True)),
    # A replay (kind replay, gateway.replay) names the unit whose landed rows it processed again (migration
    # 0009); it has no landing_path of its own, the Parquet stays the unit's.
    Column("replay_of", Integer, ForeignKey("source_file.id")),
)
_FILES = text("kind = 'file'")
Index(
    "uq_source_file_source_id_sha256_part",
    source_file.c.source_id,
    source_file.c.sha256,
    source_file.c.part,
    unique=True,
    sqlite_where=_FILES,
    postgresql_where=_FILES,
)


REPLAY = "replay"
"""The kind of a replay's row, and the actor of its audit row (gateway.replay)."""


def pulled_units() -> ColumnElement[bool]:
    """The rows of units a pulled source landed: not dropped files, and not replays, which landed nothing."""
    return source_file.c.kind.not_in(("file", REPLAY))


def rows_of_file(source_id: str, sha256: str) -> ColumnElement[bool]:
    """The rows of a file with these bytes dropped by this department: one, or one per sheet of a workbook."""
    return and_(
        source_file.c.kind == "file", source_file.c.source_id == source_id, source_file.c.sha256 == sha256
    )


# The entity registry: market entities keyed by USCC, with the legacy codes that also identify them.
entity = Table(
    "entity",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uscc", String(18), unique=True),
    Column("name", String(200), nullable=False),
    Column("name_norm", String(200), nullable=False, index=True),
    Column("org_code", String(9), index=True),
    Column("reg_no", String(15), index=True),
    Column("origin", String(32), nullable=False),  # record | registry | manual
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The current state of each record, by natural key. Its content is that of its current version
# (record_version with the same record_id and version, CURRENT_VERSION below), stored there once: a payload
# is most of a row's bytes, and holding it twice doubled what every load writes.
record = Table(
    "record",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_type", String(64), nullable=False),
    Column("natural_key", String(512), nullable=False),
    Column("entity_id", Integer, ForeignKey("entity.id")),
    Column("attach_method", String(16)),  # uscc | reg_no | org_code | name | natural_person | manual
    Column("subject_name", String(200)),
    # active | unattached | withdrawn (by its source) | expired | repaired (withdrawn by the gateway: its
    # publicity period ended, or a credit repair took it out of every feed; GATEWAY_WITHDRAWN)
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source_file_id", Integer, ForeignKey("source_file.id"), nullable=False),
    Column("source_row", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("record_type", "natural_key"),
)
Index("ix_record_entity_id", record.c.entity_id)

# Incremental cursors of pulled sources. A cursor advances in the same transaction that records the landed
# unit of data it covers, so a crash means a re-pull, never a gap.
source_cursor = Table(
    "source_cursor",
    metadata,
    Column("source_id", String(128), primary_key=True),
    Column("cursor", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every version ever stored, with its lineage: what the hub was (or will be) sent.
record_version = Table(
    "record_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_id", Integer, ForeignKey("record.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("operation", String(1), nullable=False),  # i | u | d
    Column("content_hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("entity_uscc", String(18)),
    Column("attach_method", String(16)),
    Column("source_file_id", Integer, ForeignKey("source_file.id"), nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("source_row", Integer, nullable=False),
    Column("outbound", Boolean, nullable=False, server_default=false()),  # this version must reach the hub
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Set when the hub refused this version in a signed receipt: its code and message, in which batch, when.
    Column("hub_code", String(64)),
    Column("hub_message", Text),
    Column("hub_batch_id", String(64)),
    Column("hub_rejected_at", DateTime(timezone=True)),
    # Why the gateway itself made this version (migration 0013): publicity_expired | credit_repaired for a
    # withdrawal it decided (gateway.store.withdrawals); NULL for a version that came from its source.
    Column("reason", String(32)),
    UniqueConstraint("record_id", "version"),
)
# Partial: only the few versions the hub refused carry a batch id, and indexing every other version's NULL
# cost each insert an index entry for nothing.
Index(
    "ix_record_version_hub_batch_id",
    record_version.c.hub_batch_id,
    sqlite_where=record_version.c.hub_batch_id.isnot(None),
    postgresql_where=record_version.c.hub_batch_id.isnot(None),
)

GATEWAY_WITHDRAWN = ("expired", "repaired")
"""Statuses of records the gateway withdrew from the hub by its own decision (gateway.store.withdrawals): a
re-send of the same content leaves them so, changed content is stored but not sent (gateway.store.records)."""

# A record whose versions must not leave for the hub yet (migration 0013): an objection (异议) holds it until
# it is resolved or its deadline passes (gateway.credit.objections). The batcher skips the outbox rows of a
# held record; they stay pending, in order, and go in the first batch after the hold is lifted.
record_hold = Table(
    "record_hold",
    metadata,
    Column("record_id", Integer, ForeignKey("record.id"), primary_key=True),
    Column("reason", String(32), nullable=False),  # objection
    Column("reference", String(64), nullable=False),  # what holds it, e.g. the objection's id
    Column("since", DateTime(timezone=True), nullable=False),
)

# A record's current version, whose payload is the record's content: join record_version ON this.
CURRENT_VERSION = (record_version.c.record_id == record.c.id) & (record_version.c.version == record.c.version)

# Records that could not be attached to an entity wait here until an engineer settles them.
resolution_queue = Table(
    "resolution_queue",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_id", Integer, ForeignKey("record.id"), nullable=False, unique=True),
    Column("reason", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_entity_id", Integer, ForeignKey("entity.id")),
    Column("resolved_by", String(64)),
)

# Versions to deliver, written in the same transaction as the version itself (transactional outbox).
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_version_id", Integer, ForeignKey("record_version.id"), nullable=False, unique=True),
    Column("record_type", String(64), nullable=False),
    Column("batch_id", String(64), ForeignKey("delivery_batch.batch_id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_outbox_pending", outbox.c.record_type, outbox.c.batch_id)

# One row per batch sent to the hub. seq is the sender's strictly increasing sequence number. The states and
# why each is committed before the next step: gateway/delivery/states.py.
delivery_batch = Table(
    "delivery_batch",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("record_type", String(64), nullable=False),
    Column("records", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # built | sealed | sent | acknowledged | rejected | dead
    Column("xml_path", String(1024)),
    Column("envelope_path", String(1024)),
    Column("envelope_sha256", String(64)),
    Column("manifest", Text),
    Column("signature", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("receipt", Text),
    Column("receipt_signature", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_code", String(64)),  # machine code of the last failure (the hub's, or the client's)
    Column("seals", Integer, nullable=False, server_default="0"),  # envelopes made so far (delivery_seal)
    Column("open_since", DateTime(timezone=True)),  # the dead-letter age counts from here (built or retried)
    Column("sent_at", DateTime(timezone=True)),  # first push: from then on the hub may hold the batch
    Column("next_attempt_at", DateTime(timezone=True)),  # backoff after a failure; NULL means due now
    Column("dead_at", DateTime(timezone=True)),
    Column("hub_rejected", Integer, nullable=False, server_default="0"),  # records the hub refused by name
    # Set by gateway.maintenance before it removes an acknowledged batch's XML or envelopes (migration 0008).
    Column("plaintext_purged_at", DateTime(timezone=True)),
    Column("envelopes_purged_at", DateTime(timezone=True)),
)
Index("ix_delivery_batch_status", delivery_batch.c.status)

# Every envelope ever sealed for a batch. Kept so that a batch id the hub stored under an earlier envelope
# (its answer to a later one is batch_conflict) can still be settled with the receipt the hub holds.
delivery_seal = Table(
    "delivery_seal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("batch_id", String(64), ForeignKey("delivery_batch.batch_id"), nullable=False),
    Column("seal_no", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("envelope_path", String(1024), nullable=False),
    Column("envelope_sha256", String(64), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("batch_id", "seal_no"),
)

# What happened, step by step, for people who have to explain it later.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject_type", String(32), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("detail", Text),
)
Index("ix_audit_subject", audit.c.subject_type, audit.c.subject_id)
