"""deliveries found pending by key

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 10:45:00.000000

A delivery waits while an earlier one of its key is pending. With the key's index ordered by
seq alone, finding that earlier one walked every delivery of the key already done, for each
pending delivery the claim looked at: a subject with thousands of events (a contact updated
all day) made each claim take seconds. The index now holds the state before the seq.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "webhook_deliveries"
BY_SEQ = ["endpoint_id", "ordering_key", "seq"]
BY_STATE = ["endpoint_id", "ordering_key", "state", "seq"]


def upgrade() -> None:
    op.create_index(
        op.f("ix_webhook_deliveries_endpoint_id_ordering_key_state_seq"), TABLE, BY_STATE
    )
    op.drop_index(op.f("ix_webhook_deliveries_endpoint_id_ordering_key_seq"), table_name=TABLE)


def downgrade() -> None:
    op.create_index(op.f("ix_webhook_deliveries_endpoint_id_ordering_key_seq"), TABLE, BY_SEQ)
    op.drop_index(
        op.f("ix_webhook_deliveries_endpoint_id_ordering_key_state_seq"), table_name=TABLE
    )
