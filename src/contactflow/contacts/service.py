"""Use cases on one contact: create, read, update, upsert, delete, and its tag set.

Every function takes the unit of work (writes) or a session (reads) and the caller's
location; every look-up is scoped to that location, so another tenant's ids are not found.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts import (
    events,
    stored_wire,  # noqa: F401 - its flush hooks store each contact's wire JSON (ADR 0025)
)
from contactflow.contacts.models import Appointment, Business, Contact, ContactTag, Note, Task
from contactflow.contacts.normalize import (
    birthday,
    full_name,
    normalize_email,
    normalize_phone,
    normalize_tags,
    search_text,
    split_name,
)
from contactflow.contacts.schemas import (
    ContactCreate,
    ContactFields,
    ContactUpdate,
    ContactUpsert,
)
from contactflow.platform import event_types
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import BadRequest, NotFound, invalid
from contactflow.platform.tenancy import Location, missing_users

CONTACT_NOT_FOUND = "Contact not found"
DUPLICATE_NOT_ALLOWED = "This location does not allow duplicated contacts."


async def find_contact(session: AsyncSession, location_id: str, contact_id: str) -> Contact:
    contact = await session.scalar(
        select(Contact).where(Contact.id == contact_id, Contact.location_id == location_id)
    )
    if contact is None:
        raise NotFound(CONTACT_NOT_FOUND)
    return contact


async def _location(session: AsyncSession, location_id: str) -> Location:
    location = await session.get(Location, location_id)
    if location is None:
        raise NotFound("Location not found")
    return location


async def _by_field(
    session: AsyncSession, location_id: str, field: str, value: str, exclude: str | None = None
) -> Contact | None:
    bound = {"location_id": location_id, "value": value, "exclude": exclude}
    contact: Contact | None = await session.scalar(
        _first_with(field, exclude is not None, whole=True), bound
    )
    return contact


@cache
def _first_with(field: str, excluding: bool, whole: bool) -> Select[Any]:
    """The first contact of `:location_id` (by date added) whose `field` is `:value`, other
    than `:exclude`: the whole contact, or (a duplicate check) its id and name. Built once,
    on the table, as every create, upsert and update of an email or phone asks it."""
    table = Contact.__table__.c
    column = table.email_lower if field == "email" else table.phone
    query: Select[Any] = select(Contact) if whole else select(table.id, table.name)
    query = query.where(table.location_id == bindparam("location_id"), column == bindparam("value"))
    if excluding:
        query = query.where(table.id != bindparam("exclude"))
    return query.order_by(table.date_added, table.id).limit(1)


@dataclass(frozen=True)
class Identity:
    """The normalised email and phone of an incoming write, for matching and duplicates."""

    email: str | None
    phone: str | None

    def value(self, field: str) -> str | None:
        return self.email if field == "email" else self.phone


def _identity(fields: ContactFields, region: str) -> Identity:
    email = normalize_email(fields.email).lower() if fields.email else None
    phone = normalize_phone(fields.phone, region) if fields.phone else None
    return Identity(email=email, phone=phone)


async def _refuse_duplicates(
    session: AsyncSession, location: Location, identity: Identity, exclude: str | None = None
) -> None:
    if location.allow_duplicate_contact:
        return
    for field in ("email", "phone"):
        value = identity.value(field)
        if value is None:
            continue
        bound = {"location_id": location.id, "value": value, "exclude": exclude}
        query = _first_with(field, exclude is not None, whole=False)
        existing = (await session.execute(query, bound)).first()
        if existing is not None:
            raise BadRequest(
                DUPLICATE_NOT_ALLOWED,
                meta={
                    "contactName": existing.name,
                    "contactId": existing.id,
                    "matchingField": field,
                },
            )


async def _check_references(session: AsyncSession, location_id: str, fields: ContactFields) -> None:
    if fields.assigned_to and await missing_users(session, location_id, [fields.assigned_to]):
        raise invalid("assignedTo", f"user {fields.assigned_to} not found in this location")
    business_id = getattr(fields, "business_id", None)
    if business_id and not await session.scalar(
        select(Business.id).where(Business.id == business_id, Business.location_id == location_id)
    ):
        raise invalid("businessId", f"business {business_id} not found in this location")


def set_tags(contact: Contact, tags: list[str]) -> None:
    kept = {link.tag: link for link in contact.tag_links}
    contact.tag_links = [
        kept.get(tag) or ContactTag(tag=tag, position=position)
        for position, tag in enumerate(normalize_tags(tags))
    ]
    for position, link in enumerate(contact.tag_links):
        link.position = position


def _merge_custom_fields(contact: Contact, fields: ContactFields) -> None:
    assert fields.custom_fields is not None
    merged = {field["id"]: field["value"] for field in contact.custom_fields or []}
    for position, field in enumerate(fields.custom_fields):
        address = field.address
        if address is None:
            raise invalid(f"customFields.{position}", "needs an id or a key")
        merged[address] = field.resolved_value
    contact.custom_fields = [{"id": key, "value": value} for key, value in merged.items()]


def _merge_dnd(contact: Contact, fields: ContactFields) -> None:
    assert fields.dnd_settings is not None
    settings = dict(contact.dnd_settings or {})
    settings.update(fields.dnd_settings.model_dump(by_alias=True, exclude_none=True))
    contact.dnd_settings = settings


_PLAIN_FIELDS = (
    "first_name",
    "last_name",
    "gender",
    "address1",
    "city",
    "state",
    "postal_code",
    "website",
    "timezone",
    "dnd",
    "source",
    "country",
    "company_name",
    "assigned_to",
    "type",
    "business_id",
)


def _apply(
    contact: Contact, fields: ContactFields, identity: Identity, *, keep: frozenset[str]
) -> None:
    """Copy the fields the request set onto the row; `keep` names fields left alone."""
    given = fields.model_fields_set - keep
    for name in _PLAIN_FIELDS:
        if name in given:
            setattr(contact, name, getattr(fields, name))
    if "email" in given:
        contact.email = normalize_email(fields.email) if fields.email else None
        contact.email_lower = identity.email
    if "phone" in given:
        contact.phone = identity.phone
    if "name" in given and fields.name and not {"first_name", "last_name"} & given:
        contact.first_name, contact.last_name = split_name(fields.name)
    contact.name = (
        fields.name
        if "name" in given and fields.name
        else full_name(contact.first_name, contact.last_name)
    )
    if "date_of_birth" in given:
        dob = fields.date_of_birth
        contact.date_of_birth = birthday(dob) if dob is not None else None
    if "tags" in given:
        set_tags(contact, fields.tags or [])
    if fields.custom_fields is not None:
        _merge_custom_fields(contact, fields)
    if fields.dnd_settings is not None:
        _merge_dnd(contact, fields)
    if fields.attribution_source is not None:
        source = fields.attribution_source.model_dump(by_alias=True, exclude_none=True)
        if contact.attribution_source is None:
            contact.attribution_source = source
        contact.last_attribution_source = source
    refresh_search_text(contact)


def refresh_search_text(contact: Contact) -> None:
    contact.search_text = search_text(
        contact.name, contact.email, contact.phone, contact.company_name, tags=contact.tags
    )


async def create_contact(
    uow: UnitOfWork, location_id: str, fields: ContactCreate | ContactUpsert, region: str
) -> Contact:
    session = uow.session
    location = await _location(session, location_id)
    identity = _identity(fields, region)
    await _check_references(session, location_id, fields)
    await uow.lock(f"contacts:{location_id}")
    await _refuse_duplicates(session, location, identity)
    return await _insert(uow, location_id, fields, identity)


async def _insert(
    uow: UnitOfWork, location_id: str, fields: ContactFields, identity: Identity
) -> Contact:
    now = utcnow()
    contact = Contact(
        location_id=location_id,
        date_added=now,
        date_updated=now,
        dnd=False,
        type="lead",
        custom_fields=[],
        dnd_settings={},
        tag_links=[],
        follower_links=[],
    )
    _apply(contact, fields, identity, keep=frozenset({"location_id"}))
    uow.session.add(contact)
    await uow.session.flush()
    await events.contact_created(uow, contact)
    return contact


async def update_contact(
    uow: UnitOfWork, location_id: str, contact_id: str, fields: ContactUpdate, region: str
) -> Contact:
    session = uow.session
    contact = await find_contact(session, location_id, contact_id)
    identity = _identity(fields, region)
    await _check_references(session, location_id, fields)
    if identity.email or identity.phone:
        await uow.lock(f"contacts:{location_id}")
        await _refuse_duplicates(
            session, await _location(session, location_id), identity, contact.id
        )
    before = events.contact_snapshot(contact)
    _apply(contact, fields, identity, keep=frozenset())
    return await touched(uow, contact, before)


async def upsert_contact(
    uow: UnitOfWork, location_id: str, fields: ContactUpsert, region: str
) -> tuple[Contact, bool]:
    """Update the contact matched by the location's priority (email, then phone), or create.

    When email matches one contact and phone another, the first-priority match is updated
    and the field that belongs to the other contact is left alone.
    """
    session = uow.session
    location = await _location(session, location_id)
    identity = _identity(fields, region)
    await _check_references(session, location_id, fields)
    await uow.lock(f"contacts:{location_id}")
    if location.allow_duplicate_contact and fields.create_new_if_duplicate_allowed:
        return await _insert(uow, location_id, fields, identity), True
    matched: Contact | None = None
    for field in location.upsert_priority:
        value = identity.value(field)
        if value is not None:
            matched = await _by_field(session, location_id, field, value)
            if matched is not None:
                break
    if matched is None:
        return await _insert(uow, location_id, fields, identity), True
    keep = {"location_id", "create_new_if_duplicate_allowed"}
    for field, attribute in (("email", "email"), ("phone", "phone")):
        value = identity.value(field)
        if value is not None and not location.allow_duplicate_contact:
            owner = await _by_field(session, location_id, field, value, exclude=matched.id)
            if owner is not None:
                keep.add(attribute)
    before = events.contact_snapshot(matched)
    _apply(matched, fields, identity, keep=frozenset(keep))
    return await touched(uow, matched, before), False


async def delete_contact(uow: UnitOfWork, location_id: str, contact_id: str) -> Contact:
    """Delete the contact with its tasks, notes and appointments, each with its event."""
    session = uow.session
    contact = await find_contact(session, location_id, contact_id)
    snapshot = events.contact_snapshot(contact)
    for task in await session.scalars(select(Task).where(Task.contact_id == contact.id)):
        await events.task_event(uow, event_types.TASK_DELETE, task)
    for note in await session.scalars(select(Note).where(Note.contact_id == contact.id)):
        await events.note_event(uow, event_types.NOTE_DELETE, note)
    appointments = await session.scalars(
        select(Appointment).where(Appointment.contact_id == contact.id)
    )
    for appointment in appointments:
        await events.appointment_event(uow, event_types.APPOINTMENT_DELETE, appointment)
    await session.delete(contact)
    await session.flush()
    await events.contact_deleted(uow, snapshot)
    return contact


async def find_duplicate(
    session: AsyncSession, location_id: str, email: str | None, number: str | None, region: str
) -> Contact | None:
    if email:
        found = await _by_field(session, location_id, "email", normalize_email(email).lower())
        if found is not None:
            return found
    if number:
        return await _by_field(
            session, location_id, "phone", normalize_phone(number, region, "number")
        )
    return None


async def touched(uow: UnitOfWork, contact: Contact, before: events.Snapshot) -> Contact:
    """Save the contact and emit what changed since `before`; a contact left as it was keeps
    its dateUpdated and emits nothing."""
    refresh_search_text(contact)
    if await events.contact_changed(uow, before, contact):
        contact.date_updated = utcnow()
    await uow.session.flush()
    return contact
