"""a contact's wire JSON, stored beside its columns

Revision ID: 0028
Revises: 0024
Create Date: 2026-12-06 23:30:00.000000

Written in the same flush as every change to the contact, its tags or its followers, so the
Contacts API's reads send it as stored (ADR 0025). Existing contacts start without it (NULL):
reads build theirs from the columns, and their next change stores it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("wire", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("wire")
