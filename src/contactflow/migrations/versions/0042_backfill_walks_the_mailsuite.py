"""a sync's backfill says which side's records it walks: the Contacts API's, then the
Mailsuite's that no link names

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-07 17:00:00.000000

A sync that writes the Contacts API walks, after the Contacts API's records, the Mailsuite
records no link names (made before the sync existed), so they reach the Contacts API as its
own do the Mailsuite. Backfills under way keep walking the Contacts API side.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_backfills", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("walking", sa.String(length=16), nullable=False, server_default="crm")
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_backfills", schema=None) as batch_op:
        batch_op.drop_column("walking")
