"""Built-in data steps: a lookup table, and JSON read from text or built from values."""

import json

from contactflow.flows.catalog.registry import ActionContext, Entry, Json
from contactflow.platform.errors import invalid

APP = "core"
# Text a JSON step reads or writes at most: a flow's data stays small enough to store.
MAX_JSON = 1_000_000


async def look_up(_context: ActionContext, values: Json) -> Json:
    """The table's value for the key (text keys; a number key is looked up as its text)."""
    table: Json = values["table"]
    key = str(values["key"])
    if not values.get("caseSensitive", True):
        folded = {str(name).casefold(): value for name, value in table.items()}
        if key.casefold() in folded:
            return {"result": folded[key.casefold()], "found": True}
    elif key in table:
        return {"result": table[key], "found": True}
    return {"result": values.get("default"), "found": False}


async def parse_json(_context: ActionContext, values: Json) -> Json:
    try:
        return {"result": json.loads(values["text"])}
    except json.JSONDecodeError as error:
        raise invalid("text", f"not JSON ({error.msg} at position {error.pos})") from None


async def build_json(_context: ActionContext, values: Json) -> Json:
    value = values["value"]
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_JSON:
        raise invalid("value", f"builds more than {MAX_JSON} characters of JSON")
    return {"result": value, "text": text}


ENTRIES = (
    Entry(
        key="core.lookup",
        app=APP,
        kind="action",
        title="Lookup table",
        description=(
            'The value the table gives the key (`{"gold": "VIP"}`), or `default` when '
            "the table does not have it; `found` says which."
        ),
        scopes=(),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["key", "table"],
            "properties": {
                "key": {"type": ["string", "number"]},
                "table": {"type": "object", "maxProperties": 1000},
                "default": {},
                "caseSensitive": {"type": "boolean", "default": True},
            },
        },
        output={
            "type": "object",
            "properties": {"result": {}, "found": {"type": "boolean"}},
        },
        sample={"result": "VIP", "found": True},
        run=look_up,
    ),
    Entry(
        key="core.json.parse",
        app=APP,
        kind="action",
        title="Parse JSON",
        description="Read JSON text (a webhook's body, a custom field) into data later steps use.",
        scopes=(),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["text"],
            "properties": {"text": {"type": "string", "maxLength": MAX_JSON}},
        },
        output={"type": "object", "properties": {"result": {}}},
        sample={"result": {"plan": "gold", "seats": 3}},
        run=parse_json,
    ),
    Entry(
        key="core.json.build",
        app=APP,
        kind="action",
        title="Build JSON",
        description=(
            'Build an object or list from templates (`{"name": "{{ trigger.name }}"}`); '
            "the output has it as data (`result`) and as JSON text (`text`)."
        ),
        scopes=(),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["value"],
            "properties": {"value": {"type": ["object", "array"]}},
        },
        output={
            "type": "object",
            "properties": {"result": {}, "text": {"type": "string"}},
        },
        sample={"result": {"name": "Ada"}, "text": '{"name":"Ada"}'},
        run=build_json,
    ),
)
