"""A remote account's tasks, notes and appointments as a sync's CRM side, over the HighLevel v2
wire (the paths the official SDK calls) through the connection, as sync/remote.py does its
contacts.

The wire reaches a task or a note only under its contact (`/contacts/{contactId}/tasks/{id}`),
so the id a sync keeps for such a record names both: `contactId/id`. Its events (the
remote's TaskCreate, NoteUpdate... webhooks) carry the contact too. There is no listing of a
location's tasks or notes: the backfill walks the remote's contacts and lists each one's."""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from contactflow.flows.connections.remote_client import RemoteAccount, RemoteFailed, call
from contactflow.platform.events import Event
from contactflow.sync.contact_records import summary_line
from contactflow.sync.fields import Values
from contactflow.sync.remote import Json, instant
from contactflow.sync.sides import PARENT, SOURCE, Record

SEPARATOR: Final = "/"
# Contacts whose records one batch lists at once.
LISTED_AT_ONCE = 8
# Which of these ids of the remote's records the sync has linked already.
Taken = Callable[[list[str]], Awaitable[set[str]]]


def remote_id(contact_id: str, record_id: str) -> str:
    return f"{contact_id}{SEPARATOR}{record_id}"


def _parts(record_id: str) -> tuple[str, str] | None:
    contact, _, own = record_id.partition(SEPARATOR)
    return (contact, own) if contact and own else None


def contact_named(record_id: str) -> str | None:
    """The contact the id a sync keeps for a remote record names."""
    parts = _parts(record_id)
    return parts[0] if parts is not None else None


def contact_of(event: Event) -> str | None:
    """The contact a remote record's event names (a task's and a note's at the top, an
    appointment's inside it)."""
    payload = event.payload
    nested = payload.get("appointment")
    value = nested.get("contactId") if isinstance(nested, dict) else payload.get("contactId")
    return value if isinstance(value, str) and value else None


def _summary(one: Json) -> Values:
    start, end = str(one.get("startTime")), str(one.get("endTime"))
    return {"summary": summary_line(one.get("title"), start, end, str(one["appointmentStatus"]))}


@dataclass(frozen=True)
class RecordWire:
    """Where one kind of a contact's records is on the wire, and how its records read."""

    # Under /contacts/{contactId}: the listing's path and key.
    listing: str
    many: str
    # The path of one record (with {contact} and {id}), and the key of one in an answer.
    one: str
    key: str
    values: Callable[[Json], Values]
    # The fields that make a record the same as a write of it (found after a crash).
    identity: tuple[str, ...]
    # What a create sends besides the mapped values (a task is made open).
    defaults: Values
    writable: bool = True


TASKS: Final = RecordWire(
    "tasks",
    "tasks",
    "/contacts/{contact}/tasks/{id}",
    "task",
    lambda one: {
        "title": one.get("title"),
        "body": one.get("body"),
        "dueDate": one.get("dueDate"),
        "completed": bool(one.get("completed")),
    },
    ("title", "body"),
    {"completed": False},
)
NOTES: Final = RecordWire(
    "notes",
    "notes",
    "/contacts/{contact}/notes/{id}",
    "note",
    lambda one: {"body": one.get("body")},
    ("body",),
    {},
)
APPOINTMENTS: Final = RecordWire(
    "appointments",
    "events",
    "/calendars/events/appointments/{id}",
    "appointment",
    _summary,
    (),
    {},
    writable=False,
)


class RemoteRecords:
    """One kind of the records of the connection's remote contacts."""

    def __init__(self, account: RemoteAccount, wire: RecordWire, taken: Taken) -> None:
        self.account, self.wire, self.taken = account, wire, taken

    def _record(self, contact_id: str, one: Json) -> Record:
        record_id = remote_id(contact_id, str(one["id"]))
        added = instant(one.get("dateAdded") or one.get("startTime"))
        updated = instant(one["dateUpdated"]) if one.get("dateUpdated") else added
        return Record(record_id, self.wire.values(one), updated, (added, record_id), contact_id)

    def _path(self, contact_id: str, own_id: str) -> str:
        return self.wire.one.format(contact=quote(contact_id, safe=""), id=quote(own_id, safe=""))

    def _writable(self) -> None:
        if not self.wire.writable:
            raise RemoteFailed(f"{self.wire.listing} are synced onto the Mailsuite only", 422)

    async def of_contact(self, contact_id: str) -> list[Record]:
        """The contact's records (none when the contact is gone)."""
        path = f"/contacts/{quote(contact_id, safe='')}/{self.wire.listing}"
        try:
            response = await call(self.account, "GET", path)
        except RemoteFailed as error:
            if error.status == 404:
                return []
            raise
        return [self._record(contact_id, one) for one in response.json().get(self.wire.many, [])]

    async def of_contacts(self, contact_ids: Iterable[str]) -> list[Record]:
        """The records of each contact, listed a few contacts at once, in the contacts'
        order."""
        room = asyncio.Semaphore(LISTED_AT_ONCE)

        async def listed(contact_id: str) -> list[Record]:
            async with room:
                return await self.of_contact(contact_id)

        lists = await asyncio.gather(*(listed(contact_id) for contact_id in contact_ids))
        return [record for records in lists for record in records]

    async def get(self, record_id: str) -> Record | None:
        parts = _parts(record_id)
        if parts is None:
            return None
        try:
            response = await call(self.account, "GET", self._path(*parts))
        except RemoteFailed as error:
            if error.status in (400, 404):
                return None
            raise
        return self._record(parts[0], response.json()[self.wire.key])

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        """None: a contact's records are paired only through their link, never by fields."""
        return None

    async def existing(self, values: Values) -> Record | None:
        """Among the contact's records, one not linked with the values a create writes."""
        contact = values.get(PARENT)
        if not isinstance(contact, str):
            return None
        same = [
            record
            for record in await self.of_contact(contact)
            if all(record.values.get(name) == values.get(name) for name in self.wire.identity)
        ]
        taken = await self.taken([record.id for record in same])
        return next((record for record in same if record.id not in taken), None)

    async def create(self, values: Values) -> Record:
        self._writable()
        contact = str(values[PARENT])
        fields = {name: value for name, value in values.items() if name not in (PARENT, SOURCE)}
        fields = {**self.wire.defaults, **fields}
        path = f"/contacts/{quote(contact, safe='')}/{self.wire.listing}"
        response = await call(self.account, "POST", path, json=fields)
        return self._record(contact, response.json()[self.wire.key])

    async def update(self, record_id: str, values: Values) -> Record:
        self._writable()
        parts = _parts(record_id)
        if parts is None:
            raise RemoteFailed(f"no remote record {record_id}", 404)
        response = await call(self.account, "PUT", self._path(*parts), json=values)
        return self._record(parts[0], response.json()[self.wire.key])

    async def delete(self, record_id: str) -> None:
        self._writable()
        parts = _parts(record_id)
        if parts is None:
            return
        try:
            await call(self.account, "DELETE", self._path(*parts))
        except RemoteFailed as error:
            if error.status != 404:
                raise
