"""Tasks: something to do, for a user of the location, often about a contact. Creating and
completing one is on the contact's timeline."""

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from pydantic.alias_generators import to_camel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import events as mail_events
from contactflow.mailsuite.contacts import ensure_workspace, find_contact
from contactflow.mailsuite.models import Task, TaskStatus, TimelineEntry
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.references import referenced
from contactflow.mailsuite.schemas import TaskCreate, TaskUpdate
from contactflow.mailsuite.sources import copies_of
from contactflow.mailsuite.timeline import entries_told, insert_entries, new_entry
from contactflow.platform.clock import as_utc, to_iso, utcnow
from contactflow.platform.db import UnitOfWork, new_row
from contactflow.platform.errors import NotFound, invalid
from contactflow.platform.event_types import (
    MAILSUITE_TASK_COMPLETE,
    MAILSUITE_TASK_CREATE,
    MAILSUITE_TASK_DELETE,
    MAILSUITE_TASK_UPDATE,
)
from contactflow.platform.ids import new_id
from contactflow.platform.tenancy import missing_users

TASK_NOT_FOUND = "Task not found"


async def find_task(session: AsyncSession, location_id: str, task_id: str) -> Task:
    row = await session.get(Task, task_id)
    if row is None or row.location_id != location_id:
        raise NotFound(TASK_NOT_FOUND)
    return row


async def _check_refs(uow: UnitOfWork, location_id: str, body: TaskCreate | TaskUpdate) -> None:
    if body.assignee_id is not None and await missing_users(
        uow.session, location_id, [body.assignee_id]
    ):
        raise invalid("assigneeId", "not a user of this location")
    if body.contact_id is not None:
        await referenced(find_contact(uow.session, location_id, body.contact_id), "contactId")


def _on_timeline(
    task: Task, kind: Literal["task_created", "task_completed"]
) -> list[TimelineEntry]:
    """The entry `kind` puts on the task's contact's timeline, not written yet (none for a
    task of no contact)."""
    if task.contact_id is None:
        return []
    verb = "Task created" if kind == "task_created" else "Task completed"
    body = f"{verb}: {task.title}"
    return [new_entry(task.location_id, task.contact_id, kind, body, task_id=task.id)]


async def task_of_source(
    session: AsyncSession, location_id: str, source_system: str, source_id: str
) -> Task | None:
    """The task copied from `source_id` of `source_system`, if there is one."""
    copied = await copies_of(session, Task, location_id, source_system, [source_id])
    return copied.get(source_id)


async def create_task(uow: UnitOfWork, location_id: str, body: TaskCreate) -> Task:
    """A new task; with a source already copied, that source's task, unchanged."""
    if (body.source_id is None) != (body.source_system is None):
        raise invalid("sourceId", "sourceSystem and sourceId go together")
    if body.source_system is not None and body.source_id is not None:
        copied = await task_of_source(uow.session, location_id, body.source_system, body.source_id)
        if copied is not None:
            return copied
    await _check_refs(uow, location_id, body)
    task = new_task(location_id, body)
    await insert_tasks(uow, location_id, [task])
    return task


def new_task(location_id: str, body: TaskCreate) -> Task:
    """An open task not written yet, as `body` describes it (its references checked by the
    caller)."""
    now = utcnow()
    return new_row(
        Task,
        id=new_id(),
        location_id=location_id,
        title=body.title,
        notes=body.notes,
        due_at=as_utc(body.due_at) if body.due_at else None,
        status="open",
        assignee_id=body.assignee_id,
        contact_id=body.contact_id,
        source_system=body.source_system,
        source_id=body.source_id,
        created_at=now,
        updated_at=now,
    )


