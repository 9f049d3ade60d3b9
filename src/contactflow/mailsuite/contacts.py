"""The workspace and its contacts: one contact per email address, with names, phone, custom
fields, a subscription status and where it came from."""

from collections.abc import Mapping
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import events as mail_events
from contactflow.mailsuite.models import SUBSCRIBED, ContactStatus, MailContact, Workspace
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.schemas import ContactCreate, ContactFields, ContactUpdate
from contactflow.mailsuite.timeline import add_entry
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork, new_row
from contactflow.platform.errors import Conflict, NotFound, invalid
from contactflow.platform.event_types import MAILSUITE_CONTACT_DELETE, MAILSUITE_CONTACT_UPSERT
from contactflow.platform.ids import new_id

CONTACT_NOT_FOUND = "Mailsuite contact not found"
_LABELS = {
    "email": "email",
    "firstName": "first name",
    "lastName": "last name",
    "phone": "phone",
    "customFields": "custom fields",
    "subscriptionStatus": "subscription",
    "source": "source",
}


async def workspace_of(session: AsyncSession, location_id: str) -> Workspace | None:
    return await session.get(Workspace, location_id)


async def ensure_workspace(uow: UnitOfWork, location_id: str) -> Workspace:
    """The location's workspace, made by its first Mailsuite write. Concurrent first writes
    of one location queue on a lock, so one makes it and the others find it made."""
    workspace = await uow.session.get(Workspace, location_id)
    if workspace is None:
        await uow.lock(f"mailsuite-workspace:{location_id}")
        workspace = await uow.session.get(Workspace, location_id)
    if workspace is None:
        workspace = Workspace(location_id=location_id, name="", custom_field_keys=[])
        uow.session.add(workspace)
    return workspace


async def rename_workspace(uow: UnitOfWork, location_id: str, name: str) -> Workspace:
    workspace = await ensure_workspace(uow, location_id)
    workspace.name = name
    workspace.updated_at = utcnow()
    return workspace


