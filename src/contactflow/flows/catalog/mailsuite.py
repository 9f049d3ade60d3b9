"""The Mailsuite app's triggers: email sending and engagement, contacts, tasks, the
timeline and campaigns, from the workspace's events."""

from typing import get_args

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
from contactflow.mailsuite.mail_schemas import CampaignCounts
from contactflow.mailsuite.models import TimelineKind
from contactflow.mailsuite.schemas import ContactOut, TaskOut, TimelineOut
from contactflow.platform import event_types as types
from contactflow.platform.auth.scopes import MAILSUITE_READ

APP = "mailsuite"
# Entries written by flows name this system, so a sync can tell them from others' entries.
FLOWS_SOURCE = "flows"
STRING = {"type": ["string", "null"]}
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
    "createdAt": SAMPLE_AT,
    "updatedAt": SAMPLE_AT,
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
    "createdAt": SAMPLE_AT,
    "updatedAt": SAMPLE_AT,
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
    "occurredAt": SAMPLE_AT,
    "createdAt": SAMPLE_AT,
}
COUNTS_SAMPLE: Json = {
    "recipients": 2,
    "skipped": 0,
    "scheduled": 0,
    "sent": 2,
    "failed": 0,
    "bounced": 0,
    "opened": 1,
    "clicked": 0,
    "unsubscribed": 0,
}


def _payload(required: list[str], properties: Json) -> Json:
    return {
        "type": "object",
        "required": ["type", "locationId", *required],
        "properties": {**EVENT_ENVELOPE, **properties},
    }


TASK_PAYLOAD = _payload(["task"], {"task": output_schema(TaskOut), "changes": {"type": "object"}})
CONTACT_PAYLOAD = _payload(
    ["contact"],
    {
        "contact": output_schema(ContactOut),
        "new": {"type": "boolean"},
        "changes": {"type": "object"},
    },
)
TIMELINE_PAYLOAD = _payload(["entry"], {"entry": output_schema(TimelineOut)})
EMAIL_PAYLOAD = _payload(
    ["emailId", "contactId", "to"],
    {
        "emailId": STRING,
        "contactId": {"type": "string"},
        "campaignId": STRING,
        "messageId": {"type": "string"},
        "to": {"type": "string"},
        "subject": {"type": "string"},
        "sentAt": STRING,
        "smtpResponse": {"type": "string"},
        "error": {"type": "string"},
        "attempts": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "userAgent": {"type": "string"},
        "ip": STRING,
        "machine": {"type": "boolean"},
        "machineReason": STRING,
        "url": {"type": "string"},
        "kind": {"enum": ["hard", "soft"]},
        "reason": {"type": "string"},
        "recipient": {"type": "string"},
        "method": {"type": "string"},
    },
)
CAMPAIGN_PAYLOAD = _payload(
    ["campaignId", "counts"],
    {
        "campaignId": {"type": "string"},
        "name": {"type": "string"},
        "launchedAt": STRING,
        "counts": output_schema(CampaignCounts),
    },
)
EMAIL_EVENT: Json = {
    **SAMPLE_ENVELOPE,
    "emailId": "em_1",
    "contactId": "mc_1",
    "campaignId": None,
    "messageId": "<em_1@example.com>",
    "to": "ada@example.com",
    "subject": "Welcome, Ada",
    "sentAt": SAMPLE_AT,
}
OPEN_DETAIL: Json = {
    "at": SAMPLE_AT,
    "userAgent": "Mozilla/5.0 (Macintosh) Thunderbird/128.0",
    "ip": "198.51.100.7",
    "machine": False,
    "machineReason": None,
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
) -> Entry:
    return Entry(
        key=f"mailsuite.{key}",
        app=APP,
        kind="trigger",
        title=title,
        description=description or f"Fires on every {event_type} event of the workspace.",
        scopes=(MAILSUITE_READ,),
        input=trigger_options(**(options or {})),
        output=payload,
        sample={**sample, "type": event_type},
        event_type=event_type,
        matches=matches,
    )


def _human(payload: Json, options: Json) -> bool:
    """Machine opens and clicks (image proxies, link scanners) count only when asked for."""
    return bool(options.get("includeMachine")) or not payload.get("machine")


def _is_new(new: bool) -> Predicate:
    def matches(payload: Json, options: Json) -> bool:
        return payload.get("new") is new

    return matches


def _entry_kind(payload: Json, options: Json) -> bool:
    return options.get("kind") in (None, (payload.get("entry") or {}).get("kind"))


def _campaign(payload: Json, options: Json) -> bool:
    return options.get("campaignId") in (None, payload.get("campaignId"))


MACHINE_OPTION = {"includeMachine": {"type": "boolean", "default": False}}