async def insert_tasks(
    uow: UnitOfWork, location_id: str, tasks: list[Task], completed: Collection[str] = ()
) -> None:
    """Tasks made by `new_task`, written together: MailsuiteTaskCreate for each and its entry
    on its contact's timeline; then those whose ids are `completed` completed, as
    `update_task` completes one (its update, completion and entry told). The rows are
    written as they end, with Core inserts."""
    await ensure_workspace(uow, location_id)
    entries: list[TimelineEntry] = []
    for task in tasks:
        await mail_events.task_event(uow, MAILSUITE_TASK_CREATE, task)
        entries += await entries_told(uow, _on_timeline(task, "task_created"))
    for task in tasks:
        if task.id in completed:
            entries += await entries_told(uow, await _updated(uow, task, TaskUpdate(status="done")))
    await uow.insert_new(tasks)
    await uow.insert_new(entries)


async def update_task(uow: UnitOfWork, location_id: str, task_id: str, body: TaskUpdate) -> Task:
    """Change a task: MailsuiteTaskUpdate with what changed, and MailsuiteTaskComplete (and a
    timeline entry) when it became done."""
    task = await find_task(uow.session, location_id, task_id)
    await _check_refs(uow, location_id, body)
    await insert_entries(uow, await _updated(uow, task, body))
    return task


async def _updated(uow: UnitOfWork, task: Task, body: TaskUpdate) -> list[TimelineEntry]:
    """`body` applied to `task`, its update (and completion) told; the timeline entry of its
    completion, for the caller to write."""
    given = body.model_fields_set
    before = {name: getattr(task, name) for name in given}
    for name in given & {"title", "notes", "assignee_id", "contact_id"}:
        value = getattr(body, name)
        if value is not None or name in ("assignee_id", "contact_id"):
            setattr(task, name, value)
    if "due_at" in given:
        task.due_at = as_utc(body.due_at) if body.due_at else None
    completing = body.status == "done" and task.status != "done"
    if body.status is not None:
        _set_status(task, body.status)
    changes = {
        to_camel(name): {"old": _wire(old), "new": _wire(getattr(task, name))}
        for name, old in before.items()
        if getattr(task, name) != old
    }
    if not changes:
        return []
    task.updated_at = utcnow()
    await mail_events.task_event(uow, MAILSUITE_TASK_UPDATE, task, changes=changes)
    if not completing:
        return []
    await mail_events.task_event(uow, MAILSUITE_TASK_COMPLETE, task)
    return _on_timeline(task, "task_completed")


async def delete_task(uow: UnitOfWork, location_id: str, task_id: str) -> Task:
    task = await find_task(uow.session, location_id, task_id)
    await mail_events.task_event(uow, MAILSUITE_TASK_DELETE, task)
    await uow.session.delete(task)
    await uow.session.flush()
    return task


def _wire(value: object) -> object:
    return to_iso(value) if isinstance(value, datetime) else value


def _set_status(task: Task, status: TaskStatus) -> None:
    if status == task.status:
        return
    task.status = status
    task.completed_at = utcnow() if status == "done" else None


async def list_tasks(
    session: AsyncSession,
    location_id: str,
    *,
    status: TaskStatus | None,
    contact_id: str | None,
    before: Position | None,
    limit: int,
) -> Page[Task]:
    query = select(Task).where(Task.location_id == location_id)
    if status is not None:
        query = query.where(Task.status == status)
    if contact_id is not None:
        query = query.where(Task.contact_id == contact_id)
    return await newest_first(session, query, Task.created_at, Task.id, before=before, limit=limit)


async def board(
    session: AsyncSession, location_id: str, status: TaskStatus, *, limit: int
) -> list[Task]:
    """A board column: open tasks by due date (soonest first, undated last), done tasks
    most recently completed first."""
    query = select(Task).where(Task.location_id == location_id, Task.status == status)
    if status == "open":
        query = query.order_by(Task.due_at.is_(None), Task.due_at, Task.id)
    else:
        query = query.order_by(Task.completed_at.desc(), Task.id.desc())
    return list(await session.scalars(query.limit(limit)))
