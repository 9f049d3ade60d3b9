"""duplicate checks read one index entry: email and phone indexes carry (date_added, id)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 13:30:00.000000

The duplicate checks and upserts look for the oldest contact of a location with an email (or
phone). Their indexes on (location_id, email_lower) and (location_id, phone) are replaced by
ones that continue with (date_added, id), so that the oldest match is the first entry read.
With the old ones, SQLite (which has no statistics unless ANALYZE runs) chose the
(location_id, date_added, id) index for the ORDER BY and walked the location's every contact.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_location_id_email_lower")
        batch_op.drop_index(batch_op.f("ix_contacts_location_id_phone"))
        batch_op.create_index(
            batch_op.f("ix_contacts_location_id_email_lower_date_added_id"),
            ["location_id", "email_lower", "date_added", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_location_id_phone_date_added_id"),
            ["location_id", "phone", "date_added", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_location_id_phone_date_added_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_location_id_email_lower_date_added_id"))
        batch_op.create_index(
            batch_op.f("ix_contacts_location_id_phone"), ["location_id", "phone"], unique=False
        )
        batch_op.create_index(
            "ix_contacts_location_id_email_lower", ["location_id", "email_lower"], unique=False
        )
