"""The lookup's callers and its query log.

A caller is one department's credential: an API key (only its SHA-256 is stored; the key is shown once when
it is made) or a client certificate (its SHA-256 fingerprint), and a role. Every query is logged, whatever
its outcome, before the answer leaves.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table

from gateway.credit.metadata import metadata
from gateway.store.tables import entity

lookup_caller = Table(
    "lookup_caller",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("department", String(64), nullable=False),
    Column("role", String(16), nullable=False),  # department | internal | auditor
    Column("key_id", String(16), unique=True),  # the key's public prefix, shown in lists and logs
    Column("key_sha256", String(64), unique=True),
    Column("cert_sha256", String(64), unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

lookup_query = Table(
    "lookup_query",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("caller_id", Integer, ForeignKey(lookup_caller.c.id), nullable=False),
    Column("code", String(64), nullable=False),  # as asked (an entity's code, never a person's ID number)
    Column("code_kind", String(16)),  # uscc | reg_no | org_code, when recognised
    Column("entity_id", Integer, ForeignKey(entity.c.id)),
    Column("matter", String(128), nullable=False),  # the case or application the caller is handling
    Column("outcome", String(16), nullable=False),  # found | unknown | malformed | bad_check
    Column("report_no", String(32), unique=True),
    Column("format", String(8), nullable=False),  # json | html | pdf
)
Index("ix_lookup_query_at", lookup_query.c.at)
Index("ix_lookup_query_caller_id", lookup_query.c.caller_id)
Index("ix_lookup_query_entity_id", lookup_query.c.entity_id)
