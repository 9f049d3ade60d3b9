"""Wire models of the sending side of /mailsuite/v1: templates, senders, emails, bounces and
campaigns."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contactflow.mailsuite.models import (
    ActivityKind,
    CampaignStatus,
    Delivery,
    EmailStatus,
    RecipientStatus,
)
from contactflow.mailsuite.schemas import Address, Body, Id, Name, PerMinute
from contactflow.platform.wire import RequestModel as Request
from contactflow.platform.wire import WireModel as Wire

# Templates ----------------------------------------------------------------------------


class TemplateCreate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    subject: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    html: Body
    text: Body = ""


class TemplateUpdate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    subject: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    html: Body | None = None
    text: Body | None = None


class TemplateOut(Wire):
    id: str
    name: str
    subject: str
    html: str
    text: str
    placeholders: list[str]
    created_at: str
    updated_at: str


class TemplateEnvelope(Wire):
    template: TemplateOut


class TemplateList(Wire):
    templates: list[TemplateOut]
    next_cursor: str | None


class PreviewBody(Request):
    contact_id: Id


class Content(Wire):
    subject: str
    html: str
    text: str


# Senders ------------------------------------------------------------------------------


class SenderFields(Request):
    from_name: Name | None = None
    reply_to: Address | None = None
    delivery: Annotated[
        Delivery | None,
        Field(
            description=(
                "smtp: through the SMTP server (smtpHost, smtpPort and smtpSecurity required); "
                "sandbox, a sandbox location's default and for sandbox locations only: kept in "
                "the sandbox outbox"
            )
        ),
    ] = None
    smtp_host: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    smtp_security: Literal["starttls", "tls", "none"] | None = None
    smtp_username: Annotated[str, StringConstraints(max_length=320)] | None = None
    smtp_password: Annotated[str, StringConstraints(max_length=1000)] | None = None
    max_per_minute: PerMinute | None = None


class SenderCreate(SenderFields):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    from_email: Address


class SenderUpdate(SenderFields):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    from_email: Address | None = None


class SenderOut(Wire):
    """The password is never shown; `hasPassword` says whether one is stored."""

    id: str
    name: str
    from_email: str
    from_name: str
    reply_to: str | None
    delivery: Delivery
    smtp_host: str | None
    smtp_port: int | None
    smtp_security: str | None
    smtp_username: str | None
    has_password: bool
    max_per_minute: int | None
    created_at: str
    updated_at: str


class SenderEnvelope(Wire):
    sender: SenderOut


class SenderList(Wire):
    senders: list[SenderOut]
    next_cursor: str | None


class Verified(Wire):
    ok: bool
    response: str


# Emails -------------------------------------------------------------------------------


class EmailCreate(Request):
    """To a Mailsuite contact (`contactId`) or an address (`to`, found or added as a
    contact); the content from a template or given here."""

    sender_id: Id
    contact_id: Id | None = None
    to: Address | None = None
    template_id: Id | None = None
    subject: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    html: Body | None = None
    text: Body | None = None
    scheduled_at: datetime | None = None
    track_opens: bool = True
    track_clicks: bool = True


class EmailOut(Wire):
    id: str
    sender_id: str
    contact_id: str
    campaign_id: str | None
    template_id: str | None
    to: str
    subject: str
    status: EmailStatus
    message_id: str
    scheduled_at: str
    next_attempt_at: str | None
    attempts: int
    last_response: str | None
    error: str | None
    sent_at: str | None
    bounce_kind: str | None
    bounce_reason: str | None
    bounced_at: str | None
    first_opened_at: str | None
    first_clicked_at: str | None
    opens: int
    machine_opens: int
    clicks: int
    machine_clicks: int
    created_at: str
    updated_at: str


class EmailEnvelope(Wire):
    email: EmailOut


class EmailDetail(Wire):
    email: EmailOut
    content: Content


class EmailList(Wire):
    emails: list[EmailOut]
    next_cursor: str | None


class ActivityOut(Wire):
    id: str
    kind: ActivityKind
    url: str | None
    user_agent: str
    ip: str | None
    machine: bool
    machine_reason: str | None
    occurred_at: str


class ActivityList(Wire):
    activity: list[ActivityOut]
    next_cursor: str | None


class BounceBody(Request):
    recipient: Address
    kind: Literal["hard", "soft"]
    reason: Annotated[str, StringConstraints(max_length=1000)] = ""
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class BounceResult(Wire):
    email_id: str | None
    contact_id: str
    subscription_status: str


# Campaigns ----------------------------------------------------------------------------


class CampaignCreate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    sender_id: Id
    template_id: Id
    list_id: Id | None = None
    contact_ids: Annotated[list[Id], Field(max_length=1000)] = []
    max_per_minute: PerMinute | None = None


class CampaignSend(Request):
    scheduled_at: datetime | None = None


class CampaignCounts(Wire):
    recipients: int
    skipped: int
    scheduled: int
    sent: int
    failed: int
    bounced: int
    opened: int
    clicked: int
    # Recipients who unsubscribed through the campaign's email.
    unsubscribed: int


class CampaignOut(Wire):
    id: str
    name: str
    sender_id: str
    template_id: str
    list_id: str | None
    status: CampaignStatus
    max_per_minute: int | None
    scheduled_at: str | None
    launched_at: str | None
    cancelled_at: str | None
    counts: CampaignCounts
    created_at: str
    updated_at: str


class CampaignEnvelope(Wire):
    campaign: CampaignOut


class CampaignList(Wire):
    campaigns: list[CampaignOut]
    next_cursor: str | None


class RecipientOut(Wire):
    id: str
    contact_id: str | None
    crm_contact_id: str | None
    status: RecipientStatus
    reason: str | None
    email_id: str | None
    source: str
    added_at: str


class RecipientList(Wire):
    recipients: list[RecipientOut]
    next_cursor: str | None


# The sandbox outbox ---------------------------------------------------------------------


class SandboxMessageOut(Wire):
    """A message a sandbox sender delivered; `mailFrom` and `rcptTo` are its envelope."""

    id: str
    email_id: str
    message_id: str
    mail_from: str
    rcpt_to: str
    subject: str
    size: int
    received_at: str


class SandboxMessageList(Wire):
    messages: list[SandboxMessageOut]
    next_cursor: str | None


class MessageHeader(Wire):
    name: str
    value: str


class SandboxMessageDetail(Wire):
    """The message as a mail client shows it: decoded headers, its text and HTML parts."""

    message: SandboxMessageOut
    headers: list[MessageHeader]
    text: str | None
    html: str | None
