"""flow seen keys expire

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 19:00:00.000000

A key a flow let through (a de-duplicate step's, a hook delivery's) is kept until its window
is over (`expires_at`), then the retention sweep deletes it. Keys seen before have no
expiry and are kept.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flow_seen_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "expires_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_flow_seen_keys_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_seen_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_seen_keys_expires_at"))
        batch_op.drop_column("expires_at")
