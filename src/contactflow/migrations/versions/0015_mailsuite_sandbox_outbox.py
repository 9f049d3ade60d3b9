"""mailsuite sandbox outbox

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 09:30:00.000000

A sender says where its mail goes (`delivery`): its SMTP server, or, on a sandbox location,
the sandbox outbox, which keeps each message whole. A sandbox sender needs no SMTP settings,
so they become optional; every sender saved before sends over SMTP.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailsuite_senders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivery", sa.String(length=8), nullable=False, server_default="smtp")
        )
        batch_op.alter_column("smtp_host", existing_type=sa.String(length=255), nullable=True)
        batch_op.alter_column("smtp_port", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("smtp_security", existing_type=sa.String(length=16), nullable=True)
    with op.batch_alter_table("mailsuite_senders", schema=None) as batch_op:
        batch_op.alter_column("delivery", existing_type=sa.String(length=8), server_default=None)

    op.create_table(
        "mailsuite_sandbox_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("email_id", sa.String(length=32), nullable=False),
        sa.Column("mail_from", sa.String(length=320), nullable=False),
        sa.Column("rcpt_to", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column(
            "received_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["email_id"],
            ["mailsuite_emails.id"],
            name=op.f("fk_mailsuite_sandbox_messages_email_id_mailsuite_emails"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_sandbox_messages_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_sandbox_messages")),
    )
    with op.batch_alter_table("mailsuite_sandbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_sandbox_messages_email_id"), ["email_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mailsuite_sandbox_messages_location_id_received_at_id"),
            ["location_id", "received_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("mailsuite_sandbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_sandbox_messages_location_id_received_at_id"))
        batch_op.drop_index(batch_op.f("ix_mailsuite_sandbox_messages_email_id"))
    op.drop_table("mailsuite_sandbox_messages")
    # Sandbox senders have no SMTP server to keep: they go with their emails.
    op.execute("DELETE FROM mailsuite_senders WHERE delivery = 'sandbox'")
    with op.batch_alter_table("mailsuite_senders", schema=None) as batch_op:
        batch_op.alter_column("smtp_security", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("smtp_port", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("smtp_host", existing_type=sa.String(length=255), nullable=False)
        batch_op.drop_column("delivery")
