"""What a sync can carry, object by object: contacts, and what belongs to a contact (its
tasks, its notes and appointments onto the Mailsuite timeline, notes back if chosen). Each
object names its fields on both sides and its default mapping, the directions it goes, the
events of each side that tell of a change to one of its records, and the sides that read and
write them. The engine (sync/pairs.py, backfill, incremental, reconciliation) is the same for
all; what differs is only here (ADR 0037)."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Select, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts.models import Contact
from contactflow.flows.connections.remote_client import RemoteAccount
from contactflow.mailsuite.models import MailContact, TimelineKind
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Unprocessable
from contactflow.platform.event_types import (
    APPOINTMENT_CREATE,
    APPOINTMENT_DELETE,
    APPOINTMENT_UPDATE,
    CONTACT_CREATE,
    CONTACT_DELETE,
    CONTACT_UPDATE,
    MAILSUITE_CONTACT_DELETE,
    MAILSUITE_CONTACT_UPSERT,
    MAILSUITE_TASK_COMPLETE,
    MAILSUITE_TASK_CREATE,
    MAILSUITE_TASK_DELETE,
    MAILSUITE_TASK_UPDATE,
    NOTE_CREATE,
    NOTE_DELETE,
    NOTE_UPDATE,
    TASK_COMPLETE,
    TASK_CREATE,
    TASK_DELETE,
    TASK_UPDATE,
    TIMELINE_ENTRY_CREATE,
    TIMELINE_ENTRY_DELETE,
    TIMELINE_ENTRY_UPDATE,
)
from contactflow.platform.events import Event
from contactflow.sync.contact_records import WorkspaceAppointments, WorkspaceNotes, WorkspaceTasks
from contactflow.sync.fields import CONTACT_FIELDS, DEFAULT_MAPPING, Catalog, FieldMap
from contactflow.sync.mailsuite_records import (
    MailsuiteAppointments,
    MailsuiteNotes,
    MailsuiteTasks,
)
from contactflow.sync.models import Direction, SideName, SyncObject
from contactflow.sync.remote import RemoteContacts, RemoteSide
from contactflow.sync.remote_records import (
    APPOINTMENTS,
    NOTES,
    TASKS,
    RecordWire,
    RemoteRecords,
    Taken,
)
from contactflow.sync.sides import (
    COPIED_FROM,
    SOURCE_SYSTEM,
    CrmSide,
    MailsuiteContacts,
    Record,
    Side,
    WorkspaceContacts,
)

CrmMaker = Callable[[UnitOfWork, str, str], CrmSide]
SideMaker = Callable[[UnitOfWork, str, str], Side]
Reader = Callable[[AsyncSession, str, list[str]], Awaitable[dict[str, Record]]]
Listing = Callable[[str], Select[str, str | None]]
RemoteMaker = Callable[[RemoteAccount, Taken], RemoteSide]
BOTH_WAYS: Final[tuple[Direction, ...]] = ("both", "crmToMailsuite", "mailsuiteToCrm")


def _subject(event: Event) -> str | None:
    return event.subject_id


def _payload_id(event: Event) -> str | None:
    value = event.payload.get("id")
    return value if isinstance(value, str) else None


def _nested_id(key: str) -> Callable[[Event], str | None]:
    def record_id(event: Event) -> str | None:
        nested = event.payload.get(key)
        value = nested.get("id") if isinstance(nested, dict) else None
        return value if isinstance(value, str) else None

    return record_id


def _entry_of(kind: TimelineKind) -> Callable[[Event], str | None]:
    """The entry a timeline event tells of, when it is of `kind` (others are not synced)."""
    entry_id = _nested_id("entry")

    def record_id(event: Event) -> str | None:
        entry = event.payload.get("entry")
        return entry_id(event) if isinstance(entry, dict) and entry.get("kind") == kind else None

    return record_id


@dataclass(frozen=True)
class Watched:
    """An event type that tells of a change to a record of one side, and how it names it."""

    side: SideName
    record_id: Callable[[Event], str | None]
    deleted: bool = False


@dataclass(frozen=True)
class ObjectKind:
    name: SyncObject
    # A sync's name when it is given none.
    title: str
    catalog: Catalog
    mapping: tuple[FieldMap, ...]
    directions: tuple[Direction, ...]
    events: Mapping[str, Watched]
    # Each side of a sync, made for its unit of work, location and phone region.
    crm_side: CrmMaker
    mailsuite_side: SideMaker
    # Each side's records read many at once by id (a reconciliation's comparison), and the
    # ids of those a reconciliation looks among for unlinked ones, with their contact's: on
    # each side that a sync of the object can make records on.
    reads: Mapping[SideName, Reader]
    listings: Mapping[SideName, Listing]
    # The CRM side when it is a remote account (sync/remote.py, sync/remote_records.py),
    # given which of its records the sync links; the scopes a connection needs to read it,
    # and to write it.
    remote_side: RemoteMaker
    remote_scopes: tuple[str, str] = ("contacts.readonly", "contacts.write")
    # Records of a contact: paired through their link only, made under the partner of their
    # contact in the location's contacts sync, and waiting while the contact has none.
    of_contact: bool = True

    def sides(self, uow: UnitOfWork, location_id: str, region: str) -> tuple[CrmSide, Side]:
        crm = self.crm_side(uow, location_id, region)
        return crm, self.mailsuite_side(uow, location_id, region)

    def record_id(self, event: Event) -> str | None:
        return self.events[event.type].record_id(event)

    def uncreatable(self, side: SideName, record: Record) -> str | None:
        """Why `record` can have no partner made on `side` whatever is linked; None when it
        can."""
        if self.of_contact and record.parent is None:
            return "it belongs to no contact"
        if side == "crm" and record.values.get(COPIED_FROM) == SOURCE_SYSTEM:
            return "it is a copy of a Contacts API record, which its link alone pairs"
        if not self.of_contact and side == "mailsuite" and record.email is None:
            return "no email address, which a Mailsuite contact needs"
        return None

    def checked_direction(self, direction: Direction) -> Direction:
        if direction not in self.directions:
            raise Unprocessable(
                [f"direction: a sync of {self.name} goes {' or '.join(self.directions)}"]
            )
        return direction


def _remote_contacts(account: RemoteAccount, _taken: Taken) -> RemoteSide:
    return RemoteContacts(account)


def _remote(wire: RecordWire) -> RemoteMaker:
    def side(account: RemoteAccount, taken: Taken) -> RemoteSide:
        return RemoteRecords(account, wire, taken)

    return side


def _crm_contacts(location_id: str) -> Select[str, str | None]:
    # A Mailsuite contact needs an address: a contact with none cannot be made there.
    return select(Contact.id, null()).where(
        Contact.location_id == location_id, Contact.email.is_not(None)
    )


def _mail_contacts(location_id: str) -> Select[str, str | None]:
    return select(MailContact.id, null()).where(MailContact.location_id == location_id)


_ONE_WAY: Final[tuple[Direction, ...]] = ("crmToMailsuite",)
_CRM_TASK = Watched("crm", _payload_id)
_MAIL_TASK = Watched("mailsuite", _nested_id("task"))
_NOTE = Watched("crm", _payload_id)
_NOTE_ENTRY = Watched("mailsuite", _entry_of("note"))
_APPOINTMENT = Watched("crm", _nested_id("appointment"))
KINDS: Final[Mapping[str, ObjectKind]] = {
    "contacts": ObjectKind(
        name="contacts",
        title="Contacts <-> Mailsuite",
        catalog=CONTACT_FIELDS,
        mapping=DEFAULT_MAPPING,
        directions=BOTH_WAYS,
        events={
            CONTACT_CREATE: Watched("crm", _subject),
            CONTACT_UPDATE: Watched("crm", _subject),
            CONTACT_DELETE: Watched("crm", _subject, deleted=True),
            MAILSUITE_CONTACT_UPSERT: Watched("mailsuite", _subject),
            MAILSUITE_CONTACT_DELETE: Watched("mailsuite", _subject, deleted=True),
        },
        crm_side=WorkspaceContacts,
        mailsuite_side=MailsuiteContacts,
        reads={"crm": WorkspaceContacts.records, "mailsuite": MailsuiteContacts.records},
        listings={"crm": _crm_contacts, "mailsuite": _mail_contacts},
        remote_side=_remote_contacts,
        of_contact=False,
    ),
    "tasks": ObjectKind(
        name="tasks",
        title="Tasks <-> Mailsuite tasks",
        catalog=Catalog(
            ("title", "body", "dueDate", "completed"),
            ("title", "notes", "dueAt", "status"),
            "task",
            "Mailsuite task",
        ),
        mapping=(
            FieldMap("title", "title"),
            FieldMap("body", "notes"),
            FieldMap("dueDate", "dueAt"),
            FieldMap("completed", "status"),
        ),
        directions=BOTH_WAYS,
        events={
            TASK_CREATE: _CRM_TASK,
            TASK_UPDATE: _CRM_TASK,
            TASK_COMPLETE: _CRM_TASK,
            TASK_DELETE: Watched("crm", _payload_id, deleted=True),
            MAILSUITE_TASK_CREATE: _MAIL_TASK,
            MAILSUITE_TASK_UPDATE: _MAIL_TASK,
            MAILSUITE_TASK_COMPLETE: _MAIL_TASK,
            MAILSUITE_TASK_DELETE: Watched("mailsuite", _nested_id("task"), deleted=True),
        },
        crm_side=WorkspaceTasks,
        mailsuite_side=MailsuiteTasks,
        reads={"crm": WorkspaceTasks.records, "mailsuite": MailsuiteTasks.records},
        listings={"crm": WorkspaceTasks.listing, "mailsuite": MailsuiteTasks.listing},
        remote_side=_remote(TASKS),
    ),
    "notes": ObjectKind(
        name="notes",
        title="Notes -> Mailsuite timeline",
        catalog=Catalog(("body",), ("body",), "note", "Mailsuite timeline entry"),
        mapping=(FieldMap("body", "body"),),
        # One way unless asked: timeline notes back into the Contacts API as notes.
        directions=("crmToMailsuite", "both", "mailsuiteToCrm"),
        events={
            NOTE_CREATE: _NOTE,
            NOTE_UPDATE: _NOTE,
            NOTE_DELETE: Watched("crm", _payload_id, deleted=True),
            TIMELINE_ENTRY_CREATE: _NOTE_ENTRY,
            TIMELINE_ENTRY_UPDATE: _NOTE_ENTRY,
            TIMELINE_ENTRY_DELETE: Watched("mailsuite", _entry_of("note"), deleted=True),
        },
        crm_side=WorkspaceNotes,
        mailsuite_side=MailsuiteNotes,
        reads={"crm": WorkspaceNotes.records, "mailsuite": MailsuiteNotes.records},
        listings={"crm": WorkspaceNotes.listing, "mailsuite": MailsuiteNotes.listing},
        remote_side=_remote(NOTES),
    ),
    "appointments": ObjectKind(
        name="appointments",
        title="Appointments -> Mailsuite timeline",
        catalog=Catalog(("summary",), ("body",), "appointment", "Mailsuite timeline entry"),
        mapping=(FieldMap("summary", "body"),),
        directions=_ONE_WAY,
        events={
            APPOINTMENT_CREATE: _APPOINTMENT,
            APPOINTMENT_UPDATE: _APPOINTMENT,
            APPOINTMENT_DELETE: Watched("crm", _nested_id("appointment"), deleted=True),
        },
        crm_side=WorkspaceAppointments,
        mailsuite_side=MailsuiteAppointments,
        reads={"crm": WorkspaceAppointments.records, "mailsuite": MailsuiteAppointments.records},
        listings={"crm": WorkspaceAppointments.listing},
        remote_side=_remote(APPOINTMENTS),
        remote_scopes=("calendars/events.readonly", "calendars/events.write"),
    ),
}
# Every event type some sync reads.
WATCHED: Final = tuple(dict.fromkeys(name for kind in KINDS.values() for name in kind.events))


def kind_of(name: str) -> ObjectKind:
    return KINDS[name]