ENTRIES = (
    _trigger(
        "email.sent",
        "Email sent",
        types.EMAIL_SENT,
        EMAIL_PAYLOAD,
        {**EMAIL_EVENT, "smtpResponse": "250 2.0.0 Ok: queued"},
        description="Fires when the SMTP server accepted an email (or the sandbox outbox kept it).",
    ),
    _trigger(
        "email.failed",
        "Email failed",
        types.EMAIL_FAILED,
        EMAIL_PAYLOAD,
        {
            **EMAIL_EVENT,
            "sentAt": None,
            "error": "550 5.1.1 <ada@example.com>: Recipient address rejected",
            "attempts": 1,
        },
        description=(
            "Fires when an email will not be sent: the SMTP server refused it for good, its "
            "retries ran out, or its contact unsubscribed or bounced before it went. `error` "
            "says why; a flow's run that queued the email lists it in its `failedEmails`."
        ),
    ),
    _trigger(
        "email.opened",
        "Email opened",
        types.EMAIL_OPENED,
        EMAIL_PAYLOAD,
        {**EMAIL_EVENT, **OPEN_DETAIL},
        description=(
            "Fires on every open of an email by a person (the first 100 of each email); with "
            "`includeMachine`, image proxies' and prefetchers' fetches too."
        ),
        options=MACHINE_OPTION,
        matches=_human,
    ),
    _trigger(
        "email.first_opened",
        "Email opened for the first time",
        types.EMAIL_FIRST_OPENED,
        EMAIL_PAYLOAD,
        {**EMAIL_EVENT, **OPEN_DETAIL},
        description="Fires once per email, on its first open by a person.",
    ),
    _trigger(
        "link.clicked",
        "Link clicked",
        types.LINK_CLICKED,
        EMAIL_PAYLOAD,
        {**EMAIL_EVENT, **OPEN_DETAIL, "url": "https://example.com/offer"},
        description=(
            "Fires on every click of a tracked link by a person; with `includeMachine`, link "
            "scanners' too."
        ),
        options=MACHINE_OPTION,
        matches=_human,
    ),
    _trigger(
        "link.first_clicked",
        "Link clicked for the first time",
        types.LINK_FIRST_CLICKED,
        EMAIL_PAYLOAD,
        {**EMAIL_EVENT, **OPEN_DETAIL, "url": "https://example.com/offer"},
        description="Fires once per email, on the first click of one of its links by a person.",
    ),
    _trigger(
        "email.bounced",
        "Email bounced",
        types.EMAIL_BOUNCED,
        EMAIL_PAYLOAD,
        {
            **EMAIL_EVENT,
            "kind": "hard",
            "reason": "550 5.1.1 no such user",
            "recipient": "ada@example.com",
        },
        description=(
            "Fires on a bounce report; a hard bounce also stops every further send to the contact."
        ),
    ),
    _trigger(
        "contact.unsubscribed",
        "Contact unsubscribed",
        types.EMAIL_UNSUBSCRIBED,
        EMAIL_PAYLOAD,
        {**EMAIL_EVENT, "method": "one-click"},
        description="Fires when a recipient unsubscribes through an email's unsubscribe link.",
    ),
    _trigger(
        "contact.created",
        "Mailsuite contact created",
        types.MAILSUITE_CONTACT_UPSERT,
        CONTACT_PAYLOAD,
        {**SAMPLE_ENVELOPE, "contact": CONTACT_SAMPLE, "new": True, "changes": {}},
        description="Fires when a contact is added to the workspace (by any means).",
        matches=_is_new(True),
    ),
    _trigger(
        "contact.updated",
        "Mailsuite contact updated",
        types.MAILSUITE_CONTACT_UPSERT,
        CONTACT_PAYLOAD,
        {
            **SAMPLE_ENVELOPE,
            "contact": CONTACT_SAMPLE,
            "new": False,
            "changes": {"firstName": {"old": "Ad", "new": "Ada"}},
        },
        description="Fires when a workspace contact changes; `changes` holds old and new values.",
        matches=_is_new(False),
    ),
    _trigger(
        "task.created",
        "Mailsuite task created",
        types.MAILSUITE_TASK_CREATE,
        TASK_PAYLOAD,
        {**SAMPLE_ENVELOPE, "task": TASK_SAMPLE},
    ),
    _trigger(
        "task.updated",
        "Mailsuite task updated",
        types.MAILSUITE_TASK_UPDATE,
        TASK_PAYLOAD,
        {
            **SAMPLE_ENVELOPE,
            "task": TASK_SAMPLE,
            "changes": {"title": {"old": "Call", "new": "Call Ada"}},
        },
    ),
    _trigger(
        "task.completed",
        "Mailsuite task completed",
        types.MAILSUITE_TASK_COMPLETE,
        TASK_PAYLOAD,
        {**SAMPLE_ENVELOPE, "task": {**TASK_SAMPLE, "status": "done", "completedAt": SAMPLE_AT}},
    ),
    _trigger(
        "timeline.entry_added",
        "Timeline entry added",
        types.TIMELINE_ENTRY_CREATE,
        TIMELINE_PAYLOAD,
        {**SAMPLE_ENVELOPE, "entry": ENTRY_SAMPLE},
        description=(
            "Fires when an entry goes on a contact's timeline (email sent, opened, clicked, a "
            "task, a note...); with `kind`, only entries of that kind."
        ),
        options={"kind": {"enum": list(get_args(TimelineKind))}},
        matches=_entry_kind,
    ),
    _trigger(
        "campaign.finished",
        "Campaign finished",
        types.CAMPAIGN_FINISHED,
        CAMPAIGN_PAYLOAD,
        {
            **SAMPLE_ENVELOPE,
            "campaignId": "cp_1",
            "name": "December news",
            "launchedAt": SAMPLE_AT,
            "counts": COUNTS_SAMPLE,
        },
        description=(
            "Fires once when a launched campaign has no email left to send (each sent, failed "
            "or cancelled), with its counts; with `campaignId`, only for that one."
        ),
        options={"campaignId": {"type": "string", "minLength": 1, "maxLength": 64}},
        matches=_campaign,
    ),
)
