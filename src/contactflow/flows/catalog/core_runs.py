"""The trigger of a flow that tells the team when any flow's run fails, from the FlowRunFailed
events of the log (where an error flow, `core.error`, watches the flows that name it)."""

from contactflow.flows.catalog.core import ERROR_TRIGGER
from contactflow.flows.catalog.registry import (
    EVENT_ENVELOPE,
    SAMPLE_ENVELOPE,
    Entry,
    Json,
    trigger_options,
)
from contactflow.platform import event_types as types
from contactflow.platform.auth.scopes import FLOWS_READ

RUN_FAILED_TRIGGER = "core.flow.run_failed"
# The failures of flows that handle failures are not told again: a failing notifier (or its
# error flow) would otherwise start another notifier, whose failure starts the first again.
TOLD_ALREADY = (RUN_FAILED_TRIGGER, ERROR_TRIGGER)
TEXT: Json = {"type": "string"}
MAYBE_TEXT: Json = {"type": ["string", "null"]}


def _reported(payload: Json, options: Json) -> bool:
    return payload.get("trigger") not in TOLD_ALREADY and options.get("flowId") in (
        None,
        payload.get("flowId"),
    )


ENTRIES = (
    Entry(
        key=RUN_FAILED_TRIGGER,
        app="core",
        kind="trigger",
        title="Flow run failed",
        description=(
            "Fires when a run of any flow of the location (or of `flowId` only) fails for "
            "good, after its step's retries: the flow, the run, the failed step (`stepId`), "
            "the `error`, and the key of the failed flow's `trigger`. Test runs do not fire "
            "it, nor do the failures of flows on this trigger or on `core.error`, so flows "
            "that report failures never report each other's in a loop."
        ),
        scopes=(FLOWS_READ,),
        input=trigger_options(flowId={"type": "string", "description": "Only this flow's runs"}),
        output={
            "type": "object",
            "required": ["type", "locationId", "flowId", "runId", "error"],
            "properties": {
                **EVENT_ENVELOPE,
                "flowId": TEXT,
                "runId": TEXT,
                "eventId": MAYBE_TEXT,
                "replayOf": MAYBE_TEXT,
                "trigger": TEXT,
                "stepId": MAYBE_TEXT,
                "error": TEXT,
            },
        },
        sample={
            **SAMPLE_ENVELOPE,
            "type": types.FLOW_RUN_FAILED,
            "flowId": "fl_1",
            "runId": "run_1",
            "eventId": "evt_0",
            "replayOf": None,
            "trigger": "contacts.contact.created",
            "stepId": "task",
            "error": "step task: Contact not found",
        },
        event_type=types.FLOW_RUN_FAILED,
        matches=_reported,
    ),
)
