"""flow storage and seen keys

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:50:00.000000

What flows remember between runs: values stored by key per location (the storage steps),
and the keys each flow's de-duplicate step let through, with when.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, contactflow.platform.db.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "flow_storage",
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        _time("updated_at"),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_flow_storage_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("location_id", "key", name=op.f("pk_flow_storage")),
    )
    op.create_table(
        "flow_seen_keys",
        sa.Column("flow_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        _time("seen_at"),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_flow_seen_keys_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flow_id", "key", name=op.f("pk_flow_seen_keys")),
    )


def downgrade() -> None:
    op.drop_table("flow_seen_keys")
    op.drop_table("flow_storage")
