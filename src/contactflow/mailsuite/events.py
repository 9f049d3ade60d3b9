"""Mailsuite's events: appended to the event log in the writer's unit of work. Payloads are
the records' wire form plus `type` and `locationId`, as the Contacts API's are."""

from typing import Any

from contactflow.mailsuite.models import Email, MailContact, Task, TimelineEntry
from contactflow.mailsuite.wire import contact_data, task_data, timeline_data
from contactflow.platform import events
from contactflow.platform.clock import to_iso
from contactflow.platform.db import UnitOfWork

Changes = dict[str, dict[str, Any]]


def contact_snapshot(contact: MailContact) -> dict[str, Any]:
    return contact_data(contact)


async def contact_upserted(
    uow: UnitOfWork, contact: MailContact, event_type: str, *, new: bool, changes: Changes
) -> None:
    payload = {
        "type": event_type,
        "locationId": contact.location_id,
        "contact": contact_snapshot(contact),
        "new": new,
        "changes": changes,
    }
    await events.append(uow, contact.location_id, event_type, payload, subject_id=contact.id)


async def contact_deleted(uow: UnitOfWork, contact: MailContact, event_type: str) -> None:
    payload = {
        "type": event_type,
        "locationId": contact.location_id,
        "contact": contact_snapshot(contact),
    }
    await events.append(uow, contact.location_id, event_type, payload, subject_id=contact.id)


async def email_event(uow: UnitOfWork, event_type: str, email: Email, **extra: Any) -> None:
    payload = {
        "type": event_type,
        "locationId": email.location_id,
        "emailId": email.id,
        "contactId": email.contact_id,
        "campaignId": email.campaign_id,
        "messageId": email.message_id,
        "to": email.to_email,
        "subject": email.subject,
        "sentAt": to_iso(email.sent_at),
        **extra,
    }
    await events.append(uow, email.location_id, event_type, payload, subject_id=email.contact_id)


async def address_event(
    uow: UnitOfWork, event_type: str, contact: MailContact, **extra: Any
) -> None:
    """An email event about a contact when no particular email is known."""
    payload = {
        "type": event_type,
        "locationId": contact.location_id,
        "emailId": None,
        "contactId": contact.id,
        "to": contact.email,
        **extra,
    }
    await events.append(uow, contact.location_id, event_type, payload, subject_id=contact.id)


async def task_event(uow: UnitOfWork, event_type: str, task: Task, **extra: Any) -> None:
    payload = {
        "type": event_type,
        "locationId": task.location_id,
        "task": task_data(task),
        **extra,
    }
    await events.append(
        uow, task.location_id, event_type, payload, subject_id=task.contact_id or task.id
    )


async def timeline_event(uow: UnitOfWork, event_type: str, entry: TimelineEntry) -> None:
    payload = {
        "type": event_type,
        "locationId": entry.location_id,
        "entry": timeline_data(entry),
    }
    await events.append(uow, entry.location_id, event_type, payload, subject_id=entry.contact_id)
