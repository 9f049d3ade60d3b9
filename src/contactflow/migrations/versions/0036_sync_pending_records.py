"""records of a contact that wait for the contact to be linked

Revision ID: 0036
Revises: 0034
Create Date: 2026-12-07 07:40:00.000000

A sync of tasks or notes links a record only once its contact has a partner in the
location's contacts sync; until then the record waits here (found by its contact, so that
the contact's link brings it through).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactflow.platform.db import UTCDateTime

revision: str = "0036"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_pending",
        sa.Column("sync_id", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=False),
        sa.Column("since", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["syncs.id"],
            name=op.f("fk_sync_pending_sync_id_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sync_id", "side", "record_id", name=op.f("pk_sync_pending")),
    )
    with op.batch_alter_table("sync_pending", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_pending_sync_id_side_parent_id"),
            ["sync_id", "side", "parent_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_pending_sync_id_side_parent_id"))
    op.drop_table("sync_pending")
