"""dashboard sessions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 09:28:02.133857

The dashboard's server-side sessions (only the secret's digest, with last use and address)
and the failed sign-ins its throttle counts; runs of a location are read newest first by
(location, time, id).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sign_in_failures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sign_in_failures")),
    )
    with op.batch_alter_table("web_sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sign_in_failures_account_at"), ["account", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_web_sign_in_failures_address_at"), ["address", "at"], unique=False
        )

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_used_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_runs_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_runs_location_id_created_at_id"))

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("web_sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sign_in_failures_address_at"))
        batch_op.drop_index(batch_op.f("ix_web_sign_in_failures_account_at"))

    op.drop_table("web_sign_in_failures")
