"""The Mailsuite side of a sync of what belongs to a contact: its tasks, and the entries of
its timeline (a note, an appointment), through Mailsuite's services. A copy the sync makes
names the Contacts API record it copies as its source, as the flow templates' copies do, so a
copy a template made is found again rather than made twice."""

from typing import Any, ClassVar, cast

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import tasks, timeline
from contactflow.mailsuite.models import Task, TimelineEntry, TimelineKind
from contactflow.mailsuite.schemas import TaskCreate, TaskUpdate
from contactflow.platform.clock import to_iso
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound
from contactflow.sync.fields import Values
from contactflow.sync.sides import COPIED_FROM, PARENT, SOURCE, SOURCE_SYSTEM, Record


class MailsuiteTasks:
    """A location's Mailsuite tasks; a task of no contact is never synced."""

    def __init__(self, uow: UnitOfWork, location_id: str, region: str) -> None:
        self.uow, self.location_id, self.region = uow, location_id, region

    @staticmethod
    def record_of(task: Task) -> Record:
        values: Values = {
            "title": task.title,
            "notes": task.notes,
            "dueAt": to_iso(task.due_at),
            "status": task.status,
            COPIED_FROM: task.source_system,
        }
        return Record(task.id, values, task.updated_at, (task.created_at, task.id), task.contact_id)

    @classmethod
    async def records(
        cls, session: AsyncSession, location_id: str, ids: list[str]
    ) -> dict[str, Record]:
        """Many at once, as `get` reads each."""
        rows = await session.scalars(
            select(Task).where(Task.location_id == location_id, Task.id.in_(ids))
        )
        return {row.id: cls.record_of(row) for row in rows}

    @staticmethod
    def listing(location_id: str) -> Select[str, str | None]:
        """Every task of a contact: its id and its contact's."""
        return select(Task.id, Task.contact_id).where(
            Task.location_id == location_id, Task.contact_id.is_not(None)
        )

    async def get(self, record_id: str) -> Record | None:
        try:
            return self.record_of(
                await tasks.find_task(self.uow.session, self.location_id, record_id)
            )
        except NotFound:
            return None

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        """None: a task is paired only through its link, never by its title."""
        return None

    @staticmethod
    def _body(values: Values) -> dict[str, Any]:
        body: dict[str, Any] = {name: values[name] for name in ("title", "dueAt") if name in values}
        if "notes" in values:
            body["notes"] = values["notes"] or ""  # a Mailsuite task's notes are never null
        return body

    async def create(self, values: Values) -> Record:
        body = TaskCreate.model_validate(
            {
                **self._body(values),
                "contactId": values[PARENT],
                "sourceSystem": SOURCE_SYSTEM,
                "sourceId": values[SOURCE],
            }
        )
        task = await tasks.create_task(self.uow, self.location_id, body)
        if values.get("status", "open") != "open":
            task = await tasks.update_task(
                self.uow, self.location_id, task.id, TaskUpdate(status=values["status"])
            )
        return self.record_of(task)

    async def update(self, record_id: str, values: Values) -> Record:
        body = self._body(values)
        if "status" in values:
            body["status"] = values["status"]
        task = await tasks.update_task(
            self.uow, self.location_id, record_id, TaskUpdate.model_validate(body)
        )
        return self.record_of(task)

    async def delete(self, record_id: str) -> None:
        await tasks.delete_task(self.uow, self.location_id, record_id)


class MailsuiteTimeline:
    """The entries of one kind on a location's Mailsuite timelines (notes, appointments):
    a text each, on its contact's timeline."""

    kind: ClassVar[TimelineKind]

    def __init__(self, uow: UnitOfWork, location_id: str, region: str) -> None:
        self.uow, self.location_id, self.region = uow, location_id, region

    @staticmethod
    def record_of(entry: TimelineEntry) -> Record:
        values: Values = {"body": entry.body, COPIED_FROM: entry.source_system}
        position = (entry.created_at, entry.id)
        return Record(entry.id, values, entry.created_at, position, entry.contact_id)

    @classmethod
    def listing(cls, location_id: str) -> Select[str, str | None]:
        """Every entry of the kind: its id and its contact's."""
        query = select(TimelineEntry.id, TimelineEntry.contact_id).where(
            TimelineEntry.location_id == location_id, TimelineEntry.kind == cls.kind
        )
        return cast(Select[str, str | None], query)

    @classmethod
    async def records(
        cls, session: AsyncSession, location_id: str, ids: list[str]
    ) -> dict[str, Record]:
        """Many at once, as `get` reads each."""
        rows = await session.scalars(
            select(TimelineEntry).where(
                TimelineEntry.location_id == location_id, TimelineEntry.id.in_(ids)
            )
        )
        return {row.id: cls.record_of(row) for row in rows}

    async def _entry(self, record_id: str) -> TimelineEntry:
        entry = await timeline.find_entry(self.uow.session, self.location_id, record_id)
        if entry.kind != self.kind:
            raise NotFound("Timeline entry not found")
        return entry

    async def get(self, record_id: str) -> Record | None:
        try:
            return self.record_of(await self._entry(record_id))
        except NotFound:
            return None

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        """None: an entry is paired only through its link."""
        return None

    async def create(self, values: Values) -> Record:
        entry, _ = await timeline.add_entry(
            self.uow,
            self.location_id,
            values[PARENT],
            self.kind,
            values.get("body") or "",
            source_system=SOURCE_SYSTEM,
            source_id=values[SOURCE],
        )
        await self.uow.session.flush()
        return self.record_of(entry)

    async def update(self, record_id: str, values: Values) -> Record:
        entry = await self._entry(record_id)
        if "body" in values:
            await timeline.update_entry(self.uow, entry, values["body"] or "")
        return self.record_of(entry)

    async def delete(self, record_id: str) -> None:
        await timeline.delete_entry(self.uow, await self._entry(record_id))


class MailsuiteNotes(MailsuiteTimeline):
    kind = "note"


class MailsuiteAppointments(MailsuiteTimeline):
    kind = "appointment"
