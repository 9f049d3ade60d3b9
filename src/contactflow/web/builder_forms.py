"""The builder's form and the flow definition, both ways.

The builder page is one form whose field names are the definition's own paths, with list
positions as numbers (`trigger.options.ignoreEventsFrom`, `steps.1.input.subject`,
`conditions.conditions.0.operator`). Its state travels in the form: `tree` turns the posted
fields into a nested tree of texts, `definition_data` turns that tree into the definition's
wire form (texts typed by the catalog's JSON Schemas), and `form_tree` does the reverse for a
saved definition. builder_errors moves the messages about a definition onto these names.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from contactflow.flows.catalog import find

Json = dict[str, Any]
# The parts of the form that are the definition; other fields (pickers, sample choice) are not.
ROOTS = ("trigger", "conditions", "steps")
STEP_TYPES = ("action", "filter", "delay", "paths", "loop")
DURATION_UNITS = ("days", "hours", "minutes")
ERROR_THEN = ("stop", "continue", "errorFlow")
# Operators that compare with no value, with numbers, or with a list of values.
NO_VALUE = frozenset({"exists", "notExists"})
NUMBER_VALUE = frozenset({"gt", "gte", "lt", "lte", "withinLastDays"})
LIST_VALUE = frozenset({"in", "between"})


class _Omitted:
    """A field left empty: not part of the definition."""


OMIT = _Omitted()


def tree(pairs: Iterable[tuple[str, str]]) -> Json:
    """The posted fields of the definition as nested dicts and lists of texts."""
    root: Json = {}
    for name, value in pairs:
        parts = name.split(".")
        if parts[0] not in ROOTS or not all(parts):
            continue
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    listed: Json = _listed(root)
    return listed


def _listed(node: Any) -> Any:
    """Dicts keyed by positions become lists, in the order of the positions."""
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_listed(node[key]) for key in sorted(node, key=int)]
    return {key: _listed(value) for key, value in node.items()}


def kind_of(schema: Mapping[str, Any]) -> str:
    """How the builder asks for a value of this JSON Schema: enum, boolean, integer, number,
    string, strings (a list of texts), object (with named properties) or json."""
    options = [item for item in schema.get("anyOf", [schema]) if item.get("type") != "null"]
    main = options[0] if len(options) == 1 else {}
    if "enum" in main or "enum" in schema:
        return "enum"
    types = main.get("type")
    if isinstance(types, list):
        named = [item for item in types if item != "null"]
        types = "string" if "string" in named else named[0] if len(named) == 1 else None
    if types is None and main.get("format") == "date-time":
        return "string"
    if types in ("boolean", "integer", "number", "string"):
        return str(types)
    if types == "array" and main.get("items", {}).get("type") == "string":
        return "strings"
    if types == "object" and main.get("properties"):
        return "object"
    return "json"


def properties_of(schema: Mapping[str, Any]) -> Json:
    options = [item for item in schema.get("anyOf", [schema]) if item.get("type") != "null"]
    found: Json = options[0].get("properties", {}) if len(options) == 1 else {}
    return found


def part_of(raw: Any, name: str) -> Json:
    """The dict at `name` of a dict of the tree; empty when the form has none there."""
    found = raw.get(name) if isinstance(raw, dict) else None
    return found if isinstance(found, dict) else {}


def items_of(raw: Any, name: str) -> list[Json]:
    """The dicts of the list at `name` of a dict of the tree."""
    found = raw.get(name) if isinstance(raw, dict) else None
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _mapped(text: str) -> bool:
    return "{{" in text or "{%" in text


def typed(raw: Any, schema: Mapping[str, Any], where: str, errors: dict[str, str]) -> Any:
    """The form's text as the schema's type; a mapping (a template) stays text. OMIT for an
    empty field; a text that is not of the type puts a message in `errors` at `where`."""
    kind = kind_of(schema)
    if kind == "object":
        if not isinstance(raw, dict):
            return OMIT
        values = {}
        for name, sub in properties_of(schema).items():
            value = typed(raw.get(name, ""), sub, f"{where}.{name}", errors)
            if value is not OMIT:
                values[name] = value
        return values or OMIT
    text = raw if isinstance(raw, str) else ""
    if not text.strip():
        return OMIT
    if kind in ("enum", "string") or (_mapped(text) and kind != "strings"):
        return text
    if kind == "boolean":
        return text == "true"
    if kind in ("integer", "number"):
        try:
            number = float(text)
        except ValueError:
            errors[where] = "a number" if kind == "number" else "a whole number"
            return OMIT
        if kind == "integer" and not number.is_integer():
            errors[where] = "a whole number"
            return OMIT
        return int(number) if number.is_integer() else number
    if kind == "strings":
        single = text.strip()
        if "\n" not in single and single.startswith("{{") and single.endswith("}}"):
            return single
        return [line.strip() for line in text.splitlines() if line.strip()]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        errors[where] = "JSON, or a mapped field"
        return OMIT


def as_text(value: Any, schema: Mapping[str, Any]) -> Any:
    """A definition's value as the form shows it (the reverse of `typed`)."""
    kind = kind_of(schema)
    if kind == "object" and isinstance(value, dict):
        return {
            name: as_text(value[name], sub)
            for name, sub in properties_of(schema).items()
            if name in value
        }
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if kind == "strings" and isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return json.dumps(value, ensure_ascii=False)


