"""Changes to the builder's form tree that its buttons ask for: pick the trigger, add, move and
delete steps, paths, conditions and groups. Each button sends `op` as `verb:place`, the place
being a form field name (`steps.1`, `conditions.conditions.2`); the form's other fields say
what to add (`pick.<place>`: the catalog entry picked for that list)."""

import re
from collections.abc import Mapping
from typing import Any

from contactflow.flows.catalog import find
from contactflow.web.builder_errors import step_places
from contactflow.web.builder_forms import Json

# A place in the tree: names and positions joined by dots.
PLACE = re.compile(r"^[A-Za-z]+(\.[A-Za-z0-9]+)*$")
STEP_ID = re.compile(r"[^A-Za-z0-9_]+")


class BadOp(ValueError):
    """An op that names no place of the form (a stale page): nothing changes."""


def _node(root: Json, place: str, *, create: type[list[Any]] | type[Json] | None = None) -> Any:
    """The dict or list at `place`; with `create`, a missing last part is made of that type
    and missing parts before it dicts."""
    if not PLACE.match(place):
        raise BadOp(place)
    node: Any = root
    parts = place.split(".")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and (part in node or create):
            if part not in node:
                node[part] = create() if last and create is not None else {}
            node = node[part]
        else:
            raise BadOp(place)
    return node


def _list_at(root: Json, place: str) -> list[Any]:
    found = _node(root, place, create=list)
    if not isinstance(found, list):
        raise BadOp(place)
    return found


def _parent(root: Json, place: str) -> tuple[list[Any], int]:
    """The list holding the item at `place`, and the item's position in it."""
    head, _, position = place.rpartition(".")
    if not position.isdigit():
        raise BadOp(place)
    items = _node(root, head)
    if not isinstance(items, list) or int(position) >= len(items):
        raise BadOp(place)
    return items, int(position)


def new_step_id(root: Json, base: str) -> str:
    """An unused step id made from `base` (`mailsuite.email.send` -> `email_send`)."""
    words = STEP_ID.sub("_", ".".join(base.split(".")[-2:]) if "." in base else base)
    stem = words.strip("_")[:50] or "step"
    if not stem[0].isalpha():
        stem = f"step_{stem}"
    taken = set(step_places(root))
    candidate, number = stem, 2
    while candidate in taken:
        candidate, number = f"{stem}_{number}", number + 1
    return candidate


def _new_step(root: Json, kind: str, action: str) -> Json:
    empty_group: Json = {"match": "all", "conditions": []}
    if kind == "action":
        entry = find(action)
        if entry is None or entry.kind != "action":
            raise BadOp(action)
        return {"type": "action", "id": new_step_id(root, action), "action": action, "input": {}}
    if kind == "filter":
        return {"type": "filter", "id": new_step_id(root, "filter"), "conditions": empty_group}
    if kind == "delay":
        return {"type": "delay", "id": new_step_id(root, "wait"), "for": {"days": "1"}}
    if kind == "paths":
        branch = {"name": "Path 1", "conditions": empty_group, "steps": []}
        return {"type": "paths", "id": new_step_id(root, "paths"), "paths": [branch]}
    if kind == "loop":
        return {"type": "loop", "id": new_step_id(root, "loop"), "items": "", "steps": []}
    raise BadOp(kind)


def apply(root: Json, op: str, form: Mapping[str, str]) -> None:
    """Change `root` as `op` says; BadOp when it names nothing the form has."""
    verb, _, place = op.partition(":")
    if verb == "sample":
        return  # the sample picked is in the form already; the page is drawn with it
    if verb == "trigger":
        key = form.get("pick.trigger", "")
        entry = find(key)
        if entry is None or entry.kind != "trigger":
            raise BadOp(key)
        root["trigger"] = {"key": key, "options": {}}
    elif verb.startswith("add-") and verb.removeprefix("add-") in (
        "action",
        "filter",
        "delay",
        "paths",
        "loop",
    ):
        step = _new_step(root, verb.removeprefix("add-"), form.get(f"pick.{place}", ""))
        _list_at(root, place).append(step)
    elif verb in ("up", "down", "remove"):
        items, position = _parent(root, place)
        if verb == "remove":
            del items[position]
        else:
            other = position - 1 if verb == "up" else position + 1
            if 0 <= other < len(items):
                items[position], items[other] = items[other], items[position]
    elif verb == "add-branch":
        branches = _list_at(root, f"{place}.paths")
        name = f"Path {len(branches) + 1}"
        branches.append({"name": name, "conditions": {"match": "all", "conditions": []}})
    elif verb in ("add-condition", "add-group"):
        group = _node(root, place, create=dict)
        if not isinstance(group, dict):
            raise BadOp(place)
        group.setdefault("match", "all")
        item: Json = (
            {"field": "", "operator": "equals", "value": ""}
            if verb == "add-condition"
            else {"match": "any", "conditions": [{"field": "", "operator": "equals"}]}
        )
        _list_at(group, "conditions").append(item)
    else:
        raise BadOp(op)
