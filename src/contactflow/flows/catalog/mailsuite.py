"""The Mailsuite app: triggers on its task events, actions through its services."""

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
from contactflow.mailsuite import contacts, emails, tasks, timeline
from contactflow.mailsuite.mail_schemas import EmailCreate, EmailOut
from contactflow.mailsuite.models import MailContact
from contactflow.mailsuite.references import referenced
from contactflow.mailsuite.schemas import (
    ContactCreate,
    ContactOut,
    TaskCreate,
    TaskOut,
    TaskUpdate,
    TimelineOut,
)
from contactflow.mailsuite.wire import contact_out, email_out, task_out, timeline_out
from contactflow.platform import event_types as types
from contactflow.platform.auth.scopes import MAILSUITE_READ, MAILSUITE_WRITE
from contactflow.platform.errors import NotFound, invalid

APP = "mailsuite"
# Entries written by flows name this system, so a sync can tell them from others' entries.
FLOWS_SOURCE = "flows"
AT = "2026-12-01T09:00:00.000Z"
TASK_SAMPLE: Json = {
    "id": "mt_1",
    "title": "Follow up with Ada",
    "notes": "",
    "dueAt": "2026-12-03T09:00:00.000Z",
    "status": "open",
    "assigneeId": None,
    "contactId": "mc_1",
    "completedAt": None,
    "sourceSystem": None,
    "sourceId": None,
    "createdAt": AT,
    "updatedAt": AT,
}
CONTACT_SAMPLE: Json = {
    "id": "mc_1",
    "locationId": "loc_1",
    "email": "ada@example.com",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "name": "Ada Lovelace",
    "phone": None,
    "customFields": {},
    "subscriptionStatus": "subscribed",
    "statusReason": None,
    "statusChangedAt": None,
    "source": "flows",
    "crmContactId": None,
    "createdAt": AT,
    "updatedAt": AT,
}
ENTRY_SAMPLE: Json = {
    "id": "tl_1",
    "contactId": "mc_1",
    "kind": "note",
    "body": "Prefers email.",
    "sourceSystem": FLOWS_SOURCE,
    "sourceId": "nt_1",
    "emailId": None,
    "taskId": None,
    "occurredAt": AT,
    "createdAt": AT,
}
EMAIL_SAMPLE: Json = {
    "id": "em_1",
    "senderId": "sd_1",
    "contactId": "mc_1",
    "campaignId": None,
    "templateId": None,
    "to": "ada@example.com",
    "subject": "Welcome, Ada",
    "status": "scheduled",
    "messageId": "<em_1@example.com>",
    "scheduledAt": AT,
    "nextAttemptAt": AT,
    "attempts": 0,
    "lastResponse": None,
    "error": None,
    "sentAt": None,
    "bounceKind": None,
    "bounceReason": None,
    "bouncedAt": None,
    "firstOpenedAt": None,
    "firstClickedAt": None,
    "opens": 0,
    "machineOpens": 0,
    "clicks": 0,
    "machineClicks": 0,
    "createdAt": AT,
    "updatedAt": AT,
}
TASK_PAYLOAD: Json = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "locationId": {"type": "string"},
        "webhookId": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "task": output_schema(TaskOut),
        "changes": {"type": "object"},
    },
}
TASK_OUT = output_schema(TaskOut)
SOURCE = {
    "sourceSystem": {"type": "string", "minLength": 1, "maxLength": 64, "default": FLOWS_SOURCE},
    "sourceId": {"type": "string", "minLength": 1, "maxLength": 255},
}


def _trigger(key: str, title: str, event_type: str) -> Entry:
    return Entry(
        key=f"mailsuite.{key}",
        app=APP,
        kind="trigger",
        title=title,
        description=f"Fires on every {event_type} event of the workspace.",
        scopes=(MAILSUITE_READ,),
        input=EVENT_TRIGGER_OPTIONS,
        output=TASK_PAYLOAD,
        sample={
            "type": event_type,
            "locationId": "loc_1",
            "webhookId": "evt_1",
            "task": TASK_SAMPLE,
        },
        event_type=event_type,
    )


async def upsert_contact(context: ActionContext, values: Json) -> Json:
    fields = dict(values)
    crm_contact_id = fields.pop("crmContactId", None)
    row, _ = await contacts.upsert_contact(
        context.uow,
        context.location_id,
        parsed(ContactCreate, fields),
        context.phone_region,
        crm_contact_id,
    )
    return dumped(contact_out(row))


