"""The Mailsuite app's actions on the workspace's people and work: contacts and their
subscription, lists, tasks and timeline notes."""

from contactflow.flows.catalog.mailsuite import (
    CONTACT_SAMPLE,
    ENTRY_SAMPLE,
    FLOWS_SOURCE,
    TASK_SAMPLE,
)
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
from contactflow.mailsuite import contacts, lists, tasks, timeline
from contactflow.mailsuite.models import MailContact, TimelineEntry
from contactflow.mailsuite.references import referenced
from contactflow.mailsuite.schemas import (
    ContactCreate,
    ContactOut,
    ContactUpdate,
    TaskCreate,
    TaskOut,
    TaskUpdate,
    TimelineOut,
)
from contactflow.mailsuite.wire import contact_out, task_out, timeline_out
from contactflow.platform.auth.scopes import MAILSUITE_READ, MAILSUITE_WRITE
from contactflow.platform.errors import NotFound, invalid

APP = "mailsuite"
DELETED: Json = obj({"deleted": {"const": True}, "id": {"type": "string"}}, ["deleted", "id"])
CONTACT_OUT = output_schema(ContactOut)
TASK_OUT = output_schema(TaskOut)
ENTRY_OUT = output_schema(TimelineOut)
SOURCE = {
    "sourceSystem": {"type": "string", "minLength": 1, "maxLength": 64, "default": FLOWS_SOURCE},
    "sourceId": {"type": "string", "minLength": 1, "maxLength": 255},
}
BODY = {"type": "string", "maxLength": 50_000}
CONTACT_ID = {"contactId": ID}
TASK_ID = {"taskId": ID}
MEMBER = {"listId": ID, "contactId": ID}


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
) -> Entry:
    """A Mailsuite action (reading ones need only mailsuite.readonly)."""
    return Entry(
        key=f"mailsuite.{key}",
        app=APP,
        kind="action",
        title=title,
        description=description,
        scopes=(MAILSUITE_READ if reads else MAILSUITE_WRITE,),
        input=input,
        output=output,
        sample=sample,
        run=run,
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


async def delete_contact(context: ActionContext, values: Json) -> Json:
    row = await contacts.delete_contact(context.uow, context.location_id, values["contactId"])
    return {"deleted": True, "id": row.id}


def _subscription(status: str) -> Executor:
    async def run(context: ActionContext, values: Json) -> Json:
        row = await contacts.update_contact(
            context.uow,
            context.location_id,
            values["contactId"],
            parsed(ContactUpdate, {"subscriptionStatus": status}),
            context.phone_region,
        )
        return dumped(contact_out(row))

    return run


async def add_to_list(context: ActionContext, values: Json) -> Json:
    added, _ = await lists.add_members(
        context.uow, context.location_id, values["listId"], [values["contactId"]]
    )
    return {**values, "added": bool(added)}


async def remove_from_list(context: ActionContext, values: Json) -> Json:
    await lists.remove_member(
        context.uow, context.location_id, values["listId"], values["contactId"]
    )
    return {**values, "removed": True}


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


async def delete_task(context: ActionContext, values: Json) -> Json:
    row = await tasks.delete_task(context.uow, context.location_id, values["taskId"])
    return {"deleted": True, "id": row.id}


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


async def _entry(context: ActionContext, values: Json) -> TimelineEntry:
    """A timeline entry found by its id or by the source that reported it."""
    session, location_id = context.uow.session, context.location_id
    if "entryId" in values:
        return await timeline.find_entry(session, location_id, values["entryId"])
    if "sourceId" in values:
        source_system = values.get("sourceSystem", FLOWS_SOURCE)
        return await timeline.entry_of_source(
            session, location_id, source_system, values["sourceId"]
        )
    raise invalid("entryId", "give entryId or sourceId to find the entry")


async def update_note(context: ActionContext, values: Json) -> Json:
    row = await timeline.update_entry(context.uow, await _entry(context, values), values["body"])
    return dumped(timeline_out(row))


async def delete_note(context: ActionContext, values: Json) -> Json:
    row = await timeline.delete_entry(context.uow, await _entry(context, values))
    return {"deleted": True, "id": row.id}


MEMBERSHIP = {"listId": {"type": "string"}, "contactId": {"type": "string"}}

ENTRIES = (
    action(
        "contact.upsert",
        "Create or update contact",
        "Find the Mailsuite contact by email and update it, or add it; linked to the "
        "Contacts API contact `crmContactId` when given.",
        model_schema(ContactCreate, extra={"crmContactId": ID}),
        CONTACT_OUT,
        CONTACT_SAMPLE,
        upsert_contact,
    ),
    action(
        "contact.find",
        "Find contact",
        "Find a Mailsuite contact by its id, its email or its Contacts API contact id.",
        obj({"contactId": ID, "email": {"type": "string", "maxLength": 320}, "crmContactId": ID}),
        obj(
            {
                "found": {"type": "boolean"},
                "contact": {"anyOf": [CONTACT_OUT, {"type": "null"}]},
            },
            ["found", "contact"],
        ),
        {"found": True, "contact": CONTACT_SAMPLE},
        find_contact,
        reads=True,
    ),
    action(
        "contact.delete",
        "Delete contact",
        "Delete a workspace contact with its emails, timeline and list memberships "
        "(MailsuiteContactDelete).",
        obj(CONTACT_ID, CONTACT_ID),
        DELETED,
        {"deleted": True, "id": "mc_1"},
        delete_contact,
    ),
    action(
        "contact.unsubscribe",
        "Unsubscribe contact",
        "Stop mailing a contact: campaigns skip it and single sends are refused.",
        obj(CONTACT_ID, CONTACT_ID),
        CONTACT_OUT,
        {**CONTACT_SAMPLE, "subscriptionStatus": "unsubscribed"},
        _subscription("unsubscribed"),
    ),
    action(
        "contact.resubscribe",
        "Resubscribe contact",
        "Mail a contact again after it unsubscribed or bounced (with its consent).",
        obj(CONTACT_ID, CONTACT_ID),
        CONTACT_OUT,
        CONTACT_SAMPLE,
        _subscription("subscribed"),
    ),
    action(
        "list.add_contact",
        "Add contact to list",
        "Add a contact to a list; `added` is false when it already was a member.",
        obj(MEMBER, MEMBER),
        obj({**MEMBERSHIP, "added": {"type": "boolean"}}, ["listId", "contactId", "added"]),
        {"listId": "ls_1", "contactId": "mc_1", "added": True},
        add_to_list,
    ),
    action(
        "list.remove_contact",
        "Remove contact from list",
        "Take a contact out of a list (404 when it is not a member).",
        obj(MEMBER, MEMBER),
        obj({**MEMBERSHIP, "removed": {"const": True}}, ["listId", "contactId", "removed"]),
        {"listId": "ls_1", "contactId": "mc_1", "removed": True},
        remove_from_list,
    ),
    action(
        "task.create",
        "Create task",
        "Add a Mailsuite task, optionally about a contact (on its timeline); one copied "
        "from a record of another system (sourceSystem, sourceId) is added once.",
        model_schema(TaskCreate),
        TASK_OUT,
        TASK_SAMPLE,
        create_task,
    ),
    action(
        "task.update",
        "Update task",
        "Change a Mailsuite task's title, notes, due date, assignee or status; the task "
        "is found by taskId or by the record it was copied from (sourceId).",
        model_schema(TaskUpdate, extra={**TASK_ID, **SOURCE}),
        TASK_OUT,
        TASK_SAMPLE,
        update_task,
    ),
    action(
        "task.complete",
        "Complete task",
        "Mark a Mailsuite task done (MailsuiteTaskComplete, once).",
        obj(TASK_ID, TASK_ID),
        TASK_OUT,
        {**TASK_SAMPLE, "status": "done", "completedAt": SAMPLE_AT},
        complete_task,
    ),
    action(
        "task.delete",
        "Delete task",
        "Delete a Mailsuite task (MailsuiteTaskDelete).",
        obj(TASK_ID, TASK_ID),
        DELETED,
        {"deleted": True, "id": "mt_1"},
        delete_task,
    ),
    action(
        "timeline.add_note",
        "Add timeline note",
        "Add a note to a Mailsuite contact's timeline, once per source id.",
        obj({**CONTACT_ID, "body": BODY, **SOURCE}, ["body", "contactId"]),
        ENTRY_OUT,
        ENTRY_SAMPLE,
        add_note,
    ),
    action(
        "timeline.update_note",
        "Update timeline note",
        "Change a timeline note in place, found by entryId or by sourceId.",
        obj({"entryId": ID, "body": BODY, **SOURCE}, ["body"]),
        ENTRY_OUT,
        ENTRY_SAMPLE,
        update_note,
    ),
    action(
        "timeline.delete_note",
        "Delete timeline note",
        "Remove a timeline note, found by entryId or by sourceId (TimelineEntryDelete).",
        obj({"entryId": ID, **SOURCE}),
        DELETED,
        {"deleted": True, "id": "tl_1"},
        delete_note,
    ),
)
