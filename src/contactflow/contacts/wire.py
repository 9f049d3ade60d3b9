"""Rows to wire models: one place decides how each record looks on the wire."""

from collections.abc import Mapping
from typing import Any

from contactflow.contacts.models import Appointment, Business, Contact, Note, Task
from contactflow.contacts.record_schemas import (
    AppointmentOut,
    BusinessOut,
    NoteOut,
    TaskOut,
    UserOut,
    UserRoles,
)
from contactflow.contacts.schemas import ContactOut
from contactflow.platform.clock import to_iso
from contactflow.platform.tenancy import User

# The contacts table's columns that the wire shows (all but the search text and the wire
# JSON stored from them).
CONTACT_COLUMNS = tuple(
    column.name for column in Contact.__table__.c if column.name not in ("search_text", "wire")
)


def contact_wire(row: Mapping[str, Any], tags: list[str], followers: list[str]) -> dict[str, Any]:
    """A contact as the wire carries it, keyed and ordered as ContactOut, from the values of its
    CONTACT_COLUMNS: the one definition behind `contact_out` and the responses serialised
    straight from it (ADR 0012). Written out whole, as it runs for every contact listed."""
    return {
        "id": row["id"],
        "locationId": row["location_id"],
        "name": row["name"],
        "firstName": row["first_name"],
        "lastName": row["last_name"],
        "email": row["email"],
        "emailLowerCase": row["email_lower"],
        "phone": row["phone"],
        "companyName": row["company_name"],
        "timezone": row["timezone"],
        "dnd": row["dnd"],
        "dndSettings": row["dnd_settings"] or {},
        "type": row["type"],
        "source": row["source"],
        "assignedTo": row["assigned_to"],
        "address1": row["address1"],
        "city": row["city"],
        "state": row["state"],
        "country": row["country"],
        "postalCode": row["postal_code"],
        "website": row["website"],
        "tags": tags,
        "dateOfBirth": row["date_of_birth"],
        "dateAdded": to_iso(row["date_added"]),
        "dateUpdated": to_iso(row["date_updated"]),
        "lastActivity": to_iso(row["last_activity"]),
        "customFields": [
            {"id": field["id"], "value": field["value"]} for field in row["custom_fields"] or []
        ],
        "businessId": row["business_id"],
        "attributionSource": row["attribution_source"],
        "lastAttributionSource": row["last_attribution_source"],
        "followers": followers,
    }


def contact_dict(row: Contact) -> dict[str, Any]:
    """contact_wire of an ORM contact."""
    values = {name: getattr(row, name) for name in CONTACT_COLUMNS}
    return contact_wire(values, row.tags, row.followers)


def contact_out(row: Contact) -> ContactOut:
    return ContactOut.model_validate(contact_dict(row))


def task_out(row: Task) -> TaskOut:
    return TaskOut(
        id=row.id,
        contact_id=row.contact_id,
        title=row.title,
        body=row.body,
        assigned_to=row.assigned_to,
        due_date=to_iso(row.due_date),
        completed=row.completed,
        date_added=to_iso(row.date_added),
    )


def note_out(row: Note) -> NoteOut:
    return NoteOut(
        id=row.id,
        contact_id=row.contact_id,
        body=row.body,
        user_id=row.user_id,
        title=row.title,
        color=row.color,
        pinned=row.pinned,
        date_added=to_iso(row.date_added),
    )


def appointment_out(row: Appointment) -> AppointmentOut:
    return AppointmentOut(
        id=row.id,
        calendar_id=row.calendar_id,
        location_id=row.location_id,
        contact_id=row.contact_id,
        title=row.title,
        status=row.status,
        appointment_status=row.appointment_status,
        assigned_user_id=row.assigned_user_id,
        users=list(row.users or []),
        notes=row.notes,
        address=row.address,
        start_time=to_iso(row.start_time),
        end_time=to_iso(row.end_time),
        date_added=to_iso(row.date_added),
        date_updated=to_iso(row.date_updated),
    )


def business_out(row: Business) -> BusinessOut:
    return BusinessOut(
        id=row.id,
        location_id=row.location_id,
        name=row.name,
        phone=row.phone,
        email=row.email,
        website=row.website,
        address=row.address,
        city=row.city,
        state=row.state,
        postal_code=row.postal_code,
        country=row.country,
        description=row.description,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def user_out(row: User) -> UserOut:
    return UserOut(
        id=row.id,
        name=row.name,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        phone=row.phone,
        roles=UserRoles(type="account", role=row.role, location_ids=[row.location_id]),
    )