async def find_contact(context: ActionContext, values: Json) -> Json:
    """The contact of an id, of an address or of a Contacts API contact; `found` is false
    when there is none (a filter step can end the run there)."""
    session, location_id = context.uow.session, context.location_id
    row: MailContact | None
    if "contactId" in values:
        try:
            row = await contacts.find_contact(session, location_id, values["contactId"])
        except NotFound:
            row = None
    elif "crmContactId" in values:
        row = await contacts.find_by_crm_id(session, location_id, values["crmContactId"])
    elif "email" in values:
        row = await contacts.find_by_email(session, location_id, values["email"])
    else:
        raise invalid("email", "give contactId, email or crmContactId to find the contact")
    return {"found": row is not None, "contact": dumped(contact_out(row)) if row else None}


async def send_email(context: ActionContext, values: Json) -> Json:
    row = await emails.create_email(
        context.uow,
        context.location_id,
        parsed(EmailCreate, values),
        context.links,
        context.phone_region,
    )
    return dumped(email_out(row))


async def create_task(context: ActionContext, values: Json) -> Json:
    row = await tasks.create_task(context.uow, context.location_id, parsed(TaskCreate, values))
    return dumped(task_out(row))


async def update_task(context: ActionContext, values: Json) -> Json:
    """Change a task, found by its id or by the source it was copied from."""
    fields = dict(values)
    task_id = fields.pop("taskId", None)
    source_system, source_id = (
        fields.pop("sourceSystem", FLOWS_SOURCE),
        fields.pop("sourceId", None),
    )
    if task_id is None and source_id is not None:
        copy = await tasks.task_of_source(
            context.uow.session, context.location_id, source_system, source_id
        )
        if copy is None:
            raise invalid("sourceId", f"no task copied from {source_system} {source_id}")
        task_id = copy.id
    if task_id is None:
        raise invalid("taskId", "give taskId or sourceId to find the task")
    row = await tasks.update_task(
        context.uow, context.location_id, task_id, parsed(TaskUpdate, fields)
    )
    return dumped(task_out(row))


async def complete_task(context: ActionContext, values: Json) -> Json:
    body = TaskUpdate(status="done")
    row = await tasks.update_task(context.uow, context.location_id, values["taskId"], body)
    return dumped(task_out(row))


async def add_note(context: ActionContext, values: Json) -> Json:
    """A note on the contact's timeline; the same source id again is the same entry, so a
    note reported twice (or a step retried) is kept once."""
    contact_id = values["contactId"]
    await referenced(
        contacts.find_contact(context.uow.session, context.location_id, contact_id), "contactId"
    )
    row, _ = await timeline.add_entry(
        context.uow,
        context.location_id,
        contact_id,
        "note",
        values["body"],
        source_system=values.get("sourceSystem", FLOWS_SOURCE),
        source_id=values.get("sourceId", context.idempotency_key),
    )
    return dumped(timeline_out(row))


async def update_note(context: ActionContext, values: Json) -> Json:
    """Change a note in place, found by its id or by the source that reported it."""
    session, location_id = context.uow.session, context.location_id
    if "entryId" in values:
        entry = await timeline.find_entry(session, location_id, values["entryId"])
    elif "sourceId" in values:
        source_system = values.get("sourceSystem", FLOWS_SOURCE)
        entry = await timeline.entry_of_source(
            session, location_id, source_system, values["sourceId"]
        )
    else:
        raise invalid("entryId", "give entryId or sourceId to find the entry")
    row = await timeline.update_entry(context.uow, entry, values["body"])
    return dumped(timeline_out(row))


EMAIL_INPUT = model_schema(EmailCreate)
TEMPLATE_INPUT = model_schema(
    EmailCreate, required=["templateId"], without=["subject", "html", "text"]
)
BODY = {"type": "string", "maxLength": 50_000}

