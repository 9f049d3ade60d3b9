"""activity counters per location, per minute and per hour, for the dashboard's overview

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 21:00:00.000000

Each event appended and each webhook attempt recorded adds to its location's counters in
the same transaction: rings of 60 minutes and 168 hours per kind (ADR 0019), so the
overview reads at most a few thousand rows whatever the size of the event log.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_counts",
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "location_id", "width", "kind", "slot", name=op.f("pk_activity_counts")
        ),
    )


def downgrade() -> None:
    op.drop_table("activity_counts")
