"""Built-in steps that remember between runs: key-value storage shared by a location's flows,
and de-duplicate, which ends the run when the flow let the same key through within a window."""

from datetime import timedelta

from contactflow.flows import keyvalue
from contactflow.flows.catalog.registry import ActionContext, Entry, Json
from contactflow.platform.errors import invalid

APP = "core"
KEY = {"type": "string", "minLength": 1, "maxLength": keyvalue.KEY_LENGTH}
WINDOW: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        unit: {"type": "number", "minimum": 0} for unit in ("days", "hours", "minutes", "seconds")
    },
}
STORED: Json = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "value": {}, "found": {"type": "boolean"}},
}


def _input(required: list[str], **properties: Json) -> Json:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": {"key": KEY, **properties},
    }


async def get(context: ActionContext, values: Json) -> Json:
    row = await keyvalue.get_value(context.uow, context.location_id, values["key"])
    value = row.value if row is not None else values.get("default")
    return {"key": values["key"], "value": value, "found": row is not None}


async def set_(context: ActionContext, values: Json) -> Json:
    await keyvalue.set_value(context.uow, context.location_id, values["key"], values["value"])
    return {"key": values["key"], "value": values["value"], "found": True}


async def delete(context: ActionContext, values: Json) -> Json:
    found = await keyvalue.delete_value(context.uow, context.location_id, values["key"])
    return {"key": values["key"], "value": None, "found": found}


async def increment(context: ActionContext, values: Json) -> Json:
    try:
        total = await keyvalue.increment(
            context.uow, context.location_id, values["key"], values.get("by", 1)
        )
    except ValueError as error:
        raise invalid("key", str(error)) from None
    return {"key": values["key"], "value": int(total) if total.is_integer() else total}


async def dedupe(context: ActionContext, values: Json) -> Json:
    window = timedelta(**values["window"])
    if window <= timedelta(0):
        raise invalid("window", "must be longer than zero")
    first = await keyvalue.first_sighting(context.uow, context.flow_id, values["key"], window)
    return {"key": values["key"], "duplicate": not first}


ENTRIES = (
    Entry(
        key="core.storage.get",
        app=APP,
        kind="action",
        title="Get stored value",
        description=(
            "The value stored under a key by any flow of the location, or `default`; "
            "`found` says which."
        ),
        scopes=(),
        input=_input(["key"], default={}),
        output=STORED,
        sample={"key": "last-order", "value": "ord_1", "found": True},
        run=get,
    ),
    Entry(
        key="core.storage.set",
        app=APP,
        kind="action",
        title="Store value",
        description="Store a JSON value under a key, for later runs of the location's flows.",
        scopes=(),
        input=_input(["key", "value"], value={}),
        output=STORED,
        sample={"key": "last-order", "value": "ord_1", "found": True},
        run=set_,
    ),
    Entry(
        key="core.storage.delete",
        app=APP,
        kind="action",
        title="Delete stored value",
        description="Forget a key; `found` says whether it was stored.",
        scopes=(),
        input=_input(["key"]),
        output=STORED,
        sample={"key": "last-order", "value": None, "found": True},
        run=delete,
    ),
    Entry(
        key="core.storage.increment",
        app=APP,
        kind="action",
        title="Increment stored number",
        description=(
            "Add `by` (1 unless given; negative to count down) to the number stored under a "
            "key, from 0 when there is none. Two runs at once both count."
        ),
        scopes=(),
        input=_input(["key"], by={"type": "number", "default": 1}),
        output=STORED,
        sample={"key": "signups", "value": 42},
        run=increment,
    ),
    Entry(
        key="core.dedupe",
        app=APP,
        kind="action",
        title="De-duplicate",
        description=(
            "End the run (successfully) when this flow already let the same key through "
            'within the window (`{"hours": 24}`); otherwise remember the key and go on.'
        ),
        scopes=(),
        input=_input(["key", "window"], window=WINDOW),
        output={
            "type": "object",
            "properties": {"key": {"type": "string"}, "duplicate": {"type": "boolean"}},
        },
        sample={"key": "ada@example.com", "duplicate": False},
        run=dedupe,
        ends_run=lambda output: bool(output.get("duplicate")),
    ),
)
