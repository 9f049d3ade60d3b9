"""The syncs' triggers: a flow that tells the team when a sync fails on a record, meets a
conflict, finishes a reconciliation, or finds drift, from the Sync* events of the log."""

from contactflow.flows.catalog.registry import (
    EVENT_ENVELOPE,
    SAMPLE_AT,
    SAMPLE_ENVELOPE,
    Entry,
    Json,
    trigger_options,
)
from contactflow.platform import event_types as types
from contactflow.platform.auth.scopes import SYNC_READ
from contactflow.sync.models import FINDING_KINDS

APP = "core"
TEXT: Json = {"type": "string"}
COUNT: Json = {"type": "integer", "minimum": 0}
SYNC_OPTION: Json = {"syncId": {"type": "string", "description": "Only this sync's events"}}
FOUND: Json = {
    "type": "object",
    "properties": {kind: COUNT for kind in FINDING_KINDS},
    "description": "Findings by kind",
}
RECONCILED: dict[str, tuple[Json, object]] = {
    "reconciliationId": (TEXT, "sr_1"),
    "scheduled": ({"type": "boolean"}, False),
    "inSync": (COUNT, 980),
    "pending": (COUNT, 2),
    "found": (FOUND, {kind: int(kind == "differs") * 3 for kind in FINDING_KINDS}),
    "findings": (COUNT, 3),
    "finishedAt": ({"type": "string", "format": "date-time"}, SAMPLE_AT),
}


def _of_sync(payload: Json, options: Json) -> bool:
    return options.get("syncId") in (None, payload.get("syncId"))


def _trigger(
    key: str, title: str, event_type: str, description: str, own: dict[str, tuple[Json, object]]
) -> Entry:
    """`own`: the event's fields beyond every sync event's, each as (schema, sample)."""
    return Entry(
        key=f"core.sync.{key}",
        app=APP,
        kind="trigger",
        title=title,
        description=description,
        scopes=(SYNC_READ,),
        input=trigger_options(**SYNC_OPTION),
        output={
            "type": "object",
            "required": ["type", "locationId", "syncId", *own],
            "properties": {
                **EVENT_ENVELOPE,
                "syncId": TEXT,
                **{name: schema for name, (schema, _) in own.items()},
            },
        },
        sample={
            **SAMPLE_ENVELOPE,
            "type": event_type,
            "syncId": "sy_1",
            **{name: value for name, (_, value) in own.items()},
        },
        event_type=event_type,
        matches=_of_sync,
    )


ENTRIES = (
    _trigger(
        "failed",
        "Sync failed on a record",
        types.SYNC_FAILED,
        (
            "Fires when a sync could not bring a record's partner in step because a side "
            "refused the write (an address another Mailsuite contact has): which side's "
            "record (`side`, `recordId`) and why (`error`). The sync goes on with the others."
        ),
        {
            "side": ({"enum": ["crm", "mailsuite"]}, "crm"),
            "recordId": (TEXT, "ct_1"),
            "error": (TEXT, "email: taken@example.com already exists in this workspace"),
        },
    ),
    _trigger(
        "conflict",
        "Sync conflict",
        types.SYNC_CONFLICT,
        (
            "Fires when a pair's field changed on both sides since it was last synced: the "
            "field's conflict policy picked the side that wins (`winners`: field to `crm` or "
            "`mailsuite`), or held it for a person (`manual`). Fires again when a person "
            "resolves a held conflict (`conflictId`, `resolvedBy`; the winner is the side kept, "
            "or `value` for a value of their own)."
        ),
        {
            "crmId": (TEXT, "ct_1"),
            "mailsuiteId": (TEXT, "mc_1"),
            "winners": (
                {
                    "type": "object",
                    "additionalProperties": {"enum": ["crm", "mailsuite", "manual", "value"]},
                },
                {"firstName": "mailsuite"},
            ),
        },
    ),
    _trigger(
        "reconciliation_finished",
        "Sync reconciliation finished",
        types.SYNC_RECONCILIATION_FINISHED,
        (
            "Fires when a reconciliation of a sync (asked for, or `scheduled`) has compared "
            "both sides: pairs in step (`inSync`), records waiting to be synced (`pending`), "
            "and its findings by kind (`found`)."
        ),
        RECONCILED,
    ),
    _trigger(
        "drift_found",
        "Sync drift found",
        types.SYNC_DRIFT_FOUND,
        (
            "Fires when a reconciliation finds records out of step (`findings` > 0): missing "
            "on a side, fields that differ, conflicts, orphan links (`found`). Its findings "
            "are listed and repaired under /sync/v1/syncs/{syncId}/reconciliations."
        ),
        RECONCILED,
    ),
)
