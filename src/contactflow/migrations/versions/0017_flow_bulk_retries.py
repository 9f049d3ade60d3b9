"""bulk retries of failed runs

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 10:00:00.000000

A bulk retry is a job that retries every failed run matching a filter of the runs list, in
batches: its filter, its state, its counts and where its walk over the runs is. While it
runs, its filter's key is unique in its location.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flow_bulk_retries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("flow_id", sa.String(length=32), nullable=True),
        sa.Column("since", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("until", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("text", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("running_key", sa.String(length=64), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("retried", sa.Integer(), nullable=False),
        sa.Column(
            "after_created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("after_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("location_id", "running_key"),
    )
    op.create_index(
        op.f("ix_flow_bulk_retries_state_updated_at"),
        "flow_bulk_retries",
        ["state", "updated_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_flow_bulk_retries_location_id_created_at"),
        "flow_bulk_retries",
        ["location_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_flow_bulk_retries_location_id_created_at"), table_name="flow_bulk_retries"
    )
    op.drop_index(op.f("ix_flow_bulk_retries_state_updated_at"), table_name="flow_bulk_retries")
    op.drop_table("flow_bulk_retries")
