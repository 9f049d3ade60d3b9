"""The CRM side of a sync of what belongs to a contact: this workspace's tasks, notes and
appointments, through the Contacts API's services in the sync's unit of work. Each is walked
by the backfill in (date added, id) order, like contacts, and carries its contact as the
record's parent. Such records are never matched by their fields: only their link pairs them.
"""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts import records
from contactflow.contacts.models import Appointment, Note, Task
from contactflow.contacts.record_schemas import NoteCreate, NoteUpdate, TaskCreate, TaskUpdate
from contactflow.platform.clock import to_iso
from contactflow.platform.db import UnitOfWork, UTCDateTime
from contactflow.platform.errors import NotFound, Unprocessable
from contactflow.sync.fields import Values
from contactflow.sync.sides import PARENT, SOURCE, Record

Owned = Task | Note | Appointment


def _fields(values: Values) -> Values:
    """The mapped values of a write, without what only names the record's place."""
    return {name: value for name, value in values.items() if name not in (PARENT, SOURCE)}


@dataclass(frozen=True)
class _Writes:
    """The Contacts API's services that write one kind of a contact's records, given the
    mapped values in that API's names: create (location, contact, values), update (location,
    contact, record, values), delete (location, contact, record)."""

    create: Callable[[UnitOfWork, str, str, Values], Awaitable[Owned]]
    update: Callable[[UnitOfWork, str, str, str, Values], Awaitable[Owned]]
    delete: Callable[[UnitOfWork, str, str, str], Awaitable[Owned]]


class _ContactRecords:
    """A location's records of one kind, each of a contact, read and walked alike."""

    model: ClassVar[type[Task] | type[Note] | type[Appointment]]
    writes: ClassVar[_Writes]

    def __init__(self, uow: UnitOfWork, location_id: str, region: str) -> None:
        self.uow, self.location_id, self.region = uow, location_id, region

    @staticmethod
    def values_of(row: Any) -> Values:
        raise NotImplementedError

    @classmethod
    def record_of(cls, row: Owned) -> Record:
        return Record(
            row.id, cls.values_of(row), row.date_updated, (row.date_added, row.id), row.contact_id
        )

    @classmethod
    async def records(
        cls, session: AsyncSession, location_id: str, ids: list[str]
    ) -> dict[str, Record]:
        """Many at once, as `get` reads each; by primary key, as
        `WorkspaceContacts.records` reads."""
        model = cls.model
        rows = cast(Iterable[Owned], await session.scalars(select(model).where(model.id.in_(ids))))
        return {row.id: cls.record_of(row) for row in rows if row.location_id == location_id}

    @classmethod
    def listing(cls, location_id: str) -> Select[str, str | None]:
        """Every record's id and its contact's, in the location."""
        model = cls.model
        query = select(model.id, model.contact_id).where(model.location_id == location_id)
        return cast(Select[str, str | None], query)

    async def _row(self, record_id: str) -> Owned:
        model = self.model
        row: Owned | None = await self.uow.session.scalar(
            select(model).where(model.id == record_id, model.location_id == self.location_id)
        )
        if row is None:
            raise NotFound(f"{model.__name__} not found")
        return row

    async def get(self, record_id: str) -> Record | None:
        try:
            return self.record_of(await self._row(record_id))
        except NotFound:
            return None

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        """None: a contact's records are paired only through their link, never by fields."""
        return None

    async def count(self, until: datetime) -> int:
        model = self.model
        query = select(func.count()).where(
            model.location_id == self.location_id, model.date_added <= until
        )
        return int(await self.uow.session.scalar(query) or 0)

    async def page(
        self, until: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Record]:
        model = self.model
        query = select(model).where(
            model.location_id == self.location_id, model.date_added <= until
        )
        if after is not None:
            past = tuple_(literal(after[0], UTCDateTime()), after[1])
            query = query.where(tuple_(model.date_added, model.id) > past)
        rows = await self.uow.session.scalars(
            query.order_by(model.date_added, model.id).limit(limit)
        )
        return [self.record_of(cast(Owned, row)) for row in rows]

    async def create(self, values: Values) -> Record:
        row = await self.writes.create(self.uow, self.location_id, values[PARENT], _fields(values))
        return self.record_of(row)

    async def update(self, record_id: str, values: Values) -> Record:
        row = await self._row(record_id)
        location, contact = self.location_id, row.contact_id
        return self.record_of(
            await self.writes.update(self.uow, location, contact, record_id, values)
        )

    async def delete(self, record_id: str) -> None:
        row = await self._row(record_id)
        await self.writes.delete(self.uow, self.location_id, row.contact_id, record_id)


class WorkspaceTasks(_ContactRecords):
    model = Task
    writes = _Writes(
        lambda uow, location, contact, values: records.create_task(
            uow, location, contact, TaskCreate.model_validate({"completed": False, **values})
        ),
        lambda uow, location, contact, task, values: records.update_task(
            uow, location, contact, task, TaskUpdate.model_validate(values)
        ),
        records.delete_task,
    )

    @staticmethod
    def values_of(row: Any) -> Values:
        return {
            "title": row.title,
            "body": row.body,
            "dueDate": to_iso(row.due_date),
            "completed": row.completed,
        }


class WorkspaceNotes(_ContactRecords):
    model = Note
    writes = _Writes(
        lambda uow, location, contact, values: records.create_note(
            uow, location, contact, NoteCreate.model_validate(values)
        ),
        lambda uow, location, contact, note, values: records.update_note(
            uow, location, contact, note, NoteUpdate.model_validate(values)
        ),
        records.delete_note,
    )

    @staticmethod
    def values_of(row: Any) -> Values:
        return {"body": row.body}


def summary_line(title: str | None, start: str, end: str, status: str) -> str:
    """An appointment as one line of a timeline: its title, when, and its status (the times
    as the wire gives them, so a remote account's appointment reads as this one's)."""
    return f"{title or 'Appointment'}: {start} to {end} ({status})"


def appointment_summary(row: Any) -> str:
    start, end = to_iso(row.start_time), to_iso(row.end_time)
    return summary_line(row.title, start, end, row.appointment_status)


async def _one_way(*_: object) -> Appointment:
    raise Unprocessable(["direction: appointments are synced onto the Mailsuite timeline only"])


class WorkspaceAppointments(_ContactRecords):
    """Appointments go one way, onto the Mailsuite timeline: a sync only reads them."""

    model = Appointment
    writes = _Writes(_one_way, _one_way, _one_way)

    @staticmethod
    def values_of(row: Any) -> Values:
        return {"summary": appointment_summary(row)}