def _values(raw: Any, schema: Mapping[str, Any], where: str, errors: dict[str, str]) -> Json:
    given = raw if isinstance(raw, dict) else {}
    values = {}
    for name, text in given.items():
        value = typed(text, properties_of(schema).get(name, {}), f"{where}.{name}", errors)
        if value is not OMIT:
            values[name] = value
    return values


def _condition_value(operator: str, text: str) -> Any:
    if operator in NO_VALUE:
        return OMIT
    if operator in LIST_VALUE:
        return [part.strip() for part in text.split(",") if part.strip()]
    if operator in NUMBER_VALUE:
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    lowered = text.strip().lower()
    return lowered == "true" if lowered in ("true", "false") else text


def group_data(raw: Any) -> Json | None:
    """A condition group of the form; None when it holds no condition."""
    if not isinstance(raw, dict):
        return None
    items = []
    for item in raw.get("conditions", []):
        if not isinstance(item, dict):
            continue
        if "match" in item:
            nested = group_data(item)
            if nested is not None:
                items.append(nested)
            continue
        condition: Json = {"field": item.get("field", ""), "operator": item.get("operator", "")}
        value = _condition_value(condition["operator"], item.get("value", ""))
        if value is not OMIT:
            condition["value"] = value
        if item.get("caseSensitive") == "true":
            condition["caseSensitive"] = True
        items.append(condition)
    if not items:
        return None
    return {"match": raw.get("match", "all"), "conditions": items}


def _error_policy(raw: Any, where: str, errors: dict[str, str]) -> Json:
    given = raw if isinstance(raw, dict) else {}
    policy: Json = {}
    for name, kind in (("retries", "integer"), ("backoffSeconds", "number")):
        value = typed(given.get(name, ""), {"type": kind}, f"{where}.{name}", errors)
        if value is not OMIT:
            policy[name] = value
    if given.get("then", "stop") != "stop":
        policy["then"] = given["then"]
    return policy


def _steps(raw: Any, where: str, errors: dict[str, str]) -> list[Json]:
    given = raw if isinstance(raw, list) else []
    return [
        _step(item, f"{where}.{number}", errors)
        for number, item in enumerate(given)
        if isinstance(item, dict)
    ]


