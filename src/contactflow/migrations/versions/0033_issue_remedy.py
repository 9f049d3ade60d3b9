"""an issue's remedy

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 05:00:00.000000

What the latest failure of an issue's subject asks of a person, when the inbox can tell: a
connection whose provider refused to renew its token is connected again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remedy", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_column("remedy")
