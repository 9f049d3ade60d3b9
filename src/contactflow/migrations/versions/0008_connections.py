"""connections

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:40:00.000000

Connections of flows to Contacts APIs (this server's or a remote HighLevel-compatible one),
the Mailsuite and HTTP services, their secrets encrypted at rest; and the receipts that make
a remote webhook or a polled contact version count once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.crypto
import contactflow.platform.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("auth", sa.String(length=16), nullable=False),
        sa.Column("base_url", sa.String(length=2048), nullable=True),
        sa.Column("remote_location_id", sa.String(length=64), nullable=True),
        sa.Column("secret", contactflow.platform.crypto.EncryptedText(), nullable=True),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("header_name", sa.String(length=255), nullable=True),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("authorize_url", sa.String(length=2048), nullable=True),
        sa.Column("token_url", sa.String(length=2048), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("access_token", contactflow.platform.crypto.EncryptedText(), nullable=True),
        sa.Column("refresh_token", contactflow.platform.crypto.EncryptedText(), nullable=True),
        sa.Column(
            "token_issued_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "token_expires_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("oauth_state", sa.String(length=64), nullable=True),
        sa.Column("oauth_verifier", contactflow.platform.crypto.EncryptedText(), nullable=True),
        sa.Column("webhook_public_key", sa.Text(), nullable=True),
        sa.Column("poll_seconds", sa.Integer(), nullable=True),
        sa.Column("poll_cursor", sa.JSON(), nullable=True),
        sa.Column(
            "next_poll_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_connections_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("oauth_state", name=op.f("uq_connections_oauth_state")),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connections_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_connections_next_poll_at"), ["next_poll_at"], unique=False
        )

    op.create_table(
        "connection_receipts",
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_connection_receipts_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "key", name=op.f("pk_connection_receipts")),
    )


def downgrade() -> None:
    op.drop_table("connection_receipts")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connections_next_poll_at"))
        batch_op.drop_index(batch_op.f("ix_connections_location_id_created_at_id"))

    op.drop_table("connections")
