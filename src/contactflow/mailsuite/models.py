"""Tables of the Mailsuite workspace. Every row carries its location (the workspace is the
location's email side), so every look-up is tenant-scoped as in the other contexts."""

from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.clock import utcnow
from contactflow.platform.crypto import EncryptedText
from contactflow.platform.db import Base, UTCDateTime
from contactflow.platform.ids import new_id

# Contact subscription states: only `subscribed` contacts are sent to.
ContactStatus = Literal["subscribed", "unsubscribed", "bounced"]
SUBSCRIBED: Final = "subscribed"
UNSUBSCRIBED: Final = "unsubscribed"
BOUNCED: Final = "bounced"

# Email states. `scheduled` covers "due later" and "waiting for a retry"; `sending` is held
# under a lease while an SMTP transaction runs.
EmailStatus = Literal["scheduled", "sending", "sent", "failed", "bounced", "cancelled"]
SCHEDULED: Final = "scheduled"
SENDING: Final = "sending"
SENT: Final = "sent"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"

# Where a sender's mail goes: its SMTP server, or the sandbox outbox (sandbox locations only).
Delivery = Literal["smtp", "sandbox"]
SMTP_DELIVERY: Final = "smtp"
SANDBOX_DELIVERY: Final = "sandbox"

CampaignStatus = Literal["draft", "launched", "paused", "cancelled"]
DRAFT: Final = "draft"
LAUNCHED: Final = "launched"
# Launched, with its unsent emails held until it is started again.
PAUSED: Final = "paused"

# A campaign's recipient: waiting for the launch, its email queued, skipped (with the
# reason), or taken out before its email went.
RecipientStatus = Literal["pending", "queued", "skipped", "removed"]
TaskStatus = Literal["open", "done"]
ActivityKind = Literal["open", "click"]
TimelineKind = Literal[
    "note",
    "email_sent",
    "email_opened",
    "link_clicked",
    "task_created",
    "task_completed",
    "appointment",
    "contact_updated",
]


def _location_fk() -> Mapped[str]:
    return mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))


def _id() -> Mapped[str]:
    return mapped_column(String(32), primary_key=True, default=new_id)


class Workspace(Base):
    """A location's Mailsuite settings; created with the location's first Mailsuite write."""

    __tablename__ = "mailsuite_workspaces"

    location_id: Mapped[str] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    # Every custom field key any contact has had: a placeholder naming one is known.
    custom_field_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailContact(Base):
    __tablename__ = "mailsuite_contacts"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    email: Mapped[str] = mapped_column(String(320))
    email_lower: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ContactStatus] = mapped_column(String(16), default=SUBSCRIBED)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(64), default="api")
    # The Contacts API contact this one was enrolled from, when it was.
    crm_contact_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("location_id", "email_lower"),
        Index(None, "location_id", "created_at", "id"),
        # A Contacts API contact's page finds its linked contact (the oldest) by this.
        Index(None, "location_id", "crm_contact_id", "created_at", "id"),
        # A sync matches a contact by phone when its email matches none.
        Index(None, "location_id", "phone", "created_at", "id"),
    )

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class MailList(Base):
    __tablename__ = "mailsuite_lists"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "location_id", "created_at", "id"),)


class ListMember(Base):
    __tablename__ = "mailsuite_list_members"

    list_id: Mapped[str] = mapped_column(
        ForeignKey("mailsuite_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("mailsuite_contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "list_id", "added_at", "contact_id"),)


class Template(Base):
    __tablename__ = "mailsuite_templates"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(1000))
    html: Mapped[str] = mapped_column(Text)
    # Empty: the text part is made from the HTML.
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "location_id", "created_at", "id"),)


class Sender(Base):
    """A From identity and where its mail goes: the SMTP server that sends for it, or (on a
    sandbox location) the sandbox outbox, where the SMTP settings are optional."""

    __tablename__ = "mailsuite_senders"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    name: Mapped[str] = mapped_column(String(255))
    from_email: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str] = mapped_column(String(255), default="")
    reply_to: Mapped[str | None] = mapped_column(String(320))
    delivery: Mapped[Delivery] = mapped_column(String(8), default=SMTP_DELIVERY)
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    # starttls, tls (implicit, port 465) or none (a local relay).
    smtp_security: Mapped[str | None] = mapped_column(String(16))
    smtp_username: Mapped[str | None] = mapped_column(String(320))
    smtp_password: Mapped[str | None] = mapped_column(EncryptedText)
    # At most this many SMTP transactions a minute (None: as fast as the server takes them).
    max_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "location_id", "created_at", "id"),)


class Campaign(Base):
    """A mail merge of one template to a list and/or chosen contacts."""

    __tablename__ = "mailsuite_campaigns"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    name: Mapped[str] = mapped_column(String(255))
    sender_id: Mapped[str] = mapped_column(ForeignKey("mailsuite_senders.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(
        ForeignKey("mailsuite_templates.id", ondelete="CASCADE")
    )
    list_id: Mapped[str | None] = mapped_column(
        ForeignKey("mailsuite_lists.id", ondelete="SET NULL")
    )
    status: Mapped[CampaignStatus] = mapped_column(String(16), default=DRAFT)
    max_per_minute: Mapped[int | None] = mapped_column(Integer)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "location_id", "created_at", "id"),)


