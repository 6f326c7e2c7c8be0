"""When the maintenance removed a unit's landed rows, an archived file, a batch's plaintext or its envelopes.

Revision ID: 0008
Revises: 0007

gateway.maintenance writes the time into the row before it removes the file the row names, in a transaction
of its own, so that a crash between the two leaves a row that says what is to go and a rerun that finishes
the job — never a row that names a file nobody will remove, nor a file removed while the row still offers
it. ``source_file.landing_purged_at`` (the unit's Parquet under the landing area; its landing_path is cleared
once the file is gone), ``source_file.archive_purged_at`` (the archived export and its receipts in the drop
folder), ``delivery_batch.plaintext_purged_at`` (the rendered XML of an acknowledged batch) and
``delivery_batch.envelopes_purged_at`` (its sealed envelopes). NULL everywhere: nothing was removed yet.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = (
    ("source_file", "landing_purged_at"),
    ("source_file", "archive_purged_at"),
    ("delivery_batch", "plaintext_purged_at"),
    ("delivery_batch", "envelopes_purged_at"),
)


def upgrade() -> None:
    # Nullable columns without a default: ALTER TABLE … ADD COLUMN on both SQLite and PostgreSQL, no rebuild.
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(column, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite since 3.35) rather than batch mode, whose copy-and-drop of a table
    # that others reference the foreign keys forbid (as in 0004). The marks go; the files they describe were
    # removed already, which 0007 simply cannot say.
    for table, column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
