"""Rows -> wire models: one place that decides how Mailsuite records look outside."""

from typing import Any

from contactflow.mailsuite.mail_schemas import (
    ActivityOut,
    CampaignCounts,
    CampaignOut,
    EmailOut,
    MessageHeader,
    RecipientOut,
    SandboxMessageDetail,
    SandboxMessageOut,
    SenderOut,
    TemplateOut,
)
from contactflow.mailsuite.models import (
    Activity,
    Campaign,
    Email,
    MailContact,
    MailList,
    Recipient,
    SandboxMessage,
    Sender,
    Task,
    Template,
    TimelineEntry,
    Workspace,
)
from contactflow.mailsuite.sandbox import read_message
from contactflow.mailsuite.schemas import ContactOut, ListOut, TaskOut, TimelineOut, WorkspaceOut
from contactflow.platform.clock import to_iso


def workspace_out(location_id: str, row: Workspace | None) -> WorkspaceOut:
    return WorkspaceOut(
        location_id=location_id,
        name=row.name if row else "",
        custom_field_keys=list(row.custom_field_keys) if row else [],
        created_at=to_iso(row.created_at) if row else None,
    )


def contact_data(row: MailContact) -> dict[str, Any]:
    """A contact's wire form as data, by its wire names: what `contact_out` validates, and
    what an event carries (without a model made and dumped for each)."""
    return {
        "id": row.id,
        "locationId": row.location_id,
        "email": row.email,
        "firstName": row.first_name,
        "lastName": row.last_name,
        "name": row.name,
        "phone": row.phone,
        "customFields": dict(row.custom_fields or {}),
        "subscriptionStatus": row.status,
        "statusReason": row.status_reason,
        "statusChangedAt": to_iso(row.status_changed_at),
        "source": row.source,
        "crmContactId": row.crm_contact_id,
        "createdAt": to_iso(row.created_at),
        "updatedAt": to_iso(row.updated_at),
    }


def contact_out(row: MailContact) -> ContactOut:
    return ContactOut.model_validate(contact_data(row))


def list_out(row: MailList, member_count: int) -> ListOut:
    return ListOut(
        id=row.id,
        name=row.name,
        description=row.description,
        member_count=member_count,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def template_out(row: Template, placeholders: list[str]) -> TemplateOut:
    return TemplateOut(
        id=row.id,
        name=row.name,
        subject=row.subject,
        html=row.html,
        text=row.text,
        placeholders=placeholders,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def sender_out(row: Sender) -> SenderOut:
    return SenderOut(
        id=row.id,
        name=row.name,
        from_email=row.from_email,
        from_name=row.from_name,
        reply_to=row.reply_to,
        delivery=row.delivery,
        smtp_host=row.smtp_host,
        smtp_port=row.smtp_port,
        smtp_security=row.smtp_security,
        smtp_username=row.smtp_username,
        has_password=bool(row.smtp_password),
        max_per_minute=row.max_per_minute,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def email_out(row: Email) -> EmailOut:
    waiting = row.status in ("scheduled", "sending")
    return EmailOut(
        id=row.id,
        sender_id=row.sender_id,
        contact_id=row.contact_id,
        campaign_id=row.campaign_id,
        template_id=row.template_id,
        to=row.to_email,
        subject=row.subject,
        status=row.status,
        message_id=row.message_id,
        scheduled_at=to_iso(row.scheduled_at),
        next_attempt_at=to_iso(row.next_attempt_at) if waiting else None,
        attempts=row.attempts,
        last_response=row.last_response,
        error=row.error,
        sent_at=to_iso(row.sent_at),
        bounce_kind=row.bounce_kind,
        bounce_reason=row.bounce_reason,
        bounced_at=to_iso(row.bounced_at),
        first_opened_at=to_iso(row.first_opened_at),
        first_clicked_at=to_iso(row.first_clicked_at),
        opens=row.open_count,
        machine_opens=row.machine_open_count,
        clicks=row.click_count,
        machine_clicks=row.machine_click_count,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def activity_out(row: Activity) -> ActivityOut:
    return ActivityOut(
        id=row.id,
        kind=row.kind,
        url=row.url,
        user_agent=row.user_agent,
        ip=row.ip,
        machine=row.machine,
        machine_reason=row.machine_reason,
        occurred_at=to_iso(row.occurred_at),
    )


def recipient_out(row: Recipient) -> RecipientOut:
    return RecipientOut(
        id=row.id,
        contact_id=row.contact_id,
        crm_contact_id=row.crm_contact_id,
        status=row.status,
        reason=row.reason,
        email_id=row.email_id,
        source=row.source,
        added_at=to_iso(row.added_at),
    )


def task_data(row: Task) -> dict[str, Any]:
    """A task's wire form as data (see `contact_data`)."""
    return {
        "id": row.id,
        "title": row.title,
        "notes": row.notes,
        "dueAt": to_iso(row.due_at),
        "status": row.status,
        "assigneeId": row.assignee_id,
        "contactId": row.contact_id,
        "completedAt": to_iso(row.completed_at),
        "sourceSystem": row.source_system,
        "sourceId": row.source_id,
        "createdAt": to_iso(row.created_at),
        "updatedAt": to_iso(row.updated_at),
    }


def task_out(row: Task) -> TaskOut:
    return TaskOut.model_validate(task_data(row))


def timeline_data(row: TimelineEntry) -> dict[str, Any]:
    """A timeline entry's wire form as data (see `contact_data`)."""
    return {
        "id": row.id,
        "contactId": row.contact_id,
        "kind": row.kind,
        "body": row.body,
        "sourceSystem": row.source_system,
        "sourceId": row.source_id,
        "emailId": row.email_id,
        "taskId": row.task_id,
        "occurredAt": to_iso(row.occurred_at),
        "createdAt": to_iso(row.created_at),
    }


def timeline_out(row: TimelineEntry) -> TimelineOut:
    return TimelineOut.model_validate(timeline_data(row))


def campaign_out(row: Campaign, counts: CampaignCounts) -> CampaignOut:
    return CampaignOut(
        id=row.id,
        name=row.name,
        sender_id=row.sender_id,
        template_id=row.template_id,
        list_id=row.list_id,
        status=row.status,
        max_per_minute=row.max_per_minute,
        scheduled_at=to_iso(row.scheduled_at),
        launched_at=to_iso(row.launched_at),
        cancelled_at=to_iso(row.cancelled_at),
        counts=counts,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def sandbox_message_out(row: SandboxMessage) -> SandboxMessageOut:
    return SandboxMessageOut(
        id=row.id,
        email_id=row.email_id,
        message_id=row.message_id,
        mail_from=row.mail_from,
        rcpt_to=row.rcpt_to,
        subject=row.subject,
        size=len(row.raw),
        received_at=to_iso(row.received_at),
    )


def sandbox_message_detail(row: SandboxMessage) -> SandboxMessageDetail:
    read = read_message(row.raw)
    return SandboxMessageDetail(
        message=sandbox_message_out(row),
        headers=[MessageHeader(name=name, value=value) for name, value in read.headers],
        text=read.text,
        html=read.html,
    )
