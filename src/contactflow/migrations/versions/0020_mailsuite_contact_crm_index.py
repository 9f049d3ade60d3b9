"""a Contacts API contact's linked Mailsuite contact is found through an index

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 20:30:00.000000

A contact's page in the dashboard shows its Mailsuite side: the oldest Mailsuite contact of
the location whose crm_contact_id names it. Without an index on (location_id,
crm_contact_id) that look-up read every Mailsuite contact of the location; this one also
carries (created_at, id), so the oldest match is the first entry read.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailsuite_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_contacts_location_id_crm_contact_id_created_at_id"),
            ["location_id", "crm_contact_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("mailsuite_contacts", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_mailsuite_contacts_location_id_crm_contact_id_created_at_id")
        )
