"""The Contacts API app: triggers on its events, actions through its services."""

from typing import Any

from contactflow.contacts import records
from contactflow.contacts.record_schemas import (
    NoteCreate,
    NoteOut,
    TaskCreate,
    TaskOut,
    TaskUpdate,
)
from contactflow.contacts.wire import note_out, task_out
from contactflow.flows.catalog.registry import (
    EVENT_TRIGGER_OPTIONS,
    ID,
    ActionContext,
    Entry,
    Json,
    dumped,
    model_schema,
    output_schema,
    parsed,
)
from contactflow.platform import event_types as types
from contactflow.platform.auth.scopes import CONTACTS_READ, CONTACTS_WRITE

APP = "contacts"
STRING = {"type": ["string", "null"]}
# What every delivered event carries besides its own fields.
ENVELOPE = {
    "type": {"type": "string"},
    "locationId": {"type": "string"},
    "webhookId": {"type": "string"},
    "timestamp": {"type": "string", "format": "date-time"},
    "versionId": {"type": "string"},
}
CONTACT_PAYLOAD: Json = {
    "type": "object",
    "properties": {
        **ENVELOPE,
        "id": {"type": "string"},
        **{
            name: STRING
            for name in (
                "firstName",
                "lastName",
                "name",
                "email",
                "phone",
                "companyName",
                "source",
                "assignedTo",
                "dateAdded",
                "dateOfBirth",
            )
        },
        "dnd": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "customFields": {"type": "array", "items": {"type": "object"}},
    },
}
TASK_PAYLOAD: Json = {
    "type": "object",
    "properties": {
        **ENVELOPE,
        "id": {"type": "string"},
        "contactId": {"type": "string"},
        "title": {"type": "string"},
        "body": STRING,
        "assignedTo": STRING,
        "dueDate": {"type": "string", "format": "date-time"},
        "completed": {"type": "boolean"},
        "dateAdded": {"type": "string", "format": "date-time"},
    },
}
NOTE_PAYLOAD: Json = {
    "type": "object",
    "properties": {
        **ENVELOPE,
        "id": {"type": "string"},
        "contactId": {"type": "string"},
        "body": {"type": "string"},
        "dateAdded": {"type": "string", "format": "date-time"},
    },
}
_BASE = {"locationId": "loc_1", "webhookId": "evt_1", "timestamp": "2026-12-01T09:00:00.000Z"}
CONTACT_SAMPLE = {
    **_BASE,
    "type": types.CONTACT_CREATE,
    "id": "ct_1",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+14155552671",
    "tags": ["lead"],
    "dateAdded": "2026-12-01T09:00:00.000Z",
}
TASK_SAMPLE = {
    **_BASE,
    "type": types.TASK_CREATE,
    "id": "tk_1",
    "contactId": "ct_1",
    "title": "Call back",
    "body": None,
    "assignedTo": None,
    "dueDate": "2026-12-03T09:00:00.000Z",
    "completed": False,
    "dateAdded": "2026-12-01T09:00:00.000Z",
}
NOTE_SAMPLE = {
    **_BASE,
    "type": types.NOTE_CREATE,
    "id": "nt_1",
    "contactId": "ct_1",
    "body": "Prefers email.",
    "dateAdded": "2026-12-01T09:00:00.000Z",
}


def _trigger(key: str, title: str, event_type: str, payload: Json, sample: Json) -> Entry:
    return Entry(
        key=f"contacts.{key}",
        app=APP,
        kind="trigger",
        title=title,
        description=f"Fires on every {event_type} event of the location.",
        scopes=(CONTACTS_READ,),
        input=EVENT_TRIGGER_OPTIONS,
        output=payload,
        sample={**sample, "type": event_type},
        event_type=event_type,
    )


def _split(values: Json, *names: str) -> tuple[list[Any], Json]:
    rest = dict(values)
    return [rest.pop(name) for name in names], rest


async def create_task(context: ActionContext, values: Json) -> Json:
    (contact_id,), fields = _split(values, "contactId")
    row = await records.create_task(
        context.uow, context.location_id, contact_id, parsed(TaskCreate, fields)
    )
    return dumped(task_out(row))


async def update_task(context: ActionContext, values: Json) -> Json:
    (contact_id, task_id), fields = _split(values, "contactId", "taskId")
    row = await records.update_task(
        context.uow, context.location_id, contact_id, task_id, parsed(TaskUpdate, fields)
    )
    return dumped(task_out(row))


async def complete_task(context: ActionContext, values: Json) -> Json:
    row = await records.set_task_completed(
        context.uow, context.location_id, values["contactId"], values["taskId"], True
    )
    return dumped(task_out(row))


async def create_note(context: ActionContext, values: Json) -> Json:
    (contact_id,), fields = _split(values, "contactId")
    row = await records.create_note(
        context.uow, context.location_id, contact_id, parsed(NoteCreate, fields)
    )
    return dumped(note_out(row))


TASK_OUT = output_schema(TaskOut)
TASK_OUT_SAMPLE = {
    "id": "tk_1",
    "contactId": "ct_1",
    "title": "Call back",
    "body": None,
    "assignedTo": None,
    "dueDate": "2026-12-03T09:00:00.000Z",
    "completed": False,
    "dateAdded": "2026-12-01T09:00:00.000Z",
}
IDS = {"contactId": ID, "taskId": ID}

