"""Checking a whole flow against the catalog before it may publish: a flow that cannot run
does not publish, and each problem names its place (`steps.task.input.dueAt: ...`)."""

import base64
from typing import Any

from jinja2 import meta

from contactflow.flows import timing
from contactflow.flows.catalog import Entry, find
from contactflow.flows.catalog.remote import CONNECTION
from contactflow.flows.definition import (
    ActionStep,
    DelayStep,
    FilterStep,
    FlowDefinition,
    Group,
    LoopStep,
    PathsStep,
    Step,
    walk,
)
from contactflow.flows.mapping import ROOTS, parse, referenced_steps


def _templates(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _templates(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _templates(item)]
    return []


# Among the ids a step may read: a marker that it runs inside a loop, so `loop` is defined.
IN_LOOP = "[loop]"


def _template_problem(source: str, earlier: set[str]) -> str | None:
    try:
        tree = parse(source)
    except ValueError as error:
        return f"does not parse: {error}"
    for step_id in sorted(referenced_steps(tree) - earlier):
        return f"refers to step {step_id!r}, which does not run before this one"
    if IN_LOOP not in earlier and "loop" in meta.find_undeclared_variables(tree):
        return "uses loop, which is defined only inside a loop step"
    return None


def _conditions(group: Group | None, where: str) -> list[str]:
    if group is None:
        return []
    problems = []
    for number, item in enumerate(group.conditions):
        place = f"{where}.conditions.{number}"
        if isinstance(item, Group):
            problems.extend(_conditions(item, place))
        elif item.field.split(".", 1)[0] not in ROOTS - {"now"}:
            problems.append(f"{place}.field: starts with trigger., steps. or loop.")
    return problems


def _action(step: ActionStep, earlier: set[str]) -> list[str]:
    where = f"steps.{step.id}"
    entry = find(step.action)
    if entry is None or entry.kind != "action":
        return [f"{where}.action: {step.action!r} is not an action of the catalog"]
    properties = entry.input.get("properties", {})
    problems = []
    for name, value in step.input.items():
        if name not in properties:
            problems.append(f"{where}.input.{name}: not an input of {step.action}")
            continue
        allowed = properties[name].get("enum")
        literal = isinstance(value, str) and "{" not in value
        if allowed is not None and literal and value not in allowed:
            choices = ", ".join(map(str, allowed))
            problems.append(f"{where}.input.{name}: {value!r} is not one of {choices}")
            continue
        for source in _templates(value):
            problem = _template_problem(source, earlier)
            if problem is not None:
                problems.append(f"{where}.input.{name}: {problem}")
                break
    for name in sorted(set(entry.input.get("required", [])) - set(step.input)):
        problems.append(f"{where}.input.{name}: required by {step.action}, map a value to it")
    return problems


def _steps(steps: list[Step], earlier: set[str]) -> list[str]:
    """Problems of `steps`; `earlier` (the ids a step may read) grows as they are checked."""
    problems = []
    for step in steps:
        where = f"steps.{step.id}"
        if isinstance(step, ActionStep):
            problems.extend(_action(step, earlier))
        elif isinstance(step, DelayStep) and step.until is not None:
            problem = _template_problem(step.until, earlier)
            if problem is not None:
                problems.append(f"{where}.until: {problem}")
        elif isinstance(step, FilterStep):
            problems.extend(_conditions(step.conditions, f"{where}.conditions"))
        elif isinstance(step, LoopStep):
            sources = _templates(step.items)
            problem = next(filter(None, (_template_problem(s, earlier) for s in sources)), None)
            if problem is not None:
                problems.append(f"{where}.items: {problem}")
            inside = {*earlier, IN_LOOP}
            problems.extend(_steps(step.steps, inside))
            earlier |= inside - {IN_LOOP}
        elif isinstance(step, PathsStep):
            after = set(earlier)
            for number, branch in enumerate(step.paths):
                place = f"{where}.paths.{number}"
                problems.extend(_conditions(branch.conditions, f"{place}.conditions"))
                inside = {*earlier, step.id}
                problems.extend(_steps(branch.steps, inside))
                after |= inside
            earlier |= after
        earlier.add(step.id)
    return problems


def trigger_event_type(definition: FlowDefinition) -> str | None:
    """The event type the flow's trigger fires on; None for an unknown trigger and for one
    that fires without events (schedules, hooks, manual runs, record times). A trigger the
    engine fires itself (core.error) goes by its key, which no event of the log has."""
    trigger = find(definition.trigger.key)
    if trigger is None or trigger.kind != "trigger" or trigger.fires != "event":
        return None
    return trigger.event_type or trigger.key


def _trigger_options(trigger: Entry, options: dict[str, Any]) -> list[str]:
    where = "trigger.options"
    allowed = trigger.input.get("properties", {})
    found = []
    for name, value in options.items():
        choices = allowed.get(name, {}).get("enum")
        if name not in allowed:
            found.append(f"{where}.{name}: not an option of {trigger.key}")
        elif choices is not None and value not in choices:
            found.append(f"{where}.{name}: one of {', '.join(choices)}")
    for name in sorted(set(trigger.input.get("required", [])) - set(options)):
        found.append(f"{where}.{name}: required by {trigger.key}")
    if found:
        return found
    if trigger.fires == "schedule":
        return timing.schedule_problems(options, where)
    if trigger.fires == "record":
        return timing.before_problems(options, where)
    if trigger.fires == "webhook":
        return _secret_problems(options, where)
    return []


def _secret_problems(options: dict[str, Any], where: str) -> list[str]:
    secret = options.get("secret", "")
    if not isinstance(secret, str) or 0 < len(secret) < 16:
        return [f"{where}.secret: a text of 16 characters or more"]
    if secret and options.get("signature") == "standard-webhooks":
        key = secret.removeprefix("whsec_")
        try:
            valid = key != secret and bool(base64.b64decode(key, validate=True))
        except ValueError:
            valid = False
        if not valid:
            return [f"{where}.secret: a Standard Webhooks secret (whsec_ and base64)"]
    return []


def named_connections(definition: FlowDefinition) -> dict[str, str]:
    """The connections the flow names literally, by the place that names them
    (`trigger.options.connectionId`, `steps.call.input.connectionId`); a template's choice
    is known only when it runs."""
    named = {f"trigger.options.{CONNECTION}": definition.trigger.options.get(CONNECTION)}
    for step in walk(definition.steps):
        if isinstance(step, ActionStep):
            named[f"steps.{step.id}.input.{CONNECTION}"] = step.input.get(CONNECTION)
    return {
        place: value
        for place, value in named.items()
        if isinstance(value, str) and "{" not in value
    }


def connection_users(definition: FlowDefinition) -> dict[str, tuple[str, Entry]]:
    """The action steps that name a connection, with their catalog entries, by the place
    naming it (as `named_connections` gives it)."""
    users = {}
    for step in walk(definition.steps):
        entry = find(step.action) if isinstance(step, ActionStep) else None
        if entry is not None:
            users[f"steps.{step.id}.input.{CONNECTION}"] = (step.id, entry)
    return users


def connection_problems(
    place: str, user: tuple[str, Entry], kind: str, local: bool, scopes: list[str]
) -> list[str]:
    """Why a step's Contacts API action cannot act through the connection: it is not a
    Contacts API, or a remote one that was not granted the scope the action needs."""
    step_id, entry = user
    if entry.remote is None:
        return []
    if kind != "contacts":
        return [f"{place}: {entry.key} needs a contacts connection, this one is {kind}"]
    if local:
        return []
    return [
        f"{place}: step {step_id} ({entry.key}) needs scope {scope}, which the connection "
        "was not granted (add it to the connection's scopes)"
        for scope in entry.scopes
        if scope not in scopes
    ]


def problems(definition: FlowDefinition) -> list[str]:
    """Every reason the flow cannot run; empty when it can."""
    found = []
    trigger = find(definition.trigger.key)
    if trigger is None or trigger.kind != "trigger":
        found.append(f"trigger.key: {definition.trigger.key!r} is not a trigger of the catalog")
    else:
        found.extend(_trigger_options(trigger, definition.trigger.options))
    found.extend(_conditions(definition.conditions, "conditions"))
    found.extend(_steps(definition.steps, set()))
    return found
