"""source_file.department is source_id: a unit is named by where it came from, a department or a source.

Revision ID: 0007
Revises: 0006

The column holds a department's id for a dropped file and a pulled source's id for a pulled unit (an API, a
staging table, an XML feed), which is no department; its name now says so. The partial unique index of
0006 over it is renamed with it — (source_id, sha256, part), for files only — and nothing else changes:
every row keeps its id and its values, so every record and version that points at one still does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_NAME = "uq_source_file_department_sha256_part"
NEW_NAME = "uq_source_file_source_id_sha256_part"
_FILES = sa.text("kind = 'file'")


def upgrade() -> None:
    _rename("department", "source_id", OLD_NAME, NEW_NAME)


def downgrade() -> None:
    _rename("source_id", "department", NEW_NAME, OLD_NAME)


def _rename(column: str, new_column: str, index: str, new_index: str) -> None:
    # The index goes first and comes back under its new name afterwards, so the rebuild carries no partial
    # index over. SQLite renames the column by rebuilding the table in batch mode (gateway.store.db runs
    # migrations with SQLite's foreign keys off and checks them afterwards); PostgreSQL renames in place.
    op.drop_index(index, table_name="source_file")
    with op.batch_alter_table("source_file") as batch:
        batch.alter_column(
            column, new_column_name=new_column, existing_type=sa.String(64), existing_nullable=False
        )
    op.create_index(
        new_index,
        "source_file",
        [new_column, "sha256", "part"],
        unique=True,
        sqlite_where=_FILES,
        postgresql_where=_FILES,
    )
