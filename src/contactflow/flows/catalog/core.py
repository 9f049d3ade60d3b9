"""The built-in app: steps the engine itself performs (filter, delay, paths), and the trigger
of error flows."""

from contactflow.flows.catalog.registry import Entry, Json

APP = "core"
ERROR_TRIGGER = "core.error"
GROUP: Json = {
    "type": "object",
    "required": ["conditions"],
    "properties": {
        "match": {"enum": ["all", "any"], "default": "all"},
        "conditions": {"type": "array", "items": {"type": "object"}},
    },
}

ENTRIES = (
    Entry(
        key=ERROR_TRIGGER,
        app=APP,
        kind="trigger",
        title="A run of a watched flow failed",
        description=(
            "Fires when a run of a flow that names this flow as its error flow (`errorFlowId`) "
            "fails for good: the run's ids, the failed step, the error and the failed run's "
            "trigger data (`input`). An error flow's own failures start no error flow."
        ),
        scopes=(),
        input={"type": "object", "additionalProperties": False, "properties": {}},
        output={
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "locationId": {"type": "string"},
                "flowId": {"type": "string"},
                "flowName": {"type": "string"},
                "versionId": {"type": "string"},
                "runId": {"type": "string"},
                "stepId": {"type": ["string", "null"]},
                "error": {"type": ["string", "null"]},
                "input": {"type": "object"},
                "timestamp": {"type": "string", "format": "date-time"},
            },
        },
        sample={
            "type": ERROR_TRIGGER,
            "locationId": "loc_1",
            "flowId": "fl_1",
            "flowName": "Welcome",
            "versionId": "fv_1",
            "runId": "run_1",
            "stepId": "task",
            "error": "step task: Contact not found",
            "input": {"type": "ContactCreate", "id": "ct_1"},
            "timestamp": "2026-12-02T09:00:00.000Z",
        },
    ),
    Entry(
        key="core.filter",
        app=APP,
        kind="step",
        title="Filter",
        description="Continue only if the conditions hold; otherwise the run ends, successfully.",
        scopes=(),
        input={"type": "object", "required": ["conditions"], "properties": {"conditions": GROUP}},
        output={"type": "object", "properties": {"passed": {"type": "boolean"}}},
        sample={"passed": True},
    ),
    Entry(
        key="core.delay",
        app=APP,
        kind="step",
        title="Delay",
        description=(
            "Wait for a duration (`for`: days, hours, minutes, seconds), or until a time "
            "computed from the data (`until`: a template such as "
            "`{{ trigger.dueDate | subtract(days=1) }}`)."
        ),
        scopes=(),
        input={
            "type": "object",
            "properties": {
                "for": {
                    "type": "object",
                    "properties": {
                        unit: {"type": "number", "minimum": 0}
                        for unit in ("days", "hours", "minutes", "seconds")
                    },
                },
                "until": {"type": "string"},
            },
        },
        output={
            "type": "object",
            "properties": {"resumeAt": {"type": "string", "format": "date-time"}},
        },
        sample={"resumeAt": "2026-12-02T09:00:00.000Z"},
    ),
    Entry(
        key="core.paths",
        app=APP,
        kind="step",
        title="Paths",
        description="Branch: the first path whose conditions hold runs, then the flow goes on.",
        scopes=(),
        input={"type": "object", "required": ["paths"], "properties": {"paths": {"type": "array"}}},
        output={
            "type": "object",
            "properties": {"path": {"type": ["string", "null"]}},
        },
        sample={"path": "vip"},
    ),
)
