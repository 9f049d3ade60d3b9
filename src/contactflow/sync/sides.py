"""The two sides a sync keeps in step, each behind the same small interface: find a record,
match one by email then phone, create, update. Values travel in each side's own field names
(sync/fields.py). This workspace's Contacts API is one CRM side; a remote account reached
through a connection is another (sync/remote.py), staged inside transactions (sync/staged.py).
The records of a contact (tasks, notes) have sides of their own (sync/contact_records.py,
sync/mailsuite_records.py)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts import listing
from contactflow.contacts import service as contacts
from contactflow.contacts.events import contact_snapshot
from contactflow.contacts.models import Contact, ContactTag
from contactflow.contacts.schemas import ContactCreate as CrmCreate
from contactflow.contacts.schemas import ContactUpdate as CrmUpdate
from contactflow.mailsuite import contacts as mailsuite
from contactflow.mailsuite.models import MailContact
from contactflow.mailsuite.schemas import ContactCreate as MailCreate
from contactflow.mailsuite.schemas import ContactUpdate as MailUpdate
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import DomainError, NotFound
from contactflow.sync.fields import CRM_FIELDS, MAILSUITE_CUSTOM, MAILSUITE_FIELDS, Values

SYNC_SOURCE = "sync"
# What a record of a contact is created with besides its mapped values: its contact on the
# side made, and the record it copies (so a copy the flow templates made is that same copy).
PARENT: Final = "contactId"
SOURCE: Final = "sourceId"
SOURCE_SYSTEM: Final = "contacts"
# The system a Mailsuite record says it was copied from (never mapped): one copied from the
# Contacts API is never copied back into it.
COPIED_FROM: Final = "sourceSystem"


def refusal(error: DomainError | ValidationError) -> str:
    """Why a side refused a write, on one line."""
    return " ".join(str(error).split())


class RemoteNeeded(Exception):
    """A pair needs a call to a remote side, made outside the transaction: rolled back in
    its savepoint, it is taken again once the call is made."""


@dataclass(frozen=True)
class Record:
    id: str
    values: Values
    updated_at: datetime
    # Where a walk over the side is when it has read this record: (added at, id).
    position: tuple[datetime, str]
    # The contact a task or note belongs to, on its own side (None for a contact).
    parent: str | None = None

    @property
    def email(self) -> str | None:
        value = self.values.get("email")
        return value if isinstance(value, str) and value else None

    @property
    def phone(self) -> str | None:
        value = self.values.get("phone")
        return value if isinstance(value, str) and value else None


class Side(Protocol):
    async def get(self, record_id: str) -> Record | None: ...

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        """The record with this email, else the one with this phone, else None."""
        ...

    async def create(self, values: Values) -> Record: ...

    async def update(self, record_id: str, values: Values) -> Record: ...

    async def delete(self, record_id: str) -> None: ...


@runtime_checkable
class BulkSide(Side, Protocol):
    """A side that matches and makes a batch's records together (sync/bulk.py)."""

    async def match_many(self, wanted: list[tuple[str | None, str | None]]) -> list[Record | None]:
        """`match` of each (email, phone)."""
        ...

    async def create_many(self, values: list[Values]) -> list[Record | str]:
        """A record made for each of `values` (where one is refused, the reason); a write
        refused for all raises, the caller's savepoint undoing what was made."""
        ...


class CrmSide(Side, Protocol):
    """A CRM's contacts, walked in a stable order by the backfill."""

    async def count(self, until: datetime) -> int: ...

    async def page(
        self, until: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Record]: ...


# The columns of the Contacts API's fields a sync maps (tags are rows of their own): what
# a bulk read selects instead of loading contacts as objects.
CRM_COLUMNS: Final = {
    "firstName": Contact.first_name,
    "lastName": Contact.last_name,
    "email": Contact.email,
    "phone": Contact.phone,
    "companyName": Contact.company_name,
    "address1": Contact.address1,
    "city": Contact.city,
    "state": Contact.state,
    "country": Contact.country,
    "postalCode": Contact.postal_code,
    "website": Contact.website,
    "timezone": Contact.timezone,
    "source": Contact.source,
}


