"""a location's tasks, notes and appointments are walked in (date added, id) order by index

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07 11:00:00.000000

A sync's backfill of tasks, notes or appointments reads a page at a time, in (date_added, id)
order past the last page. With only (location_id) indexed each page read and sorted every
record of the location: a walk over N records cost N squared. With the order in an index a
page is the next entries read, as for contacts. The index starts with location_id, so it
serves what the index of location_id alone served, which goes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("tasks", "notes", "appointments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_location_id_date_added_id"),
                ["location_id", "date_added", "id"],
                unique=False,
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_location_id"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_location_id"), ["location_id"], unique=False
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_location_id_date_added_id"))
