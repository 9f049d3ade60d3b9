"""encrypt secrets at rest

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:10:00

Webhook signing secrets and the installation's signing key were stored in plain text; they
are now encrypted with the configured key ring (see contactflow.platform.crypto).
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from contactflow.platform import crypto

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENCRYPTED = {
    "webhook_endpoints": ("secret", "previous_secret"),
    "signing_keys": ("private_key",),
}


def _rewrite(convert: Callable[[str], str]) -> None:
    connection = op.get_bind()
    for table, columns in ENCRYPTED.items():
        selected = ", ".join(("id", *columns))
        for row in connection.execute(sa.text(f"SELECT {selected} FROM {table}")):  # noqa: S608
            values = {
                column: convert(value)
                for column, value in zip(columns, row[1:], strict=True)
                if value is not None
            }
            if values:
                assignments = ", ".join(f"{column} = :{column}" for column in values)
                connection.execute(
                    sa.text(f"UPDATE {table} SET {assignments} WHERE id = :id"),  # noqa: S608
                    {**values, "id": row[0]},
                )


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch_op:
        batch_op.alter_column("secret", type_=sa.Text(), existing_type=sa.String(255))
        batch_op.alter_column("previous_secret", type_=sa.Text(), existing_type=sa.String(255))
    _rewrite(crypto.encrypt)


def downgrade() -> None:
    _rewrite(crypto.decrypt)
    with op.batch_alter_table("webhook_endpoints") as batch_op:
        batch_op.alter_column("secret", type_=sa.String(255), existing_type=sa.Text())
        batch_op.alter_column("previous_secret", type_=sa.String(255), existing_type=sa.Text())
