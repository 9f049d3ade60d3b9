"""What the builder page draws, from the form's tree and the catalog: the trigger's options and
each step's inputs as form fields made from their JSON Schemas, the fields each step may map
from (the trigger's and earlier steps' outputs, with sample values), the formatters, the
operators, and the catalog grouped by app for the pickers."""

import json
import re
from dataclasses import dataclass, field
from typing import Any, get_args

from contactflow.flows.catalog import Entry, entries, find
from contactflow.flows.definition import Operator
from contactflow.web.builder_forms import (
    DURATION_UNITS,
    ERROR_THEN,
    Json,
    items_of,
    kind_of,
    part_of,
    properties_of,
)

OPERATORS: dict[str, str] = {
    "equals": "is",
    "notEquals": "is not",
    "contains": "contains",
    "startsWith": "starts with",
    "exists": "is not empty",
    "notExists": "is empty",
    "in": "is one of (a, b, c)",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "withinLastDays": "is within the last … days",
    "between": "is between (low, high)",
    "tagPresent": "has the tag",
}
assert set(OPERATORS) == set(get_args(Operator)), "every operator of the definition is offered"
# Formatters of mapping.py offered by name: the filter text, with {n} for the number asked.
FORMATTERS: tuple[tuple[str, str], ...] = (
    ("", "no formatter"),
    ("first_name", "first_name: the first word of a full name"),
    ("last_name", "last_name: the words after the first"),
    ("trim", "trim: without spaces around"),
    ("lower", "lower: lower case"),
    ("upper", "upper: upper case"),
    ("title", "title: Each Word Capitalised"),
    ("capitalize", "capitalize: First letter capital"),
    ("e164", "e164: phone number as +15125550100"),
    ("parse_date", "parse_date: a date-time"),
    ("format_date", "format_date: the date as 2026-12-01"),
    ("add(days={n})", "add days: the date plus N days"),
    ("add(hours={n})", "add hours: the date plus N hours"),
    ("subtract(days={n})", "subtract days: the date minus N days"),
    ("subtract(hours={n})", "subtract hours: the date minus N hours"),
    ("default('{n}')", "default: N when empty"),
    ("length", "length: how many"),
    ("tojson", "tojson: as JSON"),
)
LONG_TEXT = 500
LONG_NAMES = frozenset({"html", "text", "body", "notes", "description", "message"})
SAMPLE_TEXT = 40
MAX_DEPTH = 3
Choices = list[tuple[str, str]]


@dataclass(frozen=True)
class Input:
    """One field of a form made from a JSON Schema property."""

    name: str
    label: str
    help: str
    kind: str
    required: bool
    value: str
    choices: Choices
    long: bool
    mappable: bool
    children: list["Input"] = field(default_factory=list)

    @property
    def html_id(self) -> str:
        return "f-" + self.name.replace(".", "-")


@dataclass(frozen=True)
class Source:
    """Fields one can map from: a group label, then (path, sample value) pairs."""

    label: str
    options: list[tuple[str, str]]


@dataclass
class Condition:
    place: str
    field: str
    operator: str
    value: str
    case_sensitive: bool
    # Whether the field is among those offered (a hand-written path is kept as it is).
    known: bool
    is_group: bool = False


@dataclass
class Group:
    place: str
    match: str
    items: list["Condition | Group"]
    fields: list[Source]
    is_group: bool = True


@dataclass
class StepList:
    place: str
    steps: list["Step"]


@dataclass
class Branch:
    place: str
    name: str
    conditions: Group
    steps: StepList


@dataclass
class Step:
    place: str
    kind: str
    id: str
    title: str
    action: str = ""
    inputs: list[Input] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    on_error: dict[str, str] = field(default_factory=dict)
    conditions: Group | None = None
    until: str = ""
    duration: dict[str, str] = field(default_factory=dict)
    branches: list[Branch] = field(default_factory=list)
    items: str = ""
    inner: StepList | None = None
    first: bool = False
    last: bool = False


@dataclass
class Builder:
    trigger_key: str
    trigger: Entry | None
    options: list[Input]
    conditions: Group
    steps: StepList
    units: tuple[str, ...] = DURATION_UNITS
    then_choices: tuple[str, ...] = ERROR_THEN


def label_of(name: str, schema: Json) -> str:
    """The schema's title when it was written by hand, else the name in words."""
    title = str(schema.get("title", ""))
    if title and title.replace(" ", "").lower() != name.replace("_", "").lower():
        return title
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return words[:1].upper() + words[1:].lower()


def _choices_of(kind: str, schema: Json) -> Choices:
    if kind == "boolean":
        return [("", "(not set)"), ("true", "yes"), ("false", "no")]
    if kind == "enum":
        options = [item for item in schema.get("anyOf", [schema]) if "enum" in item]
        values = options[0]["enum"] if options else schema.get("enum", [])
        return [("", "(not set)"), *((str(value), str(value)) for value in values)]
    return []


def inputs(
    schema: Json, values: Any, prefix: str, *, mappable: bool, references: dict[str, Choices]
) -> list[Input]:
    """The form fields of an object schema, filled with the form's texts."""
    given = values if isinstance(values, dict) else {}
    required = set(schema.get("required", []))
    fields = []
    for name, sub in properties_of(schema).items():
        kind = kind_of(sub)
        value = given.get(name, "")
        choices = references.get(name) or _choices_of(kind, sub)
        if name in references:
            choices = [("", "(pick one)"), *choices]
        children = (
            inputs(sub, value, f"{prefix}.{name}", mappable=mappable, references={})
            if kind == "object"
            else []
        )
        long = kind in ("strings", "json") or name in LONG_NAMES
        max_length = sub.get("maxLength") or max(
            (item.get("maxLength", 0) for item in sub.get("anyOf", [])), default=0
        )
        fields.append(
            Input(
                name=f"{prefix}.{name}",
                label=label_of(name, sub),
                help=str(sub.get("description", "")),
                kind=kind,
                required=name in required,
                value=value if isinstance(value, str) else "",
                choices=choices,
                long=long or max_length > LONG_TEXT,
                mappable=mappable and not choices and kind != "object",
                children=children,
            )
        )
    return fields


