"""The Contacts API's events: payloads as HighLevel's webhooks carry them, appended to the
event log inside the same unit of work as the change."""

from typing import Any

from contactflow.contacts.models import Appointment, Business, Contact, Note, Task
from contactflow.contacts.wire import appointment_out, business_out
from contactflow.platform import event_types as types
from contactflow.platform import events
from contactflow.platform.clock import to_iso
from contactflow.platform.db import UnitOfWork

Snapshot = dict[str, Any]


def contact_snapshot(contact: Contact) -> Snapshot:
    """The flat contact fields of Contact* events (and what `changes` compares)."""
    return {
        "locationId": contact.location_id,
        "id": contact.id,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "companyName": contact.company_name,
        "address1": contact.address1,
        "city": contact.city,
        "state": contact.state,
        "country": contact.country,
        "postalCode": contact.postal_code,
        "website": contact.website,
        "source": contact.source,
        "type": contact.type,
        "timezone": contact.timezone,
        "dateAdded": to_iso(contact.date_added),
        "dateOfBirth": contact.date_of_birth,
        "dnd": contact.dnd,
        "dndSettings": dict(contact.dnd_settings or {}),
        "tags": list(contact.tags),
        "assignedTo": contact.assigned_to,
        "businessId": contact.business_id,
        "followers": list(contact.followers),
        "customFields": [dict(field) for field in contact.custom_fields or []],
    }


def _payload(event_type: str, snapshot: Snapshot, **extra: Any) -> dict[str, Any]:
    # `type` names the event, as upstream's payloads do; the contact's own type goes under
    # `contactType` so it is not lost.
    body = {key: value for key, value in snapshot.items() if key not in ("dndSettings", "type")}
    body["contactType"] = snapshot["type"]
    return {"type": event_type, **body, **extra}


async def contact_created(uow: UnitOfWork, contact: Contact) -> None:
    snapshot = contact_snapshot(contact)
    await events.append(
        uow,
        contact.location_id,
        types.CONTACT_CREATE,
        _payload(types.CONTACT_CREATE, snapshot),
        subject_id=contact.id,
    )


async def contact_changed(uow: UnitOfWork, before: Snapshot, contact: Contact) -> bool:
    """ContactUpdate with `changes` when anything changed, plus ContactTagUpdate and
    ContactDndUpdate when tags or do-not-disturb settings did; False when nothing did."""
    after = contact_snapshot(contact)
    changes = {
        key: {"old": before[key], "new": value}
        for key, value in after.items()
        if before.get(key) != value
    }
    if not changes:
        return False
    location, subject = contact.location_id, contact.id
    await events.append(
        uow,
        location,
        types.CONTACT_UPDATE,
        _payload(types.CONTACT_UPDATE, after, changes=changes),
        subject_id=subject,
    )
    if "tags" in changes:
        old, new = set(before["tags"]), set(after["tags"])
        await events.append(
            uow,
            location,
            types.CONTACT_TAG_UPDATE,
            _payload(
                types.CONTACT_TAG_UPDATE,
                after,
                tagsAdded=[tag for tag in after["tags"] if tag not in old],
                tagsRemoved=[tag for tag in before["tags"] if tag not in new],
            ),
            subject_id=subject,
        )
    if "dnd" in changes or "dndSettings" in changes:
        await events.append(
            uow,
            location,
            types.CONTACT_DND_UPDATE,
            _payload(types.CONTACT_DND_UPDATE, after, dndSettings=after["dndSettings"]),
            subject_id=subject,
        )
    return True


async def contact_deleted(uow: UnitOfWork, snapshot: Snapshot) -> None:
    await events.append(
        uow,
        snapshot["locationId"],
        types.CONTACT_DELETE,
        _payload(types.CONTACT_DELETE, snapshot),
        subject_id=snapshot["id"],
    )


async def membership_changed(
    uow: UnitOfWork, event_type: str, contact: Contact, **fields: Any
) -> None:
    await events.append(
        uow,
        contact.location_id,
        event_type,
        {"type": event_type, "locationId": contact.location_id, "contactId": contact.id, **fields},
        subject_id=contact.id,
    )


def task_payload(event_type: str, task: Task) -> dict[str, Any]:
    return {
        "type": event_type,
        "locationId": task.location_id,
        "id": task.id,
        "contactId": task.contact_id,
        "title": task.title,
        "body": task.body,
        "assignedTo": task.assigned_to,
        "dueDate": to_iso(task.due_date),
        "completed": task.completed,
        "dateAdded": to_iso(task.date_added),
    }


async def task_event(uow: UnitOfWork, event_type: str, task: Task) -> None:
    await events.append(
        uow,
        task.location_id,
        event_type,
        task_payload(event_type, task),
        subject_id=task.contact_id,
    )


async def note_event(uow: UnitOfWork, event_type: str, note: Note) -> None:
    payload = {
        "type": event_type,
        "locationId": note.location_id,
        "id": note.id,
        "contactId": note.contact_id,
        "body": note.body,
        "dateAdded": to_iso(note.date_added),
    }
    await events.append(uow, note.location_id, event_type, payload, subject_id=note.contact_id)


async def appointment_event(
    uow: UnitOfWork, event_type: str, appointment: Appointment, **extra: Any
) -> None:
    body = appointment_out(appointment).model_dump(by_alias=True)
    payload = {
        "type": event_type,
        "locationId": appointment.location_id,
        "appointment": body,
        **extra,
    }
    await events.append(
        uow, appointment.location_id, event_type, payload, subject_id=appointment.contact_id
    )


async def business_event(uow: UnitOfWork, event_type: str, business: Business) -> None:
    body = business_out(business).model_dump(by_alias=True)
    payload = {"type": event_type, "locationId": business.location_id, "business": body}
    await events.append(uow, business.location_id, event_type, payload, subject_id=business.id)
