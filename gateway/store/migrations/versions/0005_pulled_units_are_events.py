"""Content identifies a dropped file, not a pulled unit: (department, sha256) is unique only for files.

Revision ID: 0005
Revises: 0004

A department dropping the same bytes twice sends one file, so ``(department, sha256)`` stays unique where
``kind = 'file'``. A pulled unit is an event instead: a source may legitimately hand over the same rows twice
(the last export rewritten back and forth, a cursor set back by an engineer to pull a range again), and
each time must be landed and processed, not refused by the constraint (which is what turned every REST-API
source red from its third quiet pull). Landing decides itself when a pull repeats the source's latest unit
and is therefore nothing new (gateway.landing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = "uq_source_file_department_sha256"
_FILES = sa.text("kind = 'file'")


def upgrade() -> None:
    # SQLite cannot drop a table constraint: batch mode rebuilds the table (gateway.store.db runs migrations
    # with SQLite's foreign keys off and checks them afterwards); PostgreSQL drops the constraint in place.
    with op.batch_alter_table("source_file") as batch:
        batch.drop_constraint(NAME, type_="unique")
    op.create_index(
        NAME,
        "source_file",
        ["department", "sha256"],
        unique=True,
        sqlite_where=_FILES,
        postgresql_where=_FILES,
    )


def downgrade() -> None:
    repeated = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT department, sha256, COUNT(*) FROM source_file GROUP BY department, sha256 "
                "HAVING COUNT(*) > 1"
            )
        )
        .all()
    )
    if repeated:
        raise RuntimeError(
            "cannot go below 0005: these pulled sources hold units with the same content, which 0004's "
            f"unique (department, sha256) forbids: {[(d, s[:12], n) for d, s, n in repeated[:10]]}"
        )
    op.drop_index(NAME, table_name="source_file")
    with op.batch_alter_table("source_file") as batch:
        batch.create_unique_constraint(NAME, ["department", "sha256"])
