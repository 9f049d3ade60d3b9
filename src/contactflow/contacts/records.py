"""Tasks and notes on a contact."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts.events import note_event, task_event
from contactflow.contacts.models import Note, Task
from contactflow.contacts.normalize import assign_fields, stored_values
from contactflow.contacts.record_schemas import NoteCreate, NoteUpdate, TaskCreate, TaskUpdate
from contactflow.contacts.service import find_contact
from contactflow.platform import event_types
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound, invalid
from contactflow.platform.tenancy import missing_users


async def _check_user(
    session: AsyncSession, location_id: str, field: str, user_id: str | None
) -> None:
    if user_id and await missing_users(session, location_id, [user_id]):
        raise invalid(field, f"user {user_id} not found in this location")


async def list_tasks(session: AsyncSession, location_id: str, contact_id: str) -> list[Task]:
    await find_contact(session, location_id, contact_id)
    rows = await session.scalars(
        select(Task).where(Task.contact_id == contact_id).order_by(Task.date_added, Task.id)
    )
    return list(rows)


async def find_task(session: AsyncSession, location_id: str, contact_id: str, task_id: str) -> Task:
    task = await session.scalar(
        select(Task).where(
            Task.id == task_id, Task.contact_id == contact_id, Task.location_id == location_id
        )
    )
    if task is None:
        raise NotFound("Task not found")
    return task


async def create_task(
    uow: UnitOfWork, location_id: str, contact_id: str, fields: TaskCreate
) -> Task:
    await find_contact(uow.session, location_id, contact_id)
    await _check_user(uow.session, location_id, "assignedTo", fields.assigned_to)
    now = utcnow()
    task = Task(
        location_id=location_id,
        contact_id=contact_id,
        title=fields.title,
        body=fields.body,
        assigned_to=fields.assigned_to,
        due_date=fields.due_date,
        completed=fields.completed,
        date_added=now,
        date_updated=now,
    )
    uow.session.add(task)
    await uow.session.flush()
    await task_event(uow, event_types.TASK_CREATE, task)
    return task


async def update_task(
    uow: UnitOfWork, location_id: str, contact_id: str, task_id: str, fields: TaskUpdate
) -> Task:
    task = await find_task(uow.session, location_id, contact_id, task_id)
    await _check_user(uow.session, location_id, "assignedTo", fields.assigned_to)
    before = stored_values(task)
    assign_fields(task, fields, required=frozenset({"title", "due_date", "completed"}))
    return await _task_saved(uow, task, before)


async def set_task_completed(
    uow: UnitOfWork, location_id: str, contact_id: str, task_id: str, completed: bool
) -> Task:
    task = await find_task(uow.session, location_id, contact_id, task_id)
    before = stored_values(task)
    task.completed = completed
    return await _task_saved(uow, task, before)


async def _task_saved(uow: UnitOfWork, task: Task, before: dict[str, Any]) -> Task:
    """TaskComplete when the task became completed, TaskUpdate when it changed otherwise,
    nothing when it is as it was."""
    if stored_values(task) == before:
        return task
    task.date_updated = utcnow()
    await uow.session.flush()
    completing = task.completed and not before["completed"]
    await task_event(
        uow, event_types.TASK_COMPLETE if completing else event_types.TASK_UPDATE, task
    )
    return task


async def delete_task(uow: UnitOfWork, location_id: str, contact_id: str, task_id: str) -> Task:
    task = await find_task(uow.session, location_id, contact_id, task_id)
    await task_event(uow, event_types.TASK_DELETE, task)
    await uow.session.delete(task)
    return task


async def list_notes(session: AsyncSession, location_id: str, contact_id: str) -> list[Note]:
    await find_contact(session, location_id, contact_id)
    rows = await session.scalars(
        select(Note).where(Note.contact_id == contact_id).order_by(Note.date_added, Note.id)
    )
    return list(rows)


async def find_note(session: AsyncSession, location_id: str, contact_id: str, note_id: str) -> Note:
    note = await session.scalar(
        select(Note).where(
            Note.id == note_id, Note.contact_id == contact_id, Note.location_id == location_id
        )
    )
    if note is None:
        raise NotFound("Note not found")
    return note


async def create_note(
    uow: UnitOfWork, location_id: str, contact_id: str, fields: NoteCreate
) -> Note:
    await find_contact(uow.session, location_id, contact_id)
    await _check_user(uow.session, location_id, "userId", fields.user_id)
    now = utcnow()
    note = Note(
        location_id=location_id,
        contact_id=contact_id,
        body=fields.body,
        user_id=fields.user_id,
        title=fields.title,
        color=fields.color,
        pinned=bool(fields.pinned),
        date_added=now,
        date_updated=now,
    )
    uow.session.add(note)
    await uow.session.flush()
    await note_event(uow, event_types.NOTE_CREATE, note)
    return note


async def update_note(
    uow: UnitOfWork, location_id: str, contact_id: str, note_id: str, fields: NoteUpdate
) -> Note:
    note = await find_note(uow.session, location_id, contact_id, note_id)
    await _check_user(uow.session, location_id, "userId", fields.user_id)
    before = stored_values(note)
    assign_fields(note, fields, required=frozenset({"body", "pinned"}))
    if stored_values(note) == before:
        return note
    note.date_updated = utcnow()
    await uow.session.flush()
    await note_event(uow, event_types.NOTE_UPDATE, note)
    return note


async def delete_note(uow: UnitOfWork, location_id: str, contact_id: str, note_id: str) -> Note:
    note = await find_note(uow.session, location_id, contact_id, note_id)
    await note_event(uow, event_types.NOTE_DELETE, note)
    await uow.session.delete(note)
    return note