class Recipient(Base):
    """One contact of a campaign: queued (its email exists), waiting for the launch, or
    skipped with the reason (unsubscribed, bounced, no address): never dropped silently."""

    __tablename__ = "mailsuite_campaign_recipients"

    id: Mapped[str] = _id()
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("mailsuite_campaigns.id", ondelete="CASCADE")
    )
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("mailsuite_contacts.id", ondelete="CASCADE"), index=True
    )
    crm_contact_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[RecipientStatus] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(1000))
    email_id: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64), default="api")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index(None, "campaign_id", "added_at", "id"),
    )


class Email(Base):
    """One message to one recipient, and the work item that sends it.

    The rendered subject and bodies and the Message-ID are fixed when the row is created, so
    every attempt sends the same message.
    """

    __tablename__ = "mailsuite_emails"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    sender_id: Mapped[str] = mapped_column(ForeignKey("mailsuite_senders.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("mailsuite_contacts.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[str | None] = mapped_column(
        ForeignKey("mailsuite_campaigns.id", ondelete="CASCADE"), index=True
    )
    template_id: Mapped[str | None] = mapped_column(String(32))
    to_email: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(511), default="")
    subject: Mapped[str] = mapped_column(String(1000))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    track_opens: Mapped[bool] = mapped_column(Boolean, default=True)
    track_clicks: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[EmailStatus] = mapped_column(String(16), default=SCHEDULED)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the last SMTP transaction started: what the per-minute throttles count.
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The SMTP server's last answer ("250 ...", "451 ...") or the connection error.
    last_response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounce_kind: Mapped[str | None] = mapped_column(String(8))
    bounce_reason: Mapped[str | None] = mapped_column(String(1000))
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its recipient unsubscribed through it (the contact's own status says since when).
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    machine_open_count: Mapped[int] = mapped_column(Integer, default=0)
    click_count: Mapped[int] = mapped_column(Integer, default=0)
    machine_click_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        Index(None, "sender_id", "last_attempt_at"),
        Index(None, "location_id", "created_at", "id"),
    )


class SandboxMessage(Base):
    """A message a sandbox sender delivered: kept whole, as the bytes an SMTP server would
    have received, with its envelope and the headers a list shows."""

    __tablename__ = "mailsuite_sandbox_messages"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    email_id: Mapped[str] = mapped_column(
        ForeignKey("mailsuite_emails.id", ondelete="CASCADE"), index=True
    )
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(1000))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "location_id", "received_at", "id"),)


class Activity(Base):
    """One open or click of an email, human or machine."""

    __tablename__ = "mailsuite_email_activity"

    id: Mapped[str] = _id()
    email_id: Mapped[str] = mapped_column(ForeignKey("mailsuite_emails.id", ondelete="CASCADE"))
    kind: Mapped[ActivityKind] = mapped_column(String(8))
    url: Mapped[str | None] = mapped_column(String(2048))
    user_agent: Mapped[str] = mapped_column(String(1000), default="")
    ip: Mapped[str | None] = mapped_column(String(64))
    machine: Mapped[bool] = mapped_column(Boolean, default=False)
    machine_reason: Mapped[str | None] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "email_id", "occurred_at", "id"),)


class Task(Base):
    __tablename__ = "mailsuite_tasks"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    title: Mapped[str] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[TaskStatus] = mapped_column(String(8), default="open")
    assignee_id: Mapped[str | None] = mapped_column(String(32))
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("mailsuite_contacts.id", ondelete="SET NULL"), index=True
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The system and record the task was copied from, if any: one task per pair.
    source_system: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("location_id", "source_system", "source_id"),
        Index(None, "location_id", "created_at", "id"),
        # The tasks board: a location's open tasks by due date.
        Index(None, "location_id", "status", "due_at", "id"),
    )


class TimelineEntry(Base):
    """What happened with a contact, from Mailsuite or from another system (`source_system`
    and `source_id` say where; a second entry with the same pair is the same entry)."""

    __tablename__ = "mailsuite_timeline"

    id: Mapped[str] = _id()
    location_id: Mapped[str] = _location_fk()
    contact_id: Mapped[str] = mapped_column(ForeignKey("mailsuite_contacts.id", ondelete="CASCADE"))
    kind: Mapped[TimelineKind] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text, default="")
    source_system: Mapped[str] = mapped_column(String(64), default="mailsuite")
    source_id: Mapped[str | None] = mapped_column(String(255))
    email_id: Mapped[str | None] = mapped_column(String(32))
    task_id: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("location_id", "source_system", "source_id"),
        Index(None, "contact_id", "occurred_at", "id"),
    )


class TrackingKey(Base):
    """The installation's HMAC key for tracking and unsubscribe links, encrypted at rest.
    It never rotates: links in mail already sent must keep working."""

    __tablename__ = "mailsuite_tracking_keys"

    id: Mapped[str] = _id()
    secret: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