def normalize_email(value: str, field: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise invalid(field, f"not a valid email address ({error})") from error


def _normalize_phone(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise invalid("phone", f"not a valid phone number ({error})") from error
    if not phonenumbers.is_possible_number(number):
        raise invalid("phone", "not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def find_contact(session: AsyncSession, location_id: str, contact_id: str) -> MailContact:
    contact = await session.get(MailContact, contact_id)
    if contact is None or contact.location_id != location_id:
        raise NotFound(CONTACT_NOT_FOUND)
    return contact


async def find_by_email(session: AsyncSession, location_id: str, email: str) -> MailContact | None:
    return await session.scalar(
        select(MailContact).where(
            MailContact.location_id == location_id, MailContact.email_lower == email.lower()
        )
    )


async def find_by_phone(session: AsyncSession, location_id: str, phone: str) -> MailContact | None:
    """The oldest contact with this phone (E.164, as contacts store it)."""
    return await session.scalar(
        select(MailContact)
        .where(MailContact.location_id == location_id, MailContact.phone == phone)
        .order_by(MailContact.created_at, MailContact.id)
        .limit(1)
    )


async def find_by_crm_id(
    session: AsyncSession, location_id: str, crm_contact_id: str
) -> MailContact | None:
    """The contact linked to a Contacts API contact (the oldest, if several are)."""
    return await session.scalar(
        select(MailContact)
        .where(
            MailContact.location_id == location_id,
            MailContact.crm_contact_id == crm_contact_id,
        )
        .order_by(MailContact.created_at, MailContact.id)
        .limit(1)
    )


async def _claim_address(uow: UnitOfWork, location_id: str, email: str) -> MailContact | None:
    """Serialise writers of one address (PostgreSQL), then find its contact."""
    await uow.lock(f"mailsuite-contact:{location_id}:{email.lower()}")
    return await find_by_email(uow.session, location_id, email)


def _apply(contact: MailContact, fields: ContactFields, region: str) -> None:
    given = fields.model_fields_set
    if "first_name" in given:
        contact.first_name = fields.first_name or None
    if "last_name" in given:
        contact.last_name = fields.last_name or None
    if "phone" in given:
        contact.phone = _normalize_phone(fields.phone, region) if fields.phone else None
    if fields.custom_fields is not None:
        merged = {**(contact.custom_fields or {}), **fields.custom_fields}
        contact.custom_fields = {key: value for key, value in merged.items() if value is not None}
    if fields.source is not None:
        contact.source = fields.source


def set_status(contact: MailContact, status: ContactStatus, reason: str | None) -> bool:
    """Change the subscription status; False when it already was that."""
    if contact.status == status:
        return False
    contact.status = status
    contact.status_reason = reason
    contact.status_changed_at = utcnow()
    contact.updated_at = contact.status_changed_at
    return True


async def _remember_keys(uow: UnitOfWork, location_id: str, contacts: list[MailContact]) -> None:
    """Add the contacts' custom field keys the workspace does not know yet to its list."""
    workspace = await ensure_workspace(uow, location_id)
    keys = list(workspace.custom_field_keys)
    for contact in contacts:
        keys += [key for key in contact.custom_fields or {} if key not in keys]
    if len(keys) > len(workspace.custom_field_keys):
        workspace.custom_field_keys = keys


async def _changed(uow: UnitOfWork, contact: MailContact, before: dict[str, Any] | None) -> None:
    """Remember new custom field keys, then append MailsuiteContactUpsert (and a timeline
    entry when an existing contact changed)."""
    await _remember_keys(uow, contact.location_id, [contact])
    await uow.session.flush()
    await _told(uow, contact, before)


async def _told(uow: UnitOfWork, contact: MailContact, before: dict[str, Any] | None) -> None:
    """MailsuiteContactUpsert of the flushed `contact` (and its timeline entry when an
    existing contact changed)."""
    after = mail_events.contact_snapshot(contact)
    changes = {
        key: {"old": (before or {}).get(key), "new": value}
        for key, value in after.items()
        if before is not None and before.get(key) != value and key in _LABELS
    }
    if before is not None and not changes:
        return
    await mail_events.contact_upserted(
        uow, contact, MAILSUITE_CONTACT_UPSERT, new=before is None, changes=changes
    )
    if changes:
        labels = ", ".join(_LABELS[key] for key in changes)
        await add_entry(
            uow, contact.location_id, contact.id, "contact_updated", f"Changed {labels}"
        )


async def create_contact(
    uow: UnitOfWork, location_id: str, body: ContactCreate, region: str
) -> MailContact:
    email = normalize_email(body.email, "email")
    if await _claim_address(uow, location_id, email) is not None:
        raise Conflict(f"email: a contact with {email} already exists in this workspace")
    return await _insert(uow, location_id, email, body, region)


async def _insert(
    uow: UnitOfWork,
    location_id: str,
    email: str,
    body: ContactCreate,
    region: str,
    crm_contact_id: str | None = None,
) -> MailContact:
    contact = new_contact(location_id, email, body, region, crm_contact_id)
    uow.session.add(contact)
    await _changed(uow, contact, None)
    return contact


def new_contact(
    location_id: str,
    email: str,
    body: ContactCreate,
    region: str,
    crm_contact_id: str | None = None,
) -> MailContact:
    """A contact not written yet, its fields checked and normalised (`email` already is):
    a bad phone raises here, before anything is written."""
    now = utcnow()
    contact = new_row(
        MailContact,
        id=new_id(),
        location_id=location_id,
        email=email,
        email_lower=email.lower(),
        custom_fields={},
        status=body.subscription_status,
        source=body.source or "api",
        crm_contact_id=crm_contact_id,
        created_at=now,
        updated_at=now,
    )
    _apply(contact, body, region)
    return contact


async def insert_contacts(uow: UnitOfWork, location_id: str, contacts: list[MailContact]) -> None:
    """Contacts made by `new_contact`, whose addresses no contact had when the caller looked,
    written together: one statement of locks, Core inserts, an event each. An address taken
    since fails the insert (IntegrityError), for all of them."""
    await uow.lock_many(f"mailsuite-contact:{location_id}:{c.email_lower}" for c in contacts)
    await _remember_keys(uow, location_id, contacts)
    await uow.insert_new(contacts)
    for contact in contacts:
        await mail_events.contact_upserted(
            uow, contact, MAILSUITE_CONTACT_UPSERT, new=True, changes={}
        )


async def upsert_contact(
    uow: UnitOfWork,
    location_id: str,
    body: ContactCreate,
    region: str,
    crm_contact_id: str | None = None,
) -> tuple[MailContact, bool]:
    """Find the contact by email and update it, or create it; True when created. A contact
    not yet linked to a Contacts API contact is linked to `crm_contact_id` when given."""
    email = normalize_email(body.email, "email")
    contact = await _claim_address(uow, location_id, email)
    if contact is None:
        return await _insert(uow, location_id, email, body, region, crm_contact_id), True
    update = ContactUpdate.model_validate(body.model_dump(exclude_unset=True, exclude={"email"}))
    return await _update(uow, contact, update, region, crm_contact_id), False


async def update_contact(
    uow: UnitOfWork, location_id: str, contact_id: str, body: ContactUpdate, region: str
) -> MailContact:
    contact = await find_contact(uow.session, location_id, contact_id)
    return await _update(uow, contact, body, region)


async def update_contacts(
    uow: UnitOfWork, location_id: str, changes: Mapping[str, ContactUpdate], region: str
) -> list[MailContact]:
    """`update_contact` of each contact id of `changes` with its body, read in one query and
    written with one flush, an event each."""
    rows = await uow.session.scalars(
        select(MailContact).where(
            MailContact.location_id == location_id, MailContact.id.in_(list(changes))
        )
    )
    found = {contact.id: contact for contact in rows}
    updated: list[tuple[MailContact, dict[str, Any]]] = []
    for contact_id, body in changes.items():
        if contact_id not in found:
            raise NotFound(CONTACT_NOT_FOUND)
        updated.append((found[contact_id], await _applied(uow, found[contact_id], body, region)))
    await _remember_keys(uow, location_id, list(found.values()))
    await uow.session.flush()
    for contact, before in updated:
        await _told(uow, contact, before)
    return [contact for contact, _ in updated]


async def _update(
    uow: UnitOfWork,
    contact: MailContact,
    body: ContactUpdate,
    region: str,
    crm_contact_id: str | None = None,
) -> MailContact:
    await _changed(uow, contact, await _applied(uow, contact, body, region, crm_contact_id))
    return contact


async def _applied(
    uow: UnitOfWork,
    contact: MailContact,
    body: ContactUpdate,
    region: str,
    crm_contact_id: str | None = None,
) -> dict[str, Any]:
    """`body` applied to `contact`, not yet flushed; its snapshot from before."""
    before = mail_events.contact_snapshot(contact)
    if contact.crm_contact_id is None:
        contact.crm_contact_id = crm_contact_id
    if body.email is not None:
        email = normalize_email(body.email, "email")
        if email.lower() != contact.email_lower:
            other = await _claim_address(uow, contact.location_id, email)
            if other is not None:
                raise Conflict(f"email: a contact with {email} already exists in this workspace")
            contact.email, contact.email_lower = email, email.lower()
    _apply(contact, body, region)
    if body.subscription_status is not None:
        set_status(contact, body.subscription_status, "changed through the API")
    # Writing back what it holds is not a change: its time of change stays.
    if mail_events.contact_snapshot(contact) != before:
        contact.updated_at = utcnow()
    return before


async def delete_contact(uow: UnitOfWork, location_id: str, contact_id: str) -> MailContact:
    """Delete the contact with its emails, timeline and memberships (its tasks stay, about
    no contact)."""
    contact = await find_contact(uow.session, location_id, contact_id)
    await mail_events.contact_deleted(uow, contact, MAILSUITE_CONTACT_DELETE)
    await uow.session.delete(contact)
    await uow.session.flush()
    return contact


async def contact_for_address(
    uow: UnitOfWork,
    location_id: str,
    body: ContactCreate,
    region: str,
    crm_contact_id: str | None = None,
) -> MailContact:
    """The contact of `body.email` as it is, or added from `body` when there is none; linked
    to the Contacts API contact it came from, when it did and is not linked yet."""
    email = normalize_email(body.email, "email")
    contact = await _claim_address(uow, location_id, email)
    if contact is None:
        return await _insert(uow, location_id, email, body, region, crm_contact_id)
    if contact.crm_contact_id is None:
        contact.crm_contact_id = crm_contact_id
    return contact


async def list_contacts(
    session: AsyncSession,
    location_id: str,
    *,
    status: ContactStatus | None,
    before: Position | None,
    limit: int,
) -> Page[MailContact]:
    query = select(MailContact).where(MailContact.location_id == location_id)
    if status is not None:
        query = query.where(MailContact.status == status)
    return await newest_first(
        session, query, MailContact.created_at, MailContact.id, before=before, limit=limit
    )


def merge_fields(contact: MailContact) -> dict[str, Any]:
    """What a template can say about a contact."""
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "source": contact.source,
        "custom_fields": contact.custom_fields or {},
    }


def unsendable_reason(contact: MailContact) -> str | None:
    """Why the contact must not be mailed, or None."""
    if contact.status == SUBSCRIBED:
        return None
    when = contact.status_changed_at.date().isoformat() if contact.status_changed_at else ""
    return f"the contact is {contact.status}{' since ' + when if when else ''}" + (
        f" ({contact.status_reason})" if contact.status_reason else ""
    )
