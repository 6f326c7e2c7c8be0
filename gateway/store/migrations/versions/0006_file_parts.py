"""A dropped file may hold several parts (the sheets of a workbook): each part is its own source_file row.

Revision ID: 0006
Revises: 0005

``part`` names the part ('' for a file of one table: CSV, XML, JSON, a pulled unit); a workbook's sheets
are processed one part each, in their own transaction, so a crash between two sheets loses nothing and
repeats nothing on the rerun. The same bytes dropped again are still recognised, now per part:
(department, sha256, part) is unique for files.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = "uq_source_file_department_sha256"
NEW_NAME = "uq_source_file_department_sha256_part"
_FILES = sa.text("kind = 'file'")


def upgrade() -> None:
    op.add_column("source_file", sa.Column("part", sa.String(128), nullable=False, server_default=""))
    op.drop_index(NAME, table_name="source_file")
    op.create_index(
        NEW_NAME,
        "source_file",
        ["department", "sha256", "part"],
        unique=True,
        sqlite_where=_FILES,
        postgresql_where=_FILES,
    )


def downgrade() -> None:
    several = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM source_file WHERE part <> ''")).scalar_one()
    if several:
        raise RuntimeError(
            f"cannot go below 0006: {several} rows are sheets of multi-part files, which 0005 cannot hold"
        )
    op.drop_index(NEW_NAME, table_name="source_file")
    op.create_index(
        NAME,
        "source_file",
        ["department", "sha256"],
        unique=True,
        sqlite_where=_FILES,
        postgresql_where=_FILES,
    )
    with op.batch_alter_table("source_file") as batch:
        batch.drop_column("part")
