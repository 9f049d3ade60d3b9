"""The Contacts API app's actions on a contact's tasks and notes, and what the app's
actions share: the entry shape, splitting ids from fields, deleted and listed outputs."""

from typing import Any

from contactflow.contacts import records
from contactflow.contacts.record_schemas import (
    NoteCreate,
    NoteOut,
    NoteUpdate,
    TaskCreate,
    TaskOut,
    TaskUpdate,
)
from contactflow.contacts.wire import note_out, task_out
from contactflow.flows.catalog.contacts_wire import WIRES
from contactflow.flows.catalog.registry import (
    ID,
    SAMPLE_AT,
    ActionContext,
    Entry,
    Executor,
    Json,
    dumped,
    model_schema,
    obj,
    output_schema,
    parsed,
)
from contactflow.platform.auth.scopes import (
    CONTACTS_READ,
    CONTACTS_WRITE,
)

APP = "contacts"
CONNECTION_ID: Json = {
    **ID,
    "description": "A connection to a remote Contacts API account to act on instead of this "
    "workspace",
}


def action(
    key: str,
    title: str,
    description: str,
    input: Json,
    output: Json,
    sample: Json,
    run: Executor,
    *,
    reads: bool = False,
    scope: str | None = None,
) -> Entry:
    """A Contacts API action (reading ones need only contacts.readonly; those on calendars
    and businesses need the scope their API routes need), on this workspace or, with
    `connectionId`, on a connection's remote account."""
    key = f"contacts.{key}"
    return Entry(
        key=key,
        app=APP,
        kind="action",
        title=title,
        description=description,
        scopes=(scope or (CONTACTS_READ if reads else CONTACTS_WRITE),),
        input={**input, "properties": {**input["properties"], "connectionId": CONNECTION_ID}},
        output=output,
        sample=sample,
        run=run,
        remote=WIRES[key],
    )


def split(values: Json, *names: str) -> tuple[list[Any], Json]:
    rest = dict(values)
    return [rest.pop(name) for name in names], rest


DELETED: Json = obj({"deleted": {"const": True}, "id": {"type": "string"}}, ["deleted", "id"])


def listed(name: str, item: Json) -> Json:
    return obj(
        {name: {"type": "array", "items": item}, "count": {"type": "integer"}}, [name, "count"]
    )


TASK_SAMPLE: Json = {
    "id": "tk_1",
    "contactId": "ct_1",
    "title": "Call back",
    "body": None,
    "assignedTo": None,
    "dueDate": "2026-12-03T09:00:00.000Z",
    "completed": False,
    "dateAdded": SAMPLE_AT,
}
NOTE_SAMPLE: Json = {
    "id": "nt_1",
    "contactId": "ct_1",
    "body": "Prefers email.",
    "userId": None,
    "title": None,
    "color": None,
    "pinned": False,
    "dateAdded": SAMPLE_AT,
}
TASK_IDS = {"contactId": ID, "taskId": ID}
NOTE_IDS = {"contactId": ID, "noteId": ID}
CONTACT_ID = {"contactId": ID}
TASK_OUT = output_schema(TaskOut)
NOTE_OUT = output_schema(NoteOut)


async def create_task(context: ActionContext, values: Json) -> Json:
    (contact_id,), fields = split(values, "contactId")
    row = await records.create_task(
        context.uow, context.location_id, contact_id, parsed(TaskCreate, fields)
    )
    return dumped(task_out(row))


async def update_task(context: ActionContext, values: Json) -> Json:
    (contact_id, task_id), fields = split(values, "contactId", "taskId")
    row = await records.update_task(
        context.uow, context.location_id, contact_id, task_id, parsed(TaskUpdate, fields)
    )
    return dumped(task_out(row))


def _completion(completed: bool) -> Executor:
    async def run(context: ActionContext, values: Json) -> Json:
        row = await records.set_task_completed(
            context.uow, context.location_id, values["contactId"], values["taskId"], completed
        )
        return dumped(task_out(row))

    return run


async def delete_task(context: ActionContext, values: Json) -> Json:
    row = await records.delete_task(
        context.uow, context.location_id, values["contactId"], values["taskId"]
    )
    return {"deleted": True, "id": row.id}


async def get_task(context: ActionContext, values: Json) -> Json:
    row = await records.find_task(
        context.uow.session, context.location_id, values["contactId"], values["taskId"]
    )
    return dumped(task_out(row))


async def list_tasks(context: ActionContext, values: Json) -> Json:
    rows = await records.list_tasks(context.uow.session, context.location_id, values["contactId"])
    return {"tasks": [dumped(task_out(row)) for row in rows], "count": len(rows)}


