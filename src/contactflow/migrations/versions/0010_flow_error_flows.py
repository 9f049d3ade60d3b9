"""flow error flows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:45:00.000000

A flow may name another flow of its location as its error flow: the flow that runs when one
of its runs fails for good.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a foreign key: SQLite adds it in place. Deleting a flow
    # clears the references to it (flows/service.py).
    op.add_column("flows", sa.Column("error_flow_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_column("error_flow_id")
