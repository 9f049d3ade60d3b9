"""syncs, their identity map and backfills

Revision ID: 0029
Revises: 0026
Create Date: 2026-12-06 23:41:02.651775

A sync per location and object pair (unique); its identity map, unique on each side's id so
nothing is linked twice; its backfill, one row per sync, found by (state, updated_at). A
sync matches Mailsuite contacts by phone when their email matches none:
(location_id, phone, created_at, id) finds the oldest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactflow.platform.db import UTCDateTime

revision: str = "0029"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "syncs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("object", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_syncs_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_syncs")),
        sa.UniqueConstraint("location_id", "object", name=op.f("uq_syncs_location_id_object")),
    )
    with op.batch_alter_table("syncs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_syncs_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "sync_backfills",
        sa.Column("sync_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("last_skip", sa.Text(), nullable=True),
        sa.Column("after_added_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("after_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["syncs.id"],
            name=op.f("fk_sync_backfills_sync_id_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sync_id", name=op.f("pk_sync_backfills")),
    )
    with op.batch_alter_table("sync_backfills", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_backfills_state_updated_at"), ["state", "updated_at"], unique=False
        )

    op.create_table(
        "sync_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=32), nullable=False),
        sa.Column("object", sa.String(length=32), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column("mailsuite_id", sa.String(length=64), nullable=False),
        sa.Column("crm_hash", sa.String(length=64), nullable=False),
        sa.Column("mailsuite_hash", sa.String(length=64), nullable=False),
        sa.Column("crm_fields", sa.JSON(), nullable=False),
        sa.Column("mailsuite_fields", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("linked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("synced_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["syncs.id"],
            name=op.f("fk_sync_links_sync_id_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_links")),
        sa.UniqueConstraint(
            "sync_id", "object", "crm_id", name=op.f("uq_sync_links_sync_id_object_crm_id")
        ),
        sa.UniqueConstraint(
            "sync_id",
            "object",
            "mailsuite_id",
            name=op.f("uq_sync_links_sync_id_object_mailsuite_id"),
        ),
    )
    with op.batch_alter_table("mailsuite_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_contacts_location_id_phone_created_at_id"),
            ["location_id", "phone", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("mailsuite_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_contacts_location_id_phone_created_at_id"))
    op.drop_table("sync_links")
    with op.batch_alter_table("sync_backfills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_backfills_state_updated_at"))
    op.drop_table("sync_backfills")
    with op.batch_alter_table("syncs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_syncs_location_id_created_at_id"))
    op.drop_table("syncs")
