"""credential lifecycle and audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:01:17.955423
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=True),
        sa.Column("company_id", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entries_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allowed_ips", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column(
                "expires_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("replaced_by", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column(
                "last_used_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("last_used_ip", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_ip")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("allowed_ips")

    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_location_id_created_at_id"))

    op.drop_table("audit_entries")
