"""source_file.replay_of: a replay's row names the unit whose landed rows it processed again.

Revision ID: 0009
Revises: 0008

A platform engineer replays a processed unit from the landing area with today's mappings (gateway.replay):
the replay gets a row of its own (kind ``replay``, its own receipt, no landing path: the Parquet stays the
unit's), and ``replay_of`` references the unit replayed, so a version a replay stored leads back to the
department's file or the pulled unit it came from. NULL on every other row. The unique index over
(source_id, sha256, part) stays as it is: it applies to kind 'file' only, so a replay of a file may repeat
its content.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMN = "replay_of"
FK = "fk_source_file_replay_of_source_file"
INDEX = "uq_source_file_source_id_sha256_part"
_FILES = sa.text("kind = 'file'")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        # SQLite adds a nullable column with a REFERENCES clause in place (ALTER TABLE … ADD COLUMN), where a
        # separate ADD CONSTRAINT would need batch mode's rebuild of the table.
        op.execute(
            f"ALTER TABLE source_file ADD COLUMN {COLUMN} INTEGER CONSTRAINT {FK} REFERENCES source_file (id)"
        )
        return
    op.add_column("source_file", sa.Column(COLUMN, sa.Integer(), nullable=True))
    op.create_foreign_key(FK, "source_file", "source_file", [COLUMN], ["id"])


def downgrade() -> None:
    # The replays' rows stay (kind replay, their receipts, the versions that point at them); only the link
    # to the unit each replayed goes.
    if not _sqlite():
        op.drop_constraint(FK, "source_file", type_="foreignkey")
        op.drop_column("source_file", COLUMN)
        return
    # SQLite cannot drop a column a foreign key uses: batch mode rebuilds the table (gateway.store.db runs
    # migrations with SQLite's foreign keys off and checks them afterwards). The partial index goes first
    # and comes back afterwards, as in 0007, so the rebuild carries no partial index over.
    op.drop_index(INDEX, table_name="source_file")
    with op.batch_alter_table("source_file") as batch:
        batch.drop_column(COLUMN)
    op.create_index(
        INDEX,
        "source_file",
        ["source_id", "sha256", "part"],
        unique=True,
        sqlite_where=_FILES,
        postgresql_where=_FILES,
    )