ENTRIES = (
    _trigger("task.created", "Mailsuite task created", types.MAILSUITE_TASK_CREATE),
    _trigger("task.updated", "Mailsuite task updated", types.MAILSUITE_TASK_UPDATE),
    _trigger("task.completed", "Mailsuite task completed", types.MAILSUITE_TASK_COMPLETE),
    Entry(
        key="mailsuite.contact.upsert",
        app=APP,
        kind="action",
        title="Create or update contact",
        description=(
            "Find the Mailsuite contact by email and update it, or add it; linked to the "
            "Contacts API contact `crmContactId` when given."
        ),
        scopes=(MAILSUITE_WRITE,),
        input=model_schema(ContactCreate, extra={"crmContactId": ID}),
        output=output_schema(ContactOut),
        sample=CONTACT_SAMPLE,
        run=upsert_contact,
    ),
    Entry(
        key="mailsuite.contact.find",
        app=APP,
        kind="action",
        title="Find contact",
        description=(
            "Find a Mailsuite contact by its id, its email or its Contacts API contact id."
        ),
        scopes=(MAILSUITE_READ,),
        input={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "contactId": ID,
                "email": {"type": "string", "maxLength": 320},
                "crmContactId": ID,
            },
        },
        output={
            "type": "object",
            "required": ["found", "contact"],
            "properties": {
                "found": {"type": "boolean"},
                "contact": {"anyOf": [output_schema(ContactOut), {"type": "null"}]},
            },
        },
        sample={"found": True, "contact": CONTACT_SAMPLE},
        run=find_contact,
    ),
    Entry(
        key="mailsuite.email.send",
        app=APP,
        kind="action",
        title="Send email",
        description="Queue an email to a contact or an address, with the content given here.",
        scopes=(MAILSUITE_WRITE,),
        input=EMAIL_INPUT,
        output=output_schema(EmailOut),
        sample=EMAIL_SAMPLE,
        run=send_email,
    ),
    Entry(
        key="mailsuite.email.send_template",
        app=APP,
        kind="action",
        title="Send email from template",
        description="Queue an email merged from a Mailsuite template.",
        scopes=(MAILSUITE_WRITE,),
        input=TEMPLATE_INPUT,
        output=output_schema(EmailOut),
        sample={**EMAIL_SAMPLE, "templateId": "tp_1"},
        run=send_email,
    ),
    Entry(
        key="mailsuite.task.create",
        app=APP,
        kind="action",
        title="Create task",
        description=(
            "Add a Mailsuite task, optionally about a contact (on its timeline); one copied "
            "from a record of another system (sourceSystem, sourceId) is added once."
        ),
        scopes=(MAILSUITE_WRITE,),
        input=model_schema(TaskCreate),
        output=TASK_OUT,
        sample=TASK_SAMPLE,
        run=create_task,
    ),
    Entry(
        key="mailsuite.task.update",
        app=APP,
        kind="action",
        title="Update task",
        description=(
            "Change a Mailsuite task's title, notes, due date, assignee or status; the task "
            "is found by taskId or by the record it was copied from (sourceId)."
        ),
        scopes=(MAILSUITE_WRITE,),
        input=model_schema(TaskUpdate, extra={"taskId": ID, **SOURCE}),
        output=TASK_OUT,
        sample=TASK_SAMPLE,
        run=update_task,
    ),
    Entry(
        key="mailsuite.task.complete",
        app=APP,
        kind="action",
        title="Complete task",
        description="Mark a Mailsuite task done (MailsuiteTaskComplete, once).",
        scopes=(MAILSUITE_WRITE,),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["taskId"],
            "properties": {"taskId": ID},
        },
        output=TASK_OUT,
        sample={**TASK_SAMPLE, "status": "done", "completedAt": AT},
        run=complete_task,
    ),
    Entry(
        key="mailsuite.timeline.add_note",
        app=APP,
        kind="action",
        title="Add timeline note",
        description="Add a note to a Mailsuite contact's timeline, once per source id.",
        scopes=(MAILSUITE_WRITE,),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["body", "contactId"],
            "properties": {"contactId": ID, "body": BODY, **SOURCE},
        },
        output=output_schema(TimelineOut),
        sample=ENTRY_SAMPLE,
        run=add_note,
    ),
    Entry(
        key="mailsuite.timeline.update_note",
        app=APP,
        kind="action",
        title="Update timeline note",
        description="Change a timeline note in place, found by entryId or by sourceId.",
        scopes=(MAILSUITE_WRITE,),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["body"],
            "properties": {"entryId": ID, "body": BODY, **SOURCE},
        },
        output=output_schema(TimelineOut),
        sample=ENTRY_SAMPLE,
        run=update_note,
    ),
)
