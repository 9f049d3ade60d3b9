"""The issues inbox's triggers: a flow that tells the team when an issue opens (or re-opens)
and when it resolves, from the IssueOpened and IssueResolved events of the log."""

from contactflow.flows.catalog.registry import (
    EVENT_ENVELOPE,
    SAMPLE_AT,
    SAMPLE_ENVELOPE,
    Entry,
    Json,
    trigger_options,
)
from contactflow.platform import event_types as types
from contactflow.platform import issues
from contactflow.platform.auth.scopes import ISSUES_READ

APP = "core"
MOMENT = {"type": "string", "format": "date-time"}
KIND_OPTION: Json = {
    "kind": {
        "enum": list(issues.KINDS),
        "description": "Only the issues of this kind of subject",
    }
}


def _payload(**more: Json) -> Json:
    return {
        "type": "object",
        "required": ["type", "locationId", "issueId", "kind", "subjectId", "count"],
        "properties": {
            **EVENT_ENVELOPE,
            "issueId": {"type": "string"},
            "kind": {"enum": list(issues.KINDS)},
            "subjectId": {"type": "string"},
            "subject": {"type": "string"},
            "count": {"type": "integer", "minimum": 1},
            "firstFailedAt": MOMENT,
            "lastFailedAt": MOMENT,
            "lastError": {"type": "string"},
            **more,
        },
    }


SAMPLE: Json = {
    **SAMPLE_ENVELOPE,
    "issueId": "is_1",
    "kind": issues.CONNECTION,
    "subjectId": "cn_1",
    "subject": "Remote account",
    "count": 1,
    "firstFailedAt": SAMPLE_AT,
    "lastFailedAt": SAMPLE_AT,
    "lastError": "The token endpoint refused: invalid_grant",
}


def _of_kind(payload: Json, options: Json) -> bool:
    return options.get("kind") in (None, payload.get("kind"))


def _trigger(key: str, title: str, event_type: str, description: str, own: Json) -> Entry:
    """`own`: the event's fields beyond every issue event's, each as (schema, sample)."""
    extra = {name: schema for name, (schema, _) in own.items()}
    return Entry(
        key=f"core.issue.{key}",
        app=APP,
        kind="trigger",
        title=title,
        description=description,
        scopes=(ISSUES_READ,),
        input=trigger_options(**KIND_OPTION),
        output=_payload(**extra),
        sample={
            **SAMPLE,
            "type": event_type,
            **{name: value for name, (_, value) in own.items()},
        },
        event_type=event_type,
        matches=_of_kind,
    )


ENTRIES = (
    _trigger(
        "opened",
        "Issue opened",
        types.ISSUE_OPENED,
        (
            "Fires when an issue of the inbox opens, at its subject's first failure, or "
            "re-opens (`reopened`): a webhook endpoint, a flow step, a Mailsuite sender or a "
            "connection's token started failing (`kind`, `subject`, `lastError`). Issues "
            "opened by this flow's own steps do not fire it (`ignoreEventsFrom`)."
        ),
        {"reopened": ({"type": "boolean"}, False)},
    ),
    _trigger(
        "resolved",
        "Issue resolved",
        types.ISSUE_RESOLVED,
        (
            "Fires when an issue of the inbox resolves: its subject worked again "
            "(`resolvedBy`: `recovery`) or a person resolved it (`person`)."
        ),
        {"resolvedBy": ({"enum": ["recovery", "person"]}, "recovery")},
    ),
)
