"""mailsuite task sources

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02 08:00:00.000000

Mailsuite tasks may name the system and record they were copied from (`source_system`,
`source_id`), as timeline entries do: a second task with the same pair is the same task, and
a sync finds its copy by the original's id.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailsuite_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_system", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("source_id", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_mailsuite_tasks_location_id_source_system_source_id"),
            ["location_id", "source_system", "source_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("mailsuite_tasks", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_mailsuite_tasks_location_id_source_system_source_id"), type_="unique"
        )
        batch_op.drop_column("source_id")
        batch_op.drop_column("source_system")
