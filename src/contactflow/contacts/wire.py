"""Rows to wire models: one place decides how each record looks on the wire."""

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

# (attribute, wire name) of each ContactOut field, in the order the wire carries them.
_CONTACT_FIELDS = tuple(
    (name, field.alias or name) for name, field in ContactOut.model_fields.items()
)


def contact_wire(row: Any, tags: list[str], followers: list[str]) -> dict[str, Any]:
    """A contact as the wire carries it: ContactOut's camelCase keys in its order, from an ORM
    row or a Core row of the contacts table. The one definition behind `contact_out` and the
    responses that are serialised straight from it (ADR 0012)."""
    values = {
        "id": row.id,
        "location_id": row.location_id,
        "name": row.name,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": row.email,
        "email_lower_case": row.email_lower,
        "phone": row.phone,
        "company_name": row.company_name,
        "timezone": row.timezone,
        "dnd": row.dnd,
        "dnd_settings": row.dnd_settings or {},
        "type": row.type,
        "source": row.source,
        "assigned_to": row.assigned_to,
        "address1": row.address1,
        "city": row.city,
        "state": row.state,
        "country": row.country,
        "postal_code": row.postal_code,
        "website": row.website,
        "tags": tags,
        "date_of_birth": row.date_of_birth,
        "date_added": to_iso(row.date_added),
        "date_updated": to_iso(row.date_updated),
        "last_activity": to_iso(row.last_activity),
        "custom_fields": [
            {"id": field["id"], "value": field["value"]} for field in row.custom_fields or []
        ],
        "business_id": row.business_id,
        "attribution_source": row.attribution_source,
        "last_attribution_source": row.last_attribution_source,
        "followers": followers,
    }
    return {alias: values[name] for name, alias in _CONTACT_FIELDS}


def contact_out(row: Contact) -> ContactOut:
    return ContactOut.model_validate(contact_wire(row, row.tags, row.followers))


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
