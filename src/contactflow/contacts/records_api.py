"""Routes of a contact's tasks, notes and appointments."""

from typing import Annotated

from fastapi import APIRouter, Path

from contactflow.contacts import appointments, records
from contactflow.contacts.api import ContactId, Reader, Writer
from contactflow.contacts.record_schemas import (
    AppointmentList,
    NoteCreate,
    NoteEnvelope,
    NoteList,
    NoteUpdate,
    TaskCompletedBody,
    TaskCreate,
    TaskEnvelope,
    TaskList,
    TaskUpdate,
)
from contactflow.contacts.schemas import Succeeded
from contactflow.contacts.wire import appointment_out, note_out, task_out
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep

router = APIRouter(prefix="/contacts/{contactId}", tags=["Contacts"], responses=ERROR_RESPONSES)

TaskId = Annotated[str, Path(alias="taskId", min_length=1, max_length=64)]
NoteId = Annotated[str, Path(alias="id", min_length=1, max_length=64)]


@router.get("/tasks", response_model=TaskList, summary="List a contact's tasks")
async def list_tasks(contact_id: ContactId, caller: Reader, db: DatabaseDep) -> TaskList:
    async with db.reader() as session:
        rows = await records.list_tasks(session, caller.location_id, contact_id)
        return TaskList(tasks=[task_out(row) for row in rows])


@router.post("/tasks", status_code=201, response_model=TaskEnvelope, summary="Create a task")
async def create_task(
    contact_id: ContactId, body: TaskCreate, caller: Writer, db: DatabaseDep
) -> TaskEnvelope:
    async with db.unit_of_work() as uow:
        row = await records.create_task(uow, caller.location_id, contact_id, body)
        return TaskEnvelope(task=task_out(row))


@router.get("/tasks/{taskId}", response_model=TaskEnvelope, summary="Get a task")
async def get_task(
    contact_id: ContactId, task_id: TaskId, caller: Reader, db: DatabaseDep
) -> TaskEnvelope:
    async with db.reader() as session:
        row = await records.find_task(session, caller.location_id, contact_id, task_id)
        return TaskEnvelope(task=task_out(row))


@router.put("/tasks/{taskId}", response_model=TaskEnvelope, summary="Update a task")
async def update_task(
    contact_id: ContactId, task_id: TaskId, body: TaskUpdate, caller: Writer, db: DatabaseDep
) -> TaskEnvelope:
    async with db.unit_of_work() as uow:
        row = await records.update_task(uow, caller.location_id, contact_id, task_id, body)
        return TaskEnvelope(task=task_out(row))


@router.put(
    "/tasks/{taskId}/completed", response_model=TaskEnvelope, summary="Complete or reopen a task"
)
async def set_task_completed(
    contact_id: ContactId,
    task_id: TaskId,
    body: TaskCompletedBody,
    caller: Writer,
    db: DatabaseDep,
) -> TaskEnvelope:
    async with db.unit_of_work() as uow:
        row = await records.set_task_completed(
            uow, caller.location_id, contact_id, task_id, body.completed
        )
        return TaskEnvelope(task=task_out(row))


@router.delete("/tasks/{taskId}", response_model=Succeeded, summary="Delete a task")
async def delete_task(
    contact_id: ContactId, task_id: TaskId, caller: Writer, db: DatabaseDep
) -> Succeeded:
    async with db.unit_of_work() as uow:
        await records.delete_task(uow, caller.location_id, contact_id, task_id)
    return Succeeded()


@router.get("/notes", response_model=NoteList, summary="List a contact's notes")
async def list_notes(contact_id: ContactId, caller: Reader, db: DatabaseDep) -> NoteList:
    async with db.reader() as session:
        rows = await records.list_notes(session, caller.location_id, contact_id)
        return NoteList(notes=[note_out(row) for row in rows])


@router.post("/notes", status_code=201, response_model=NoteEnvelope, summary="Create a note")
async def create_note(
    contact_id: ContactId, body: NoteCreate, caller: Writer, db: DatabaseDep
) -> NoteEnvelope:
    async with db.unit_of_work() as uow:
        row = await records.create_note(uow, caller.location_id, contact_id, body)
        return NoteEnvelope(note=note_out(row))


@router.get("/notes/{id}", response_model=NoteEnvelope, summary="Get a note")
async def get_note(
    contact_id: ContactId, note_id: NoteId, caller: Reader, db: DatabaseDep
) -> NoteEnvelope:
    async with db.reader() as session:
        row = await records.find_note(session, caller.location_id, contact_id, note_id)
        return NoteEnvelope(note=note_out(row))


@router.put("/notes/{id}", response_model=NoteEnvelope, summary="Update a note")
async def update_note(
    contact_id: ContactId, note_id: NoteId, body: NoteUpdate, caller: Writer, db: DatabaseDep
) -> NoteEnvelope:
    async with db.unit_of_work() as uow:
        row = await records.update_note(uow, caller.location_id, contact_id, note_id, body)
        return NoteEnvelope(note=note_out(row))


@router.delete("/notes/{id}", response_model=Succeeded, summary="Delete a note")
async def delete_note(
    contact_id: ContactId, note_id: NoteId, caller: Writer, db: DatabaseDep
) -> Succeeded:
    async with db.unit_of_work() as uow:
        await records.delete_note(uow, caller.location_id, contact_id, note_id)
    return Succeeded()


@router.get(
    "/appointments", response_model=AppointmentList, summary="List a contact's appointments"
)
async def list_appointments(
    contact_id: ContactId, caller: Reader, db: DatabaseDep
) -> AppointmentList:
    async with db.reader() as session:
        rows = await appointments.appointments_of(session, caller.location_id, contact_id)
        return AppointmentList(events=[appointment_out(row) for row in rows])
