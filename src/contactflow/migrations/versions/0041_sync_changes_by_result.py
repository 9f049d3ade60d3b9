"""a sync's history is indexed by result, so its failing pairs are found from their refusals

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07 14:30:00.000000

A sync's failing count (the linked pairs whose newest change a side refused) looked up each
pair's newest history entry: about 90 ms at 20,000 pairs, on every read of the sync. Found
from the refused entries instead, it reads what was refused, few as a rule.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_changes_sync_id_result"), ["sync_id", "result"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_changes_sync_id_result"))
