"""an email remembers when its recipient unsubscribed through it; tasks indexed by due date

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 20:10:00.000000

A campaign's report counts the unsubscribes its emails brought, and draws them over time,
from its emails (read by campaign_id, as its other counts are) rather than from the event
log, which is not indexed by campaign. The dashboard's tasks board reads a location's open
tasks by due date: (location_id, status, due_at, id) is that order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailsuite_emails", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "unsubscribed_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("mailsuite_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_tasks_location_id_status_due_at_id"),
            ["location_id", "status", "due_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("mailsuite_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_tasks_location_id_status_due_at_id"))
    with op.batch_alter_table("mailsuite_emails", schema=None) as batch_op:
        batch_op.drop_column("unsubscribed_at")
