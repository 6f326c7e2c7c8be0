"""Revision 0004 keeps each payload once, in record_version: nothing is lost on the way up, and the way down
puts every record's current payload back."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

from gateway.store.db import engine_for, head_revision
from gateway.store.db import run_migrations as step
from gateway.store.tables import CURRENT_VERSION, record, record_version

_AT = "'2026-11-27 01:00:00'"


def _seed(url: str) -> None:
    """One record at version 2 (payload B), with its history (version 1, payload A), as revision 0003 kept
    it: record.payload repeating the current version's."""
    with engine_for(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO source_file (id, department, kind, file_name, sha256, size, status, "
                "rows_total, rows_accepted, rows_rejected, rows_unchanged, receipt, received_at) VALUES "
                f"(1, 'd', 'file', 'f.csv', '{'s' * 64}', 1, 'accepted', 1, 1, 0, 0, '{{}}', {_AT})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO record (id, record_type, natural_key, status, version, content_hash, payload, "
                f"source_file_id, source_row, created_at, updated_at) VALUES (7, 'admin_penalty', 'k', "
                f"'active', 2, 'hb', '{{\"A\":\"乙\"}}', 1, 2, {_AT}, {_AT})"
            )
        )
        for version, payload in ((1, '{"A":"甲"}'), (2, '{"A":"乙"}')):
            conn.execute(
                text(
                    "INSERT INTO record_version (record_id, version, operation, content_hash, payload, "
                    "source_file_id, source_sha256, source_row, outbound, created_at) VALUES (7, :v, 'u', "
                    f"'h', :p, 1, '{'s' * 64}', 2, TRUE, {_AT})"
                ),
                {"v": version, "p": payload},
            )


def test_payload_lives_in_the_current_version_and_comes_back_on_downgrade(database_url: str) -> None:
    step(database_url, "downgrade", "0003")
    _seed(database_url)

    step(database_url, "upgrade", "head")
    engine = engine_for(database_url)
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("record")}
        current = conn.execute(
            select(record.c.id, record_version.c.payload).join(record_version, CURRENT_VERSION)
        ).all()
        history = conn.execute(select(record_version.c.payload).order_by(record_version.c.version)).scalars()
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert [tuple(r) for r in current] == [(7, '{"A":"乙"}')]
        assert list(history) == ['{"A":"甲"}', '{"A":"乙"}']
    assert "payload" not in columns
    assert revision == head_revision()

    step(database_url, "downgrade", "0003")
    with engine.connect() as conn:
        restored = conn.execute(text("SELECT id, payload FROM record")).all()
    assert [tuple(r) for r in restored] == [(7, '{"A":"乙"}')]
    step(database_url, "upgrade", "head")