def _sample_text(value: Any) -> str:
    text = "(empty)" if value in (None, "", []) else value if isinstance(value, str) else None
    if text is None:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SAMPLE_TEXT else text[: SAMPLE_TEXT - 1] + "…"


def flattened(data: Any, prefix: str, depth: int = 0) -> list[tuple[str, str]]:
    """Every field of sample data as (dotted path, sample value), nested objects opened."""
    if not isinstance(data, dict):
        return []
    found = []
    for key, value in data.items():
        path = f"{prefix}.{key}"
        if isinstance(value, dict) and value and depth < MAX_DEPTH:
            found.extend(flattened(value, path, depth + 1))
        else:
            found.append((path, _sample_text(value)))
    return found


def catalog_groups(kind: str, query: str = "") -> list[tuple[str, Choices]]:
    """The catalog's entries of a kind whose words match, grouped by app."""
    groups: dict[str, Choices] = {}
    for entry in entries(kind=kind, query=query or None):
        groups.setdefault(entry.app, []).append((entry.key, f"{entry.title} ({entry.key})"))
    return sorted(groups.items())


class _Drawing:
    """Walks the form's tree in run order, knowing which fields each step may map from."""

    def __init__(self, references: dict[str, Choices]) -> None:
        self.references = references

    def group(self, raw: Any, place: str, sources: list[Source]) -> Group:
        given = raw if isinstance(raw, dict) else {}
        items: list[Condition | Group] = []
        for number, item in enumerate(given.get("conditions") or []):
            where = f"{place}.conditions.{number}"
            if "match" in item:
                items.append(self.group(item, where, sources))
                continue
            path = item.get("field", "")
            items.append(
                Condition(
                    place=where,
                    field=path,
                    operator=item.get("operator", "equals"),
                    value=item.get("value", ""),
                    case_sensitive=item.get("caseSensitive") == "true",
                    known=any(path == option for s in sources for option, _ in s.options),
                )
            )
        return Group(place, given.get("match", "all"), items, sources)

    def steps(self, raw: Any, place: str, sources: list[Source]) -> StepList:
        """The steps of one list; `sources` grows with each step's output."""
        given = [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
        drawn = []
        for number, item in enumerate(given):
            step = self.step(item, f"{place}.{number}", list(sources), sources)
            step.first, step.last = number == 0, number == len(given) - 1
            drawn.append(step)
        return StepList(place, drawn)

    def step(self, raw: Json, place: str, before: list[Source], after: list[Source]) -> Step:
        kind, step_id = raw.get("type", ""), raw.get("id", "")
        step = Step(place=place, kind=kind, id=step_id, title=kind.capitalize(), sources=before)
        if kind == "action":
            entry = find(raw.get("action", ""))
            step.action = raw.get("action", "")
            step.title = entry.title if entry is not None else step.action
            if entry is not None:
                step.inputs = inputs(
                    entry.input,
                    raw.get("input"),
                    f"{place}.input",
                    mappable=True,
                    references=self.references,
                )
                output = flattened(entry.sample, f"steps.{step_id}")
                after.append(Source(f"Step {step_id}: {entry.title}", output))
            policy = raw.get("onError")
            step.on_error = policy if isinstance(policy, dict) else {}
        elif kind == "filter":
            step.conditions = self.group(raw.get("conditions"), f"{place}.conditions", before)
        elif kind == "delay":
            step.until = raw.get("until", "")
            duration = raw.get("for")
            step.duration = duration if isinstance(duration, dict) else {}
        elif kind == "paths":
            for number, branch in enumerate(items_of(raw, "paths")):
                where = f"{place}.paths.{number}"
                inside = list(before)
                conditions = self.group(branch.get("conditions"), f"{where}.conditions", before)
                steps = self.steps(branch.get("steps"), f"{where}.steps", inside)
                step.branches.append(Branch(where, branch.get("name", ""), conditions, steps))
                after.extend(source for source in inside if source not in after)
        elif kind == "loop":
            step.items = raw.get("items", "")
            inside = [*before, Source("Loop", [("loop.item", "each item"), ("loop.index", "0")])]
            step.inner = self.steps(raw.get("steps"), f"{place}.steps", inside)
            after.extend(source for source in inside[len(before) + 1 :] if source not in after)
        return step


def builder(raw: Json, trigger_sample: Json, references: dict[str, Choices]) -> Builder:
    """The page's drawing of the form's tree; `trigger_sample` is the data the trigger's
    fields are shown with (its catalog sample, or a past event)."""
    trigger_raw = part_of(raw, "trigger")
    key = trigger_raw.get("key", "")
    entry = find(key)
    options = (
        inputs(
            entry.input,
            trigger_raw.get("options"),
            "trigger.options",
            mappable=False,
            references={},
        )
        if entry is not None
        else []
    )
    sources = [Source("Trigger", flattened(trigger_sample, "trigger"))] if entry else []
    drawing = _Drawing(references)
    conditions = drawing.group(raw.get("conditions"), "conditions", list(sources))
    steps = drawing.steps(raw.get("steps"), "steps", sources)
    return Builder(key, entry, options, conditions, steps)
