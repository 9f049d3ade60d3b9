"""sync conflicts held for a person, and each linked pair's recent history

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 05:20:00.000000

A field whose conflict policy is `manual` and that changed on both sides waits as an open
conflict (listed per sync by state, newest first; found per pair while it is synced). A linked
pair keeps the last few changes the sync carried for it (read and pruned by pair, newest
first).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactflow.platform.db import UTCDateTime

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_conflicts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=32), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column("mailsuite_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("crm_value", sa.JSON(), nullable=True),
        sa.Column("mailsuite_value", sa.JSON(), nullable=True),
        sa.Column("crm_changed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("mailsuite_changed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("chosen", sa.String(length=16), nullable=True),
        sa.Column("resolved_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["syncs.id"],
            name=op.f("fk_sync_conflicts_sync_id_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflicts")),
    )
    with op.batch_alter_table("sync_conflicts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_conflicts_sync_id_state_created_at_id"),
            ["sync_id", "state", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sync_conflicts_sync_id_crm_id_state"),
            ["sync_id", "crm_id", "state"],
            unique=False,
        )
    op.create_table(
        "sync_changes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=32), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["syncs.id"],
            name=op.f("fk_sync_changes_sync_id_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_changes")),
    )
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_changes_sync_id_crm_id_at_id"),
            ["sync_id", "crm_id", "at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_changes_sync_id_crm_id_at_id"))
    op.drop_table("sync_changes")
    with op.batch_alter_table("sync_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_conflicts_sync_id_crm_id_state"))
        batch_op.drop_index(batch_op.f("ix_sync_conflicts_sync_id_state_created_at_id"))
    op.drop_table("sync_conflicts")
