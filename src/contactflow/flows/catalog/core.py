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

ENTRIES: tuple[Entry, ...] = (
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
    Entry(
        key="core.loop",
        app=APP,
        kind="step",
        title="Loop over items",
        description=(
            "Run the nested steps once for each item of a list (`items`: a JSON list, or a "
            "template that renders one, such as `{{ trigger.tags | tojson }}`); inside, "
            "`loop.item`, `loop.index` and `loop.count` describe the iteration, and a filter "
            "or de-duplicate step ends only its own iteration."
        ),
        scopes=(),
        input={
            "type": "object",
            "required": ["items", "steps"],
            "properties": {
                "items": {"type": ["string", "array"]},
                "steps": {"type": "array", "minItems": 1},
            },
        },
        output={"type": "object", "properties": {"count": {"type": "integer"}}},
        sample={"count": 3},
    ),
)

# Triggers that fire without an event of the log: a cron schedule, a call to the flow's hook
# URL, and a manual run (POST /flows/{flowId}/run, or `contactflow flows run`).
ANY_OBJECT: Json = {"type": "object"}
ENTRIES += (
    Entry(
        key="core.schedule",
        app=APP,
        kind="trigger",
        title="Schedule",
        description=(
            "Fires at each time of a cron expression (`0 9 * * 1-5`) in an IANA timezone "
            "(`Europe/Paris`); times missed while no worker ran fire once, not once each."
        ),
        scopes=(),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["cron"],
            "properties": {
                "cron": {"type": "string", "description": "Five fields: min hour day month dow"},
                "timezone": {"type": "string", "default": "UTC"},
            },
        },
        output={
            "type": "object",
            "properties": {
                "scheduledAt": {"type": "string", "format": "date-time"},
                "cron": {"type": "string"},
                "timezone": {"type": "string"},
            },
        },
        sample={
            "scheduledAt": "2026-12-02T08:00:00.000Z",
            "cron": "0 9 * * 1-5",
            "timezone": "Europe/Paris",
        },
        fires="schedule",
    ),
    Entry(
        key="core.webhook",
        app=APP,
        kind="trigger",
        title="Incoming webhook",
        description=(
            "Fires on each JSON POST to the flow's hook URL (`/hooks/flows/{flowId}/{token}`, "
            "given once the flow is published). With a `secret`, the body must be signed: "
            "`hmac-sha256` (hex HMAC-SHA256 of the body in `X-Signature-256`, `sha256=` "
            "prefix allowed) or `standard-webhooks` (headers webhook-id, webhook-timestamp, "
            "webhook-signature; secret `whsec_...`)."
        ),
        scopes=(),
        input={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "secret": {"type": "string", "minLength": 16},
                "signature": {
                    "enum": ["hmac-sha256", "standard-webhooks"],
                    "default": "hmac-sha256",
                },
            },
        },
        output={
            "type": "object",
            "properties": {
                "body": {},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "query": {"type": "object", "additionalProperties": {"type": "string"}},
                "receivedAt": {"type": "string", "format": "date-time"},
            },
        },
        sample={
            "body": {"email": "ada@example.com", "plan": "pro"},
            "headers": {"content-type": "application/json"},
            "query": {},
            "receivedAt": "2026-12-02T08:00:00.000Z",
        },
        fires="webhook",
    ),
    Entry(
        key="core.manual",
        app=APP,
        kind="trigger",
        title="Manual run",
        description=(
            "Fires when someone runs the flow (POST /flows/{flowId}/run with a JSON object, "
            "or `contactflow flows run FLOW_ID --data ...`): that object is the trigger data."
        ),
        scopes=(),
        input={"type": "object", "additionalProperties": False, "properties": {}},
        output=ANY_OBJECT,
        sample={"email": "ada@example.com"},
        fires="manual",
    ),
)