class WorkspaceContacts:
    """This workspace's Contacts API, through its services in the sync's unit of work."""

    def __init__(self, uow: UnitOfWork, location_id: str, region: str) -> None:
        self.uow, self.location_id, self.region = uow, location_id, region

    @staticmethod
    def record_of(contact: Contact) -> Record:
        snapshot = contact_snapshot(contact)
        return Record(
            id=contact.id,
            values={name: snapshot[name] for name in CRM_FIELDS},
            updated_at=contact.date_updated,
            position=(contact.date_added, contact.id),
        )

    @staticmethod
    async def records(session: AsyncSession, location_id: str, ids: list[str]) -> dict[str, Record]:
        """Many contacts at once, as `record_of` reads each, from their columns and tags
        (two queries, no objects loaded).

        Read by primary key alone, the location checked on each row: with the location in
        the WHERE clause SQLite walks the location's index instead, every contact of the
        location for each read (a reconciliation of 100,000 pairs read them 100 times)."""
        rows = await session.execute(
            select(
                Contact.id,
                Contact.location_id,
                Contact.date_updated,
                Contact.date_added,
                *CRM_COLUMNS.values(),
            ).where(Contact.id.in_(ids))
        )
        tags: dict[str, list[str]] = {}
        tag_rows = await session.execute(
            select(ContactTag.contact_id, ContactTag.tag)
            .where(ContactTag.contact_id.in_(ids))
            .order_by(ContactTag.contact_id, ContactTag.position)
        )
        for contact_id, tag in tag_rows:
            tags.setdefault(contact_id, []).append(tag)
        found: dict[str, Record] = {}
        for contact_id, location, updated, added, *values in rows:
            if location != location_id:
                continue
            fields: Values = dict(zip(CRM_COLUMNS, values, strict=True))
            fields["tags"] = tags.get(contact_id, [])
            found[contact_id] = Record(contact_id, fields, updated, (added, contact_id))
        return found

    async def get(self, record_id: str) -> Record | None:
        try:
            return self.record_of(
                await contacts.find_contact(self.uow.session, self.location_id, record_id)
            )
        except NotFound:
            return None

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        found = await contacts.find_duplicate(
            self.uow.session, self.location_id, email, phone, self.region
        )
        return None if found is None else self.record_of(found)

    async def create(self, values: Values) -> Record:
        body = CrmCreate.model_validate({"source": SYNC_SOURCE, **values})
        return self.record_of(
            await contacts.create_contact(self.uow, self.location_id, body, self.region)
        )

    async def update(self, record_id: str, values: Values) -> Record:
        body = CrmUpdate.model_validate(values)
        return self.record_of(
            await contacts.update_contact(self.uow, self.location_id, record_id, body, self.region)
        )

    async def delete(self, record_id: str) -> None:
        await contacts.delete_contact(self.uow, self.location_id, record_id)

    async def count(self, until: datetime) -> int:
        return await listing.count_added(self.uow.session, self.location_id, until)

    async def page(
        self, until: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Record]:
        session = self.uow.session
        ids = await listing.ids_added(
            session, self.location_id, until=until, after=after, limit=limit
        )
        found = await self.records(session, self.location_id, ids)
        return [found[record_id] for record_id in ids]


def _mail_body(values: Values) -> dict[str, Any]:
    """Mailsuite's wire form of `values`: custom fields under customFields."""
    body: dict[str, Any] = {name: values[name] for name in MAILSUITE_FIELDS if name in values}
    custom = {
        name.removeprefix(MAILSUITE_CUSTOM): value
        for name, value in values.items()
        if name.startswith(MAILSUITE_CUSTOM)
    }
    if custom:
        body["customFields"] = custom
    if body.get("email") is None:
        body.pop("email", None)  # a Mailsuite contact always has its address
    return body


_MAIL_COLUMNS: Final = (
    MailContact.id,
    MailContact.first_name,
    MailContact.last_name,
    MailContact.email,
    MailContact.phone,
    MailContact.custom_fields,
    MailContact.updated_at,
    MailContact.created_at,
)


def _mail_record(
    contact_id: str,
    first_name: str | None,
    last_name: str | None,
    email: str,
    phone: str | None,
    custom_fields: dict[str, Any] | None,
    updated_at: datetime,
    created_at: datetime,
) -> Record:
    values: Values = {
        "firstName": first_name,
        "lastName": last_name,
        "email": email,
        "phone": phone,
    }
    for key, value in (custom_fields or {}).items():
        values[MAILSUITE_CUSTOM + key] = value
    return Record(contact_id, values, updated_at, (created_at, contact_id))