async def create_note(context: ActionContext, values: Json) -> Json:
    (contact_id,), fields = split(values, "contactId")
    row = await records.create_note(
        context.uow, context.location_id, contact_id, parsed(NoteCreate, fields)
    )
    return dumped(note_out(row))


async def update_note(context: ActionContext, values: Json) -> Json:
    (contact_id, note_id), fields = split(values, "contactId", "noteId")
    row = await records.update_note(
        context.uow, context.location_id, contact_id, note_id, parsed(NoteUpdate, fields)
    )
    return dumped(note_out(row))


async def delete_note(context: ActionContext, values: Json) -> Json:
    row = await records.delete_note(
        context.uow, context.location_id, values["contactId"], values["noteId"]
    )
    return {"deleted": True, "id": row.id}


async def get_note(context: ActionContext, values: Json) -> Json:
    row = await records.find_note(
        context.uow.session, context.location_id, values["contactId"], values["noteId"]
    )
    return dumped(note_out(row))


async def list_notes(context: ActionContext, values: Json) -> Json:
    rows = await records.list_notes(context.uow.session, context.location_id, values["contactId"])
    return {"notes": [dumped(note_out(row)) for row in rows], "count": len(rows)}


ENTRIES = (
    action(
        "task.create",
        "Create task",
        "Add a task to a contact (TaskCreate).",
        model_schema(TaskCreate, extra=CONTACT_ID, required=CONTACT_ID),
        TASK_OUT,
        TASK_SAMPLE,
        create_task,
    ),
    action(
        "task.update",
        "Update task",
        "Change a contact's task: title, body, due date, assignee, completion.",
        model_schema(TaskUpdate, extra=TASK_IDS, required=TASK_IDS),
        TASK_OUT,
        TASK_SAMPLE,
        update_task,
    ),
    action(
        "task.complete",
        "Complete task",
        "Mark a contact's task completed (TaskComplete, once).",
        obj(TASK_IDS, TASK_IDS),
        TASK_OUT,
        {**TASK_SAMPLE, "completed": True},
        _completion(True),
    ),
    action(
        "task.reopen",
        "Reopen task",
        "Mark a contact's completed task not completed again (TaskUpdate).",
        obj(TASK_IDS, TASK_IDS),
        TASK_OUT,
        TASK_SAMPLE,
        _completion(False),
    ),
    action(
        "task.delete",
        "Delete task",
        "Delete a contact's task (TaskDelete).",
        obj(TASK_IDS, TASK_IDS),
        DELETED,
        {"deleted": True, "id": "tk_1"},
        delete_task,
    ),
    action(
        "task.get",
        "Get task",
        "Read one of a contact's tasks.",
        obj(TASK_IDS, TASK_IDS),
        TASK_OUT,
        TASK_SAMPLE,
        get_task,
        reads=True,
    ),
    action(
        "task.list",
        "List tasks",
        "Every task of a contact, oldest first.",
        obj(CONTACT_ID, CONTACT_ID),
        listed("tasks", TASK_OUT),
        {"tasks": [TASK_SAMPLE], "count": 1},
        list_tasks,
        reads=True,
    ),
    action(
        "note.create",
        "Create note",
        "Add a note to a contact (NoteCreate).",
        model_schema(NoteCreate, extra=CONTACT_ID, required=CONTACT_ID),
        NOTE_OUT,
        NOTE_SAMPLE,
        create_note,
    ),
    action(
        "note.update",
        "Update note",
        "Change a contact's note: body, title, colour, pinned (NoteUpdate).",
        model_schema(NoteUpdate, extra=NOTE_IDS, required=NOTE_IDS),
        NOTE_OUT,
        NOTE_SAMPLE,
        update_note,
    ),
    action(
        "note.delete",
        "Delete note",
        "Delete a contact's note (NoteDelete).",
        obj(NOTE_IDS, NOTE_IDS),
        DELETED,
        {"deleted": True, "id": "nt_1"},
        delete_note,
    ),
    action(
        "note.get",
        "Get note",
        "Read one of a contact's notes.",
        obj(NOTE_IDS, NOTE_IDS),
        NOTE_OUT,
        NOTE_SAMPLE,
        get_note,
        reads=True,
    ),
    action(
        "note.list",
        "List notes",
        "Every note of a contact, oldest first.",
        obj(CONTACT_ID, CONTACT_ID),
        listed("notes", NOTE_OUT),
        {"notes": [NOTE_SAMPLE], "count": 1},
        list_notes,
        reads=True,
    ),
)
