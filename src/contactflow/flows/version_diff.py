"""What changed between two versions of a flow, in words: the trigger, the conditions, and
each step (by id, nested ones included) added, removed or changed, with the fields that
changed and their values before and after."""

import json
from dataclasses import dataclass
from typing import Any, Literal

from contactflow.flows.definition import FlowDefinition, Step, hidden, walk

ChangeKind = Literal["added", "removed", "changed"]
SHOWN = 80


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    # "trigger", "conditions" or "step <id> (<action or type>)".
    what: str
    # For a change: "field: before → after", one per changed field.
    fields: list[str]


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _field_changes(before: Any, after: Any, place: str = "") -> list[str]:
    """Each leaf that differs, as `dotted.place: before → after`."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            where = f"{place}.{key}" if place else key
            found.extend(_field_changes(before.get(key), after.get(key), where))
        return found
    if before == after:
        return []
    return [f"{place or 'value'}: {_shown(before)} → {_shown(after)}"]


def _own(step: Step) -> dict[str, Any]:
    """A step's own settings: the steps nested in it are compared on their own."""
    data = step.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data.pop("steps", None)
    if "paths" in data:
        data["paths"] = {branch["name"]: branch.get("conditions") for branch in data["paths"]}
    return data


def _label(step: Step) -> str:
    return f"step {step.id} ({getattr(step, 'action', step.type)})"


def _steps(definition: FlowDefinition) -> dict[str, Step]:
    return {step.id: step for step in walk(definition.steps)}


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """From the stored definition `before` (None: the first version) to `after`."""
    new = FlowDefinition.model_validate(hidden(after))
    if before is None:
        return [Change("added", "trigger", [new.trigger.key])] + [
            Change("added", _label(step), []) for step in walk(new.steps)
        ]
    old = FlowDefinition.model_validate(hidden(before))
    found = []
    trigger = _field_changes(
        old.trigger.model_dump(mode="json"), new.trigger.model_dump(mode="json")
    )
    if trigger:
        found.append(Change("changed", "trigger", trigger))
    conditions = _field_changes(
        old.conditions.model_dump(mode="json") if old.conditions else None,
        new.conditions.model_dump(mode="json") if new.conditions else None,
    )
    if conditions:
        found.append(Change("changed", "conditions", conditions))
    old_steps, new_steps = _steps(old), _steps(new)
    for step_id, step in old_steps.items():
        if step_id not in new_steps:
            found.append(Change("removed", _label(step), []))
    for step_id, step in new_steps.items():
        previous = old_steps.get(step_id)
        if previous is None:
            found.append(Change("added", _label(step), []))
        elif fields := _field_changes(_own(previous), _own(step)):
            found.append(Change("changed", _label(step), fields))
    return found
