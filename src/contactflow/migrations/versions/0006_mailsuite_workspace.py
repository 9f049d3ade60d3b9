"""mailsuite workspace

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:29:23.968187

The Mailsuite workspace: contacts, lists, templates, senders (SMTP passwords encrypted at
rest), campaigns and their recipients, emails (the sending work items), opens and clicks,
tasks, each contact's timeline, and the tracking-link key (encrypted at rest).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contactflow.platform.crypto
import contactflow.platform.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailsuite_tracking_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret", contactflow.platform.crypto.EncryptedText(), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_tracking_keys")),
    )
    op.create_table(
        "mailsuite_contacts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_lower", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("custom_fields", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column(
            "status_changed_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("crm_contact_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_contacts_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_contacts")),
        sa.UniqueConstraint(
            "location_id", "email_lower", name=op.f("uq_mailsuite_contacts_location_id_email_lower")
        ),
    )
    with op.batch_alter_table("mailsuite_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_contacts_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "mailsuite_lists",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_lists_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_lists")),
    )
    with op.batch_alter_table("mailsuite_lists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_lists_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "mailsuite_senders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("from_email", sa.String(length=320), nullable=False),
        sa.Column("from_name", sa.String(length=255), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=True),
        sa.Column("smtp_host", sa.String(length=255), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_security", sa.String(length=16), nullable=False),
        sa.Column("smtp_username", sa.String(length=320), nullable=True),
        sa.Column("smtp_password", contactflow.platform.crypto.EncryptedText(), nullable=True),
        sa.Column("max_per_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_senders_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_senders")),
    )
    with op.batch_alter_table("mailsuite_senders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_senders_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "mailsuite_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_templates_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_templates")),
    )
    with op.batch_alter_table("mailsuite_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_templates_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "mailsuite_workspaces",
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("custom_field_keys", sa.JSON(), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_workspaces_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_mailsuite_workspaces")),
    )
    op.create_table(
        "mailsuite_campaigns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("list_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("max_per_minute", sa.Integer(), nullable=True),
        sa.Column(
            "scheduled_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("launched_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "cancelled_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailsuite_lists.id"],
            name=op.f("fk_mailsuite_campaigns_list_id_mailsuite_lists"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_campaigns_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["mailsuite_senders.id"],
            name=op.f("fk_mailsuite_campaigns_sender_id_mailsuite_senders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["mailsuite_templates.id"],
            name=op.f("fk_mailsuite_campaigns_template_id_mailsuite_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_campaigns")),
    )
    with op.batch_alter_table("mailsuite_campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_campaigns_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "mailsuite_list_members",
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("added_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["mailsuite_contacts.id"],
            name=op.f("fk_mailsuite_list_members_contact_id_mailsuite_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailsuite_lists.id"],
            name=op.f("fk_mailsuite_list_members_list_id_mailsuite_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "contact_id", name=op.f("pk_mailsuite_list_members")),
    )
    with op.batch_alter_table("mailsuite_list_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_list_members_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mailsuite_list_members_list_id_added_at_contact_id"),
            ["list_id", "added_at", "contact_id"],
            unique=False,
        )

    op.create_table(
        "mailsuite_tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("due_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("assignee_id", sa.String(length=32), nullable=True),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column(
            "completed_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["mailsuite_contacts.id"],
            name=op.f("fk_mailsuite_tasks_contact_id_mailsuite_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_tasks_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_tasks")),
    )
    with op.batch_alter_table("mailsuite_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_tasks_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mailsuite_tasks_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "mailsuite_timeline",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("email_id", sa.String(length=32), nullable=True),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column(
            "occurred_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["mailsuite_contacts.id"],
            name=op.f("fk_mailsuite_timeline_contact_id_mailsuite_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_timeline_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_timeline")),
        sa.UniqueConstraint(
            "location_id",
            "source_system",
            "source_id",
            name=op.f("uq_mailsuite_timeline_location_id_source_system_source_id"),
        ),
    )
    with op.batch_alter_table("mailsuite_timeline", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_timeline_contact_id_occurred_at_id"),
            ["contact_id", "occurred_at", "id"],
            unique=False,
        )

    op.create_table(
        "mailsuite_campaign_recipients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("crm_contact_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("email_id", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("added_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["mailsuite_campaigns.id"],
            name=op.f("fk_mailsuite_campaign_recipients_campaign_id_mailsuite_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["mailsuite_contacts.id"],
            name=op.f("fk_mailsuite_campaign_recipients_contact_id_mailsuite_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id",
            "contact_id",
            name=op.f("uq_mailsuite_campaign_recipients_campaign_id_contact_id"),
        ),
    )
    with op.batch_alter_table("mailsuite_campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_campaign_recipients_campaign_id_added_at_id"),
            ["campaign_id", "added_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_mailsuite_campaign_recipients_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "mailsuite_emails",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=True),
        sa.Column("template_id", sa.String(length=32), nullable=True),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column("to_name", sa.String(length=511), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("track_opens", sa.Boolean(), nullable=False),
        sa.Column("track_clicks", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "scheduled_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "next_attempt_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column(
            "lease_expires_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_attempt_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_response", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("bounce_kind", sa.String(length=8), nullable=True),
        sa.Column("bounce_reason", sa.String(length=1000), nullable=True),
        sa.Column("bounced_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "first_opened_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "first_clicked_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.Column("machine_open_count", sa.Integer(), nullable=False),
        sa.Column("click_count", sa.Integer(), nullable=False),
        sa.Column("machine_click_count", sa.Integer(), nullable=False),
        sa.Column("created_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["mailsuite_campaigns.id"],
            name=op.f("fk_mailsuite_emails_campaign_id_mailsuite_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["mailsuite_contacts.id"],
            name=op.f("fk_mailsuite_emails_contact_id_mailsuite_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_mailsuite_emails_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["mailsuite_senders.id"],
            name=op.f("fk_mailsuite_emails_sender_id_mailsuite_senders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_emails")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mailsuite_emails_message_id")),
    )
    with op.batch_alter_table("mailsuite_emails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_emails_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mailsuite_emails_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mailsuite_emails_location_id_created_at_id"),
            ["location_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_mailsuite_emails_sender_id_last_attempt_at"),
            ["sender_id", "last_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_mailsuite_emails_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "mailsuite_email_activity",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("user_agent", sa.String(length=1000), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.Boolean(), nullable=False),
        sa.Column("machine_reason", sa.String(length=255), nullable=True),
        sa.Column(
            "occurred_at", contactflow.platform.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["email_id"],
            ["mailsuite_emails.id"],
            name=op.f("fk_mailsuite_email_activity_email_id_mailsuite_emails"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailsuite_email_activity")),
    )
    with op.batch_alter_table("mailsuite_email_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailsuite_email_activity_email_id_occurred_at_id"),
            ["email_id", "occurred_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("mailsuite_email_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_email_activity_email_id_occurred_at_id"))

    op.drop_table("mailsuite_email_activity")
    with op.batch_alter_table("mailsuite_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_emails_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_mailsuite_emails_sender_id_last_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_mailsuite_emails_location_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_mailsuite_emails_contact_id"))
        batch_op.drop_index(batch_op.f("ix_mailsuite_emails_campaign_id"))

    op.drop_table("mailsuite_emails")
    with op.batch_alter_table("mailsuite_campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_campaign_recipients_contact_id"))
        batch_op.drop_index(batch_op.f("ix_mailsuite_campaign_recipients_campaign_id_added_at_id"))

    op.drop_table("mailsuite_campaign_recipients")
    with op.batch_alter_table("mailsuite_timeline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_timeline_contact_id_occurred_at_id"))

    op.drop_table("mailsuite_timeline")
    with op.batch_alter_table("mailsuite_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_tasks_location_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_mailsuite_tasks_contact_id"))

    op.drop_table("mailsuite_tasks")
    with op.batch_alter_table("mailsuite_list_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_list_members_list_id_added_at_contact_id"))
        batch_op.drop_index(batch_op.f("ix_mailsuite_list_members_contact_id"))

    op.drop_table("mailsuite_list_members")
    with op.batch_alter_table("mailsuite_campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_campaigns_location_id_created_at_id"))

    op.drop_table("mailsuite_campaigns")
    op.drop_table("mailsuite_workspaces")
    with op.batch_alter_table("mailsuite_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_templates_location_id_created_at_id"))

    op.drop_table("mailsuite_templates")
    with op.batch_alter_table("mailsuite_senders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_senders_location_id_created_at_id"))

    op.drop_table("mailsuite_senders")
    with op.batch_alter_table("mailsuite_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_lists_location_id_created_at_id"))

    op.drop_table("mailsuite_lists")
    with op.batch_alter_table("mailsuite_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailsuite_contacts_location_id_created_at_id"))

    op.drop_table("mailsuite_contacts")
    op.drop_table("mailsuite_tracking_keys")
