"""an email remembers when its recipient unsubscribed through it (campaign reports count it)

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-06 20:10:00.000000

A campaign's report counts the unsubscribes its emails brought, and draws them over time,
from its emails (read by campaign_id, as its other counts are) rather than from the event
log, which is not indexed by campaign.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailsuite_emails", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "unsubscribed_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("mailsuite_emails", schema=None) as batch_op:
        batch_op.drop_column("unsubscribed_at")
