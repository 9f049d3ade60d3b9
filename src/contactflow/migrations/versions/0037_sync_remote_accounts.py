"""syncs whose CRM side is a remote account, reached through a connection

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 08:00:00.000000

A sync may name a connection of its location to a remote HighLevel-compatible account (none:
this workspace's contacts, as before). Its remote calls are made outside the database's
transactions, by the one worker holding the sync's lease; a remote that fails makes it wait
until `retry_at`, and a connection that must be connected again makes it `failing`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactflow.platform.db import UTCDateTime

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("syncs") as batch:
        batch.add_column(sa.Column("connection_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("retry_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("remedy", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("leased_until", UTCDateTime(), nullable=True))
        batch.create_foreign_key(
            "fk_syncs_connection_id_connections", "connections", ["connection_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("syncs") as batch:
        batch.drop_constraint("fk_syncs_connection_id_connections", type_="foreignkey")
        for column in ("leased_until", "lease_owner", "remedy", "failures", "retry_at"):
            batch.drop_column(column)
        batch.drop_column("connection_id")