ENTRIES: tuple[Entry, ...] = (
    _trigger(
        "contact.created", "Contact created", types.CONTACT_CREATE, CONTACT_PAYLOAD, CONTACT_SAMPLE
    ),
    _trigger("task.created", "Task created", types.TASK_CREATE, TASK_PAYLOAD, TASK_SAMPLE),
    _trigger("task.updated", "Task updated", types.TASK_UPDATE, TASK_PAYLOAD, TASK_SAMPLE),
    _trigger("task.completed", "Task completed", types.TASK_COMPLETE, TASK_PAYLOAD, TASK_SAMPLE),
    _trigger("note.created", "Note created", types.NOTE_CREATE, NOTE_PAYLOAD, NOTE_SAMPLE),
    _trigger("note.updated", "Note updated", types.NOTE_UPDATE, NOTE_PAYLOAD, NOTE_SAMPLE),
    Entry(
        key="contacts.contact.enrolled",
        app=APP,
        kind="trigger",
        title="Contact added to this flow",
        description=(
            "Fires when a contact is added to this flow through the Contacts API "
            "(POST /contacts/{contactId}/workflow/{flowId}): a manual run for one contact."
        ),
        scopes=(CONTACTS_READ,),
        input=EVENT_TRIGGER_OPTIONS,
        output={
            "type": "object",
            "properties": {
                **ENVELOPE,
                "contactId": {"type": "string"},
                "workflowId": {"type": "string"},
                "eventStartTime": STRING,
            },
        },
        sample={
            **_BASE,
            "type": types.CONTACT_WORKFLOW_ADD,
            "contactId": "ct_1",
            "workflowId": "fl_1",
            "eventStartTime": None,
        },
        event_type=types.CONTACT_WORKFLOW_ADD,
        flow_field="workflowId",
    ),
    Entry(
        key="contacts.task.create",
        app=APP,
        kind="action",
        title="Create task",
        description="Add a task to a contact (TaskCreate).",
        scopes=(CONTACTS_WRITE,),
        input=model_schema(TaskCreate, extra={"contactId": ID}, required=["contactId"]),
        output=TASK_OUT,
        sample=TASK_OUT_SAMPLE,
        run=create_task,
    ),
    Entry(
        key="contacts.task.update",
        app=APP,
        kind="action",
        title="Update task",
        description="Change a contact's task: title, body, due date, assignee, completion.",
        scopes=(CONTACTS_WRITE,),
        input=model_schema(TaskUpdate, extra=IDS, required=IDS),
        output=TASK_OUT,
        sample=TASK_OUT_SAMPLE,
        run=update_task,
    ),
    Entry(
        key="contacts.task.complete",
        app=APP,
        kind="action",
        title="Complete task",
        description="Mark a contact's task completed (TaskComplete, once).",
        scopes=(CONTACTS_WRITE,),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": sorted(IDS),
            "properties": IDS,
        },
        output=TASK_OUT,
        sample={**TASK_OUT_SAMPLE, "completed": True},
        run=complete_task,
    ),
    Entry(
        key="contacts.note.create",
        app=APP,
        kind="action",
        title="Create note",
        description="Add a note to a contact (NoteCreate).",
        scopes=(CONTACTS_WRITE,),
        input=model_schema(NoteCreate, extra={"contactId": ID}, required=["contactId"]),
        output=output_schema(NoteOut),
        sample={
            "id": "nt_1",
            "contactId": "ct_1",
            "body": "Prefers email.",
            "userId": None,
            "title": None,
            "color": None,
            "pinned": False,
            "dateAdded": "2026-12-01T09:00:00.000Z",
        },
        run=create_note,
    ),
)

# Triggers at a time relative to a record's own: N before a task's due date or an
# appointment's start (0: at that time). Each fires once per record and planned time; a
# moved time plans anew, a completed, cancelled or deleted record drops its plan.
BEFORE: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {unit: {"type": "number", "minimum": 0} for unit in ("days", "hours", "minutes")},
}
APPOINTMENT_PAYLOAD: Json = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "locationId": {"type": "string"},
        "appointment": {"type": "object"},
        "plannedAt": {"type": "string", "format": "date-time"},
    },
}
ENTRIES += (
    Entry(
        key="contacts.task.due",
        app=APP,
        kind="trigger",
        title="Task due in…",
        description=(
            "Fires `before` (days, hours, minutes) a task's due date, once; 0 fires when it "
            "falls due. The task as its last event carried it, plus `plannedAt`."
        ),
        scopes=(CONTACTS_READ,),
        input={"type": "object", "additionalProperties": False, "properties": {"before": BEFORE}},
        output={
            **TASK_PAYLOAD,
            "properties": {
                **TASK_PAYLOAD["properties"],
                "plannedAt": {"type": "string", "format": "date-time"},
            },
        },
        sample={**TASK_SAMPLE, "plannedAt": "2026-12-03T07:00:00.000Z"},
        fires="record",
    ),
    Entry(
        key="contacts.appointment.starting",
        app=APP,
        kind="trigger",
        title="Appointment starts in…",
        description=(
            "Fires `before` (days, hours, minutes) an appointment's start time, once; a "
            "cancelled or deleted appointment does not fire."
        ),
        scopes=(CONTACTS_READ,),
        input={"type": "object", "additionalProperties": False, "properties": {"before": BEFORE}},
        output=APPOINTMENT_PAYLOAD,
        sample={
            "type": types.APPOINTMENT_UPDATE,
            "locationId": "loc_1",
            "appointment": {
                "id": "ap_1",
                "calendarId": "cal_1",
                "contactId": "ct_1",
                "title": "Demo",
                "appointmentStatus": "confirmed",
                "startTime": "2026-12-03T10:00:00.000Z",
                "endTime": "2026-12-03T10:30:00.000Z",
            },
            "plannedAt": "2026-12-03T09:00:00.000Z",
        },
        fires="record",
    ),
)