def _step(raw: Json, where: str, errors: dict[str, str]) -> Json:
    kind = raw.get("type", "")
    step: Json = {"type": kind, "id": raw.get("id", "")}
    if kind == "action":
        step["action"] = raw.get("action", "")
        entry = find(step["action"])
        schema = entry.input if entry is not None else {}
        step["input"] = _values(raw.get("input"), schema, f"{where}.input", errors)
        policy = _error_policy(raw.get("onError"), f"{where}.onError", errors)
        if policy:
            step["onError"] = policy
    elif kind == "filter":
        step["conditions"] = group_data(raw.get("conditions")) or {"conditions": []}
    elif kind == "delay":
        until = raw.get("until", "")
        if until.strip():
            step["until"] = until
        else:
            duration = _values(raw.get("for"), DURATION, f"{where}.for", errors)
            step["for"] = duration
    elif kind == "paths":
        step["paths"] = []
        for number, branch in enumerate(items_of(raw, "paths")):
            place = f"{where}.paths.{number}"
            data: Json = {"name": branch.get("name", "")}
            conditions = group_data(branch.get("conditions"))
            if conditions is not None:
                data["conditions"] = conditions
            data["steps"] = _steps(branch.get("steps"), f"{place}.steps", errors)
            step["paths"].append(data)
    elif kind == "loop":
        step["items"] = raw.get("items", "")
        step["steps"] = _steps(raw.get("steps"), f"{where}.steps", errors)
    return step


DURATION: Json = {"properties": {unit: {"type": "number"} for unit in DURATION_UNITS}}


def definition_data(raw: Json) -> tuple[Json, dict[str, str]]:
    """The definition's wire form from the form's tree, and the fields whose text is not of
    their type (by field name)."""
    errors: dict[str, str] = {}
    trigger_raw = part_of(raw, "trigger")
    key = trigger_raw.get("key", "")
    entry = find(key)
    trigger: Json = {"key": key}
    options = _values(
        trigger_raw.get("options"), entry.input if entry else {}, "trigger.options", errors
    )
    if options:
        trigger["options"] = options
    data: Json = {"trigger": trigger}
    conditions = group_data(raw.get("conditions"))
    if conditions is not None:
        data["conditions"] = conditions
    data["steps"] = _steps(raw.get("steps"), "steps", errors)
    return data, errors


def _group_tree(group: Json | None) -> Json:
    if not group:
        return {"match": "all", "conditions": []}
    items: list[Json] = []
    for item in group.get("conditions", []):
        if "conditions" in item:
            items.append(_group_tree(item))
            continue
        value = item.get("value")
        if isinstance(value, list):
            text = ", ".join(str(part) for part in value)
        else:
            text = "" if value is None else as_text(value, {})
        condition = {"field": item["field"], "operator": item["operator"], "value": text}
        if item.get("caseSensitive"):
            condition["caseSensitive"] = "true"
        items.append(condition)
    return {"match": group.get("match", "all"), "conditions": items}


def _step_tree(step: Json) -> Json:
    raw: Json = {"type": step["type"], "id": step["id"]}
    if step["type"] == "action":
        entry = find(step["action"])
        properties = properties_of(entry.input) if entry is not None else {}
        raw["action"] = step["action"]
        raw["input"] = {
            name: as_text(value, properties.get(name, {}))
            for name, value in step.get("input", {}).items()
        }
        raw["onError"] = {name: as_text(v, {}) for name, v in step.get("onError", {}).items()}
    elif step["type"] == "filter":
        raw["conditions"] = _group_tree(step["conditions"])
    elif step["type"] == "delay":
        raw["until"] = step.get("until", "")
        raw["for"] = {unit: as_text(v, {}) for unit, v in (step.get("for") or {}).items()}
    elif step["type"] == "paths":
        raw["paths"] = [
            {
                "name": branch["name"],
                "conditions": _group_tree(branch.get("conditions")),
                "steps": [_step_tree(item) for item in branch["steps"]],
            }
            for branch in step["paths"]
        ]
    elif step["type"] == "loop":
        items = step["items"]
        raw["items"] = items if isinstance(items, str) else json.dumps(items)
        raw["steps"] = [_step_tree(item) for item in step["steps"]]
    return raw


def form_tree(data: Json) -> Json:
    """A saved definition (wire form) as the form's tree."""
    trigger = data["trigger"]
    entry = find(trigger["key"])
    properties = properties_of(entry.input) if entry is not None else {}
    options = {
        name: as_text(value, properties.get(name, {}))
        for name, value in trigger.get("options", {}).items()
    }
    return {
        "trigger": {"key": trigger["key"], "options": options},
        "conditions": _group_tree(data.get("conditions")),
        "steps": [_step_tree(step) for step in data["steps"]],
    }
