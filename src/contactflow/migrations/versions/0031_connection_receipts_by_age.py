"""connection receipts by age

Revision ID: 0031
Revises: 0029
Create Date: 2026-12-07 02:00:00.000000

Retention deletes a connection's receipts once older than their retention: an index on
created_at finds them without reading every receipt.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_connection_receipts_created_at"), "connection_receipts", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_connection_receipts_created_at"), table_name="connection_receipts")
