"""a sync's segment (which contacts it covers), and the records its backfill left out

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-07 14:00:00.000000

A sync stores its segment as JSON beside its mapping (ADR 0042): null covers every contact,
as every sync did before. Its backfill counts the records the segment left out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("syncs") as batch:
        batch.add_column(sa.Column("segment", sa.JSON(), nullable=True))
    with op.batch_alter_table("sync_backfills") as batch:
        batch.add_column(sa.Column("excluded", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("sync_backfills") as batch:
        batch.drop_column("excluded")
    with op.batch_alter_table("syncs") as batch:
        batch.drop_column("segment")
