"""Revision 0003 carries batches of 0002 over: their seal becomes seal 1, and a batch 0002 had already tried
to push (it pushed straight from "sealed") becomes "sent", because the hub may hold it."""

from __future__ import annotations

from sqlalchemy import select, text

from gateway.store.db import engine_for, head_revision
from gateway.store.db import run_migrations as step
from gateway.store.tables import delivery_batch, delivery_seal


def test_batches_of_revision_0002_keep_their_meaning(database_url: str) -> None:
    step(database_url, "downgrade", "0002")
    rows = [
        ("b-built", 1, "built", None, 0),
        ("b-sealed", 2, "sealed", "a" * 64, 0),
        ("b-tried", 3, "sealed", "b" * 64, 2),
        ("b-done", 4, "acknowledged", "c" * 64, 1),
    ]
    with engine_for(database_url).begin() as conn:
        for batch_id, seq, status, sha, attempts in rows:
            conn.execute(
                text(
                    "INSERT INTO delivery_batch (batch_id, seq, record_type, records, status, envelope_path, "
                    "envelope_sha256, manifest, signature, attempts, created_at, updated_at) VALUES (:b, :s, "
                    "'admin_penalty', 1, :st, :p, :sha, :m, :sig, :a, '2026-11-27 01:00:00', "
                    "'2026-11-27 02:00:00')"
                ),
                {
                    "b": batch_id,
                    "s": seq,
                    "st": status,
                    "p": f"/outbox/{batch_id}.gwenv" if sha else None,
                    "sha": sha,
                    "m": "bWFuaWZlc3Q=" if sha else None,
                    "sig": "c2lnbmF0dXJl" if sha else None,
                    "a": attempts,
                },
            )
    step(database_url, "upgrade", "head")
    with engine_for(database_url).connect() as conn:
        batches = {
            r.batch_id: r
            for r in conn.execute(
                select(
                    delivery_batch.c.batch_id,
                    delivery_batch.c.status,
                    delivery_batch.c.seals,
                    delivery_batch.c.sent_at,
                    delivery_batch.c.open_since,
                    delivery_batch.c.created_at,
                )
            )
        }
        seals = {
            r.batch_id: (r.seal_no, r.seq, r.envelope_sha256)
            for r in conn.execute(
                select(
                    delivery_seal.c.batch_id,
                    delivery_seal.c.seal_no,
                    delivery_seal.c.seq,
                    delivery_seal.c.envelope_sha256,
                )
            )
        }
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert revision == head_revision()
    assert {b: r.status for b, r in batches.items()} == {
        "b-built": "built",
        "b-sealed": "sealed",
        "b-tried": "sent",
        "b-done": "acknowledged",
    }
    assert {b: r.seals for b, r in batches.items()} == {
        "b-built": 0,
        "b-sealed": 1,
        "b-tried": 1,
        "b-done": 1,
    }
    assert batches["b-tried"].sent_at is not None and batches["b-sealed"].sent_at is None
    assert all(r.open_since == r.created_at for r in batches.values())
    assert seals == {"b-sealed": (1, 2, "a" * 64), "b-tried": (1, 3, "b" * 64), "b-done": (1, 4, "c" * 64)}
