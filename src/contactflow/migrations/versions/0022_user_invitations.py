"""user invitations

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 20:30:00.000000

A company admin invites a user from the dashboard: the user is made without a password, and
an invitation holds the digest of a one-time link that sets it, valid for 24 hours.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_invitations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_invitations_token_hash")),
    )
    with op.batch_alter_table("user_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_invitations_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_invitations_user_id"))
    op.drop_table("user_invitations")
