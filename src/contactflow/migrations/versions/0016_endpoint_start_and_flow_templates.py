"""webhook endpoints start at the log's position; flows remember their template

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:00:00.000000

A webhook endpoint keeps the location's last event seq at its creation (`starts_after`) and
is sent only later events, however far behind the fan-out is; endpoints made before start at
0, as they did. A flow installed from a shipped template names it (`template_key`) and the
template's flow it is (`template_flow`), so installing the template again finds them; flows
installed before name none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("starts_after", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("template_flow", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_flows_location_id_template_key"),
            ["location_id", "template_key"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flows_location_id_template_key"))
        batch_op.drop_column("template_flow")
        batch_op.drop_column("template_key")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("starts_after")
