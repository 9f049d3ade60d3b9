"""The Contacts API app's triggers: one per event of the location's log, some narrowed by
their options (which tag, which fields, which status)."""

from contactflow.contacts.record_schemas import AppointmentOut, BusinessOut
from contactflow.flows.catalog.registry import (
    EVENT_ENVELOPE,
    SAMPLE_AT,
    SAMPLE_ENVELOPE,
    Entry,
    Json,
    Predicate,
    output_schema,
    trigger_options,
)
from contactflow.platform import event_types as types
from contactflow.platform.auth.scopes import BUSINESSES_READ, CALENDAR_EVENTS_READ, CONTACTS_READ

APP = "contacts"
STRING = {"type": ["string", "null"]}
STRINGS = {"type": "array", "items": {"type": "string"}}
_CONTACT_TEXT = (
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "companyName",
    "address1",
    "city",
    "state",
    "country",
    "postalCode",
    "website",
    "source",
    "contactType",
    "timezone",
    "assignedTo",
    "businessId",
    "dateAdded",
    "dateOfBirth",
)
CONTACT_PAYLOAD: Json = {
    "type": "object",
    "required": ["type", "locationId", "id"],
    "properties": {
        **EVENT_ENVELOPE,
        "id": {"type": "string"},
        **{name: STRING for name in _CONTACT_TEXT},
        "dnd": {"type": "boolean"},
        "tags": STRINGS,
        "followers": STRINGS,
        "customFields": {"type": "array", "items": {"type": "object"}},
        "changes": {"type": "object"},
        "tagsAdded": STRINGS,
        "tagsRemoved": STRINGS,
        "dndSettings": {"type": "object"},
    },
}
CONTACT_SAMPLE: Json = {
    **SAMPLE_ENVELOPE,
    "id": "ct_1",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+14155552671",
    "tags": ["lead"],
    "dnd": False,
    "contactType": "lead",
    "dateAdded": SAMPLE_AT,
}
TASK_PAYLOAD: Json = {
    "type": "object",
    "required": ["type", "locationId", "id", "contactId"],
    "properties": {
        **EVENT_ENVELOPE,
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
TASK_SAMPLE: Json = {
    **SAMPLE_ENVELOPE,
    "id": "tk_1",
    "contactId": "ct_1",
    "title": "Call back",
    "body": None,
    "assignedTo": None,
    "dueDate": "2026-12-03T09:00:00.000Z",
    "completed": False,
    "dateAdded": SAMPLE_AT,
}
NOTE_PAYLOAD: Json = {
    "type": "object",
    "required": ["type", "locationId", "id", "contactId"],
    "properties": {
        **EVENT_ENVELOPE,
        "id": {"type": "string"},
        "contactId": {"type": "string"},
        "body": {"type": "string"},
        "dateAdded": {"type": "string", "format": "date-time"},
    },
}
NOTE_SAMPLE: Json = {
    **SAMPLE_ENVELOPE,
    "id": "nt_1",
    "contactId": "ct_1",
    "body": "Prefers email.",
    "dateAdded": SAMPLE_AT,
}
APPOINTMENT_SAMPLE: Json = {
    "id": "ap_1",
    "calendarId": "cal_1",
    "locationId": "loc_1",
    "contactId": "ct_1",
    "title": "Intro call",
    "status": "booked",
    "appointmentStatus": "confirmed",
    "assignedUserId": None,
    "users": [],
    "notes": None,
    "address": None,
    "startTime": "2026-12-03T09:00:00.000Z",
    "endTime": "2026-12-03T09:30:00.000Z",
    "dateAdded": SAMPLE_AT,
    "dateUpdated": SAMPLE_AT,
}
APPOINTMENT_PAYLOAD: Json = {
    "type": "object",
    "required": ["type", "locationId", "appointment"],
    "properties": {
        **EVENT_ENVELOPE,
        "appointment": output_schema(AppointmentOut),
        "previousAppointmentStatus": STRING,
    },
}
BUSINESS_SAMPLE: Json = {
    "id": "bz_1",
    "locationId": "loc_1",
    "name": "Analytical Engines Ltd",
    "phone": None,
    "email": None,
    "website": None,
    "address": None,
    "city": "London",
    "state": None,
    "postalCode": None,
    "country": "GB",
    "description": None,
    "createdAt": SAMPLE_AT,
    "updatedAt": SAMPLE_AT,
}
BUSINESS_PAYLOAD: Json = {
    "type": "object",
    "required": ["type", "locationId", "business"],
    "properties": {**EVENT_ENVELOPE, "business": output_schema(BusinessOut)},
}


def _membership(field: str) -> Json:
    return {
        "type": "object",
        "required": ["type", "locationId", "contactId", field],
        "properties": {
            **EVENT_ENVELOPE,
            "contactId": {"type": "string"},
            field: {"type": "string"},
            "eventStartTime": STRING,
        },
    }


def _trigger(
    key: str,
    title: str,
    event_type: str,
    payload: Json,
    sample: Json,
    *,
    description: str | None = None,
    options: Json | None = None,
    matches: Predicate | None = None,
    flow_field: str | None = None,
    scope: str = CONTACTS_READ,
) -> Entry:
    return Entry(
        key=f"contacts.{key}",
        app=APP,
        kind="trigger",
        title=title,
        description=description or f"Fires on every {event_type} event of the location.",
        scopes=(scope,),
        input=trigger_options(**(options or {})),
        output=payload,
        sample={**sample, "type": event_type},
        event_type=event_type,
        flow_field=flow_field,
        matches=matches,
    )


def _changed_fields(payload: Json, options: Json) -> bool:
    wanted = options.get("fields")
    return not wanted or bool(set(wanted) & set(payload.get("changes") or {}))


def _tag_in(field: str) -> Predicate:
    def matches(payload: Json, options: Json) -> bool:
        tags = payload.get(field) or []
        wanted = str(options.get("tag") or "").strip().lower()
        return bool(tags) and (not wanted or wanted in tags)

    return matches


def _status_changed(payload: Json, options: Json) -> bool:
    status = (payload.get("appointment") or {}).get("appointmentStatus")
    if status == payload.get("previousAppointmentStatus"):
        return False
    return options.get("status") in (None, status)


def _named(field: str) -> Predicate:
    def matches(payload: Json, options: Json) -> bool:
        return options.get(field) in (None, payload.get(field))

    return matches


TAG_OPTION = {"tag": {"type": "string", "minLength": 1, "maxLength": 255}}
STATUSES = ["new", "confirmed", "cancelled", "showed", "noshow", "invalid"]
ID_OPTION = {"type": "string", "minLength": 1, "maxLength": 64}

ENTRIES: tuple[Entry, ...] = (
    _trigger(
        "contact.created", "Contact created", types.CONTACT_CREATE, CONTACT_PAYLOAD, CONTACT_SAMPLE
    ),
    _trigger(
        "contact.updated",
        "Contact updated",
        types.CONTACT_UPDATE,
        CONTACT_PAYLOAD,
        {**CONTACT_SAMPLE, "changes": {"email": {"old": None, "new": "ada@example.com"}}},
        description=(
            "Fires when a contact changes; with `fields` (wire names such as email, tags, "
            "customFields), only when one of those changed. `changes` holds old and new values."
        ),
        options={"fields": {"type": "array", "items": {"type": "string"}, "maxItems": 50}},
        matches=_changed_fields,
    ),
    _trigger(
        "contact.deleted", "Contact deleted", types.CONTACT_DELETE, CONTACT_PAYLOAD, CONTACT_SAMPLE
    ),
    _trigger(
        "contact.dnd_changed",
        "Do-not-disturb changed",
        types.CONTACT_DND_UPDATE,
        CONTACT_PAYLOAD,
        {**CONTACT_SAMPLE, "dnd": True, "dndSettings": {"Email": {"status": "active"}}},
        description="Fires when a contact's do-not-disturb flag or channel settings change.",
    ),
    _trigger(
        "contact.tag_added",
        "Tag added",
        types.CONTACT_TAG_UPDATE,
        CONTACT_PAYLOAD,
        {**CONTACT_SAMPLE, "tagsAdded": ["vip"], "tagsRemoved": []},
        description="Fires when tags are added to a contact; with `tag`, only for that tag.",
        options=TAG_OPTION,
        matches=_tag_in("tagsAdded"),
    ),
    _trigger(
        "contact.tag_removed",
        "Tag removed",
        types.CONTACT_TAG_UPDATE,
        CONTACT_PAYLOAD,
        {**CONTACT_SAMPLE, "tagsAdded": [], "tagsRemoved": ["lead"]},
        description="Fires when tags are removed from a contact; with `tag`, only for that tag.",
        options=TAG_OPTION,
        matches=_tag_in("tagsRemoved"),
    ),
    _trigger("note.created", "Note created", types.NOTE_CREATE, NOTE_PAYLOAD, NOTE_SAMPLE),
    _trigger("note.updated", "Note updated", types.NOTE_UPDATE, NOTE_PAYLOAD, NOTE_SAMPLE),
    _trigger("note.deleted", "Note deleted", types.NOTE_DELETE, NOTE_PAYLOAD, NOTE_SAMPLE),
    _trigger("task.created", "Task created", types.TASK_CREATE, TASK_PAYLOAD, TASK_SAMPLE),
    _trigger("task.updated", "Task updated", types.TASK_UPDATE, TASK_PAYLOAD, TASK_SAMPLE),
    _trigger(
        "task.completed",
        "Task completed",
        types.TASK_COMPLETE,
        TASK_PAYLOAD,
        {**TASK_SAMPLE, "completed": True},
    ),
    _trigger("task.deleted", "Task deleted", types.TASK_DELETE, TASK_PAYLOAD, TASK_SAMPLE),
    _trigger(
        "appointment.created",
        "Appointment created",
        types.APPOINTMENT_CREATE,
        APPOINTMENT_PAYLOAD,
        {**SAMPLE_ENVELOPE, "appointment": APPOINTMENT_SAMPLE},
        scope=CALENDAR_EVENTS_READ,
    ),
    _trigger(
        "appointment.updated",
        "Appointment updated",
        types.APPOINTMENT_UPDATE,
        APPOINTMENT_PAYLOAD,
        {**SAMPLE_ENVELOPE, "appointment": APPOINTMENT_SAMPLE, "previousAppointmentStatus": "new"},
        scope=CALENDAR_EVENTS_READ,
    ),
    _trigger(
        "appointment.status_changed",
        "Appointment status changed",
        types.APPOINTMENT_UPDATE,
        APPOINTMENT_PAYLOAD,
        {**SAMPLE_ENVELOPE, "appointment": APPOINTMENT_SAMPLE, "previousAppointmentStatus": "new"},
        description=(
            "Fires when an appointment's status changes (confirmed, showed, no-show, "
            "cancelled...); with `status`, only when it became that status."
        ),
        options={"status": {"enum": STATUSES}},
        matches=_status_changed,
        scope=CALENDAR_EVENTS_READ,
    ),
    _trigger(
        "appointment.deleted",
        "Appointment deleted",
        types.APPOINTMENT_DELETE,
        APPOINTMENT_PAYLOAD,
        {**SAMPLE_ENVELOPE, "appointment": APPOINTMENT_SAMPLE},
        scope=CALENDAR_EVENTS_READ,
    ),
    _trigger(
        "business.created",
        "Business created",
        types.BUSINESS_CREATE,
        BUSINESS_PAYLOAD,
        {**SAMPLE_ENVELOPE, "business": BUSINESS_SAMPLE},
        scope=BUSINESSES_READ,
    ),
    _trigger(
        "business.updated",
        "Business updated",
        types.BUSINESS_UPDATE,
        BUSINESS_PAYLOAD,
        {**SAMPLE_ENVELOPE, "business": BUSINESS_SAMPLE},
        scope=BUSINESSES_READ,
    ),
    _trigger(
        "business.deleted",
        "Business deleted",
        types.BUSINESS_DELETE,
        BUSINESS_PAYLOAD,
        {**SAMPLE_ENVELOPE, "business": BUSINESS_SAMPLE},
        scope=BUSINESSES_READ,
    ),
    _trigger(
        "contact.enrolled",
        "Contact added to this flow",
        types.CONTACT_WORKFLOW_ADD,
        _membership("workflowId"),
        {**SAMPLE_ENVELOPE, "contactId": "ct_1", "workflowId": "fl_1", "eventStartTime": None},
        description=(
            "Fires when a contact is added to this flow through the Contacts API "
            "(POST /contacts/{contactId}/workflow/{flowId}): a manual run for one contact."
        ),
        flow_field="workflowId",
    ),
    _trigger(
        "contact.added_to_workflow",
        "Contact added to a workflow",
        types.CONTACT_WORKFLOW_ADD,
        _membership("workflowId"),
        {**SAMPLE_ENVELOPE, "contactId": "ct_1", "workflowId": "fl_2", "eventStartTime": None},
        description=(
            "Fires when a contact is added to any workflow (flow) of the location; with "
            "`workflowId`, only to that one."
        ),
        options={"workflowId": ID_OPTION},
        matches=_named("workflowId"),
    ),
    _trigger(
        "contact.added_to_campaign",
        "Contact added to a campaign",
        types.CONTACT_CAMPAIGN_ADD,
        _membership("campaignId"),
        {**SAMPLE_ENVELOPE, "contactId": "ct_1", "campaignId": "cp_1"},
        description=(
            "Fires when a contact is added to a Mailsuite campaign through the Contacts API; "
            "with `campaignId`, only to that one."
        ),
        options={"campaignId": ID_OPTION},
        matches=_named("campaignId"),
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
STARTING_PAYLOAD: Json = {
    **APPOINTMENT_PAYLOAD,
    "properties": {
        **APPOINTMENT_PAYLOAD["properties"],
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
        sample={**TASK_SAMPLE, "type": types.TASK_CREATE, "plannedAt": "2026-12-03T07:00:00.000Z"},
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
        output=STARTING_PAYLOAD,
        sample={
            **SAMPLE_ENVELOPE,
            "type": types.APPOINTMENT_UPDATE,
            "appointment": APPOINTMENT_SAMPLE,
            "plannedAt": "2026-12-03T09:00:00.000Z",
        },
        fires="record",
    ),
)
