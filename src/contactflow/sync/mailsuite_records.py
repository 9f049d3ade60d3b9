"""The Mailsuite side of a sync of what belongs to a contact: its tasks, and the entries of
its timeline (a note, an appointment), through Mailsuite's services. A copy the sync makes
names the Contacts API record it copies as its source, as the flow templates' copies do, so a
copy a template made is found again rather than made twice."""

from typing import Any, ClassVar, cast

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import tasks, timeline
from contactflow.mailsuite.models import MailContact, Task, TimelineEntry, TimelineKind
from contactflow.mailsuite.schemas import TaskCreate, TaskUpdate
from contactflow.mailsuite.sources import copies_of
from contactflow.platform.clock import to_iso
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound, invalid
from contactflow.sync.fields import Values
from contactflow.sync.sides import COPIED_FROM, PARENT, SOURCE, SOURCE_SYSTEM, Record, refusal


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
        """Many at once, as `get` reads each; by primary key, as
        `WorkspaceContacts.records` reads."""
        rows = await session.scalars(select(Task).where(Task.id.in_(ids)))
        return {row.id: cls.record_of(row) for row in rows if row.location_id == location_id}

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

    async def match_many(self, wanted: list[tuple[str | None, str | None]]) -> list[Record | None]:
        """None for each: tasks are paired only through their links."""
        return [None] * len(wanted)

    def _create_body(self, values: Values) -> TaskCreate:
        return TaskCreate.model_validate(
            {
                **self._body(values),
                "contactId": values[PARENT],
                "sourceSystem": SOURCE_SYSTEM,
                "sourceId": values[SOURCE],
            }
        )

    async def _completed(self, task: Task, values: Values) -> Record:
        """The task made for `values`, completed when they say so (as a person would: its
        update and completion told)."""
        if values.get("status", "open") != "open":
            task = await tasks.update_task(
                self.uow, self.location_id, task.id, TaskUpdate(status=values["status"])
            )
        return self.record_of(task)

    async def create(self, values: Values) -> Record:
        task = await tasks.create_task(self.uow, self.location_id, self._create_body(values))
        return await self._completed(task, values)

    async def create_many(self, values: list[Values]) -> list[Record | str]:
        """A task for each of `values`, the new ones written together; where one is refused,
        the reason. A record copied already gets its copy, as `create` does; a contact that
        is not there refuses them all (DomainError)."""
        session, location = self.uow.session, self.location_id
        bodies: list[TaskCreate | str] = []
        for one in values:
            try:
                bodies.append(self._create_body(one))
            except ValidationError as error:
                bodies.append(refusal(error))
        valid = [body for body in bodies if isinstance(body, TaskCreate)]
        copied = await copies_of(
            session, Task, location, SOURCE_SYSTEM, [str(body.source_id) for body in valid]
        )
        fresh = {
            body.source_id: tasks.new_task(location, body)
            for body in valid
            if body.source_id not in copied
        }
        contacts = {task.contact_id for task in fresh.values()}
        found = await session.scalars(
            select(MailContact.id).where(
                MailContact.location_id == location, MailContact.id.in_(contacts)
            )
        )
        if contacts - set(found):
            raise invalid("contactId", "not found in this workspace")
        completed = [
            fresh[body.source_id].id
            for one, body in zip(values, bodies, strict=True)
            if isinstance(body, TaskCreate)
            and body.source_id in fresh
            and one.get("status", "open") != "open"
        ]
        await tasks.insert_tasks(self.uow, location, list(fresh.values()), completed)
        made: list[Record | str] = []
        for one, body in zip(values, bodies, strict=True):
            if isinstance(body, str):
                made.append(body)
            elif body.source_id in copied:
                made.append(await self.create(one))
            else:
                made.append(self.record_of(fresh[body.source_id]))
        return made

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
        """Many at once, as `get` reads each; by primary key, as
        `WorkspaceContacts.records` reads."""
        rows = await session.scalars(select(TimelineEntry).where(TimelineEntry.id.in_(ids)))
        return {row.id: cls.record_of(row) for row in rows if row.location_id == location_id}

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

    async def match_many(self, wanted: list[tuple[str | None, str | None]]) -> list[Record | None]:
        """None for each: entries are paired only through their links."""
        return [None] * len(wanted)

    async def create(self, values: Values) -> Record:
        (made,) = await self.create_many([values])
        assert isinstance(made, Record)  # an entry is never refused
        return made

    async def create_many(self, values: list[Values]) -> list[Record | str]:
        """An entry for each of `values` on its contact's timeline, the new ones written
        together; a record copied already gets its entry back."""
        location = self.location_id
        entries = await copies_of(
            self.uow.session,
            TimelineEntry,
            location,
            SOURCE_SYSTEM,
            [one[SOURCE] for one in values],
        )
        fresh: list[TimelineEntry] = []
        for one in values:
            if one[SOURCE] not in entries:
                body = one.get("body") or ""
                entry = timeline.new_entry(
                    location,
                    one[PARENT],
                    self.kind,
                    body,
                    source_system=SOURCE_SYSTEM,
                    source_id=one[SOURCE],
                )
                entries[one[SOURCE]] = entry
                fresh.append(entry)
        await timeline.insert_entries(self.uow, fresh)
        return [self.record_of(entries[one[SOURCE]]) for one in values]

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