class MailsuiteContacts:
    """This workspace's Mailsuite contacts, through Mailsuite's services."""

    def __init__(self, uow: UnitOfWork, location_id: str, region: str) -> None:
        self.uow, self.location_id, self.region = uow, location_id, region

    @staticmethod
    def record_of(contact: MailContact) -> Record:
        return _mail_record(*(getattr(contact, column.key) for column in _MAIL_COLUMNS))

    @staticmethod
    async def records(session: AsyncSession, location_id: str, ids: list[str]) -> dict[str, Record]:
        """Many contacts at once, as `record_of` reads each, from their columns (one query,
        no objects loaded); by primary key, as `WorkspaceContacts.records` reads."""
        rows = await session.execute(
            select(MailContact.location_id, *_MAIL_COLUMNS).where(MailContact.id.in_(ids))
        )
        return {row[1]: _mail_record(*row[1:]) for row in rows if row[0] == location_id}

    async def get(self, record_id: str) -> Record | None:
        try:
            return self.record_of(
                await mailsuite.find_contact(self.uow.session, self.location_id, record_id)
            )
        except NotFound:
            return None

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        session = self.uow.session
        found = await mailsuite.find_by_email(session, self.location_id, email) if email else None
        if found is None and phone:
            found = await mailsuite.find_by_phone(session, self.location_id, phone)
        return None if found is None else self.record_of(found)

    async def match_many(self, wanted: list[tuple[str | None, str | None]]) -> list[Record | None]:
        """`match` of each (email, phone), in two queries."""
        session, location = self.uow.session, self.location_id
        emails = {email.lower() for email, _ in wanted if email}
        by_email: dict[str, Record] = {}
        if emails:
            rows = await session.execute(
                select(MailContact.email_lower, *_MAIL_COLUMNS).where(
                    MailContact.location_id == location, MailContact.email_lower.in_(emails)
                )
            )
            by_email = {row[0]: _mail_record(*row[1:]) for row in rows}
        phones = {
            phone
            for email, phone in wanted
            if phone and (not email or email.lower() not in by_email)
        }
        by_phone: dict[str, Record] = {}
        if phones:
            rows = await session.execute(
                select(MailContact.phone, *_MAIL_COLUMNS)
                .where(MailContact.location_id == location, MailContact.phone.in_(phones))
                .order_by(MailContact.created_at.desc(), MailContact.id.desc())
            )
            # Newest first, so the oldest with each phone is the one kept, as `match` finds.
            by_phone = {row[0]: _mail_record(*row[1:]) for row in rows}
        return [
            by_email.get(email.lower())
            if email and email.lower() in by_email
            else by_phone.get(phone)
            if phone
            else None
            for email, phone in wanted
        ]

    async def create(self, values: Values) -> Record:
        body = MailCreate.model_validate({"source": SYNC_SOURCE, **_mail_body(values)})
        return self.record_of(
            await mailsuite.create_contact(self.uow, self.location_id, body, self.region)
        )

    async def create_many(self, values: list[Values]) -> list[Record | str]:
        """A contact for each of `values`, whose addresses no contact had when the caller
        matched them, written together; where one is refused, the reason. An address taken
        since fails them all (IntegrityError)."""
        made: list[Record | str] = []
        fresh: list[MailContact] = []
        for one in values:
            try:
                body = MailCreate.model_validate({"source": SYNC_SOURCE, **_mail_body(one)})
                email = mailsuite.normalize_email(body.email, "email")
                contact = mailsuite.new_contact(self.location_id, email, body, self.region)
            except (DomainError, ValidationError) as error:
                made.append(refusal(error))
                continue
            fresh.append(contact)
            made.append(self.record_of(contact))
        await mailsuite.insert_contacts(self.uow, self.location_id, fresh)
        return made

    async def update(self, record_id: str, values: Values) -> Record:
        body = MailUpdate.model_validate(_mail_body(values))
        return self.record_of(
            await mailsuite.update_contact(self.uow, self.location_id, record_id, body, self.region)
        )

    async def update_many(self, writes: dict[str, Values]) -> dict[str, Record]:
        """`update` of each record id of `writes` with its values, written together."""
        bodies = {
            record_id: MailUpdate.model_validate(_mail_body(values))
            for record_id, values in writes.items()
        }
        found = await mailsuite.update_contacts(self.uow, self.location_id, bodies, self.region)
        return {contact.id: self.record_of(contact) for contact in found}

    async def delete(self, record_id: str) -> None:
        await mailsuite.delete_contact(self.uow, self.location_id, record_id)
