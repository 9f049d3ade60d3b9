"""Shipped flow templates: ready-made flows kept as data (flows/shipped/*.yaml).

Each template has a key, a title, a description, its parameters as a JSON Schema and one or
more flow definitions. A definition's strings may hold `${name}` placeholders: a string that
is only a placeholder becomes the parameter's value as it is (an integer stays an integer),
one inside a longer string is replaced by the value's text. Text parameters may themselves
be templates over `trigger` and `steps`, as any mapped field.
"""

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from contactflow.flows.definition import FlowDefinition
from contactflow.flows.mapping import parse
from contactflow.platform.errors import Unprocessable

Json = dict[str, Any]
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")
# The JSON Schema keywords a parameter may use: those `checked_parameters` enforces, and
# the ones that only describe it.
CHECKED = frozenset({"type", "minLength", "maxLength", "minimum", "maximum", "enum"})
DESCRIBING = frozenset({"title", "description", "default", "x-refers"})
TYPES = {"string": str, "integer": int}


@dataclass(frozen=True)
class TemplateFlow:
    name: str
    definition: Json


@dataclass(frozen=True)
class FlowTemplate:
    key: str
    title: str
    description: str
    parameters: Json
    flows: tuple[TemplateFlow, ...]

    def describe(self) -> Json:
        """The template as `GET /flows/templates` serves it."""
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "parameters": self.parameters,
            "flows": [flow.name for flow in self.flows],
        }

    def references(self, values: Json) -> dict[str, tuple[str, str]]:
        """Parameter -> (kind of record it names, id), for `x-refers` parameters given."""
        properties: Json = self.parameters.get("properties", {})
        return {
            name: (spec["x-refers"], values[name])
            for name, spec in properties.items()
            if "x-refers" in spec and name in values
        }

    def definitions(self, values: Json) -> list[tuple[str, FlowDefinition]]:
        """Each flow's name and definition with the (checked) parameter values filled in."""
        return [
            (flow.name, FlowDefinition.model_validate(_filled(flow.definition, values)))
            for flow in self.flows
        ]


def _filled(value: Any, values: Json) -> Any:
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole is not None:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), value)
    if isinstance(value, list):
        return [_filled(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _filled(item, values) for key, item in value.items()}
    return value


def _problem(spec: Json, value: Any) -> str | None:
    kind = TYPES[spec["type"]]
    if not isinstance(value, kind) or isinstance(value, bool):
        return f"must be {'an' if spec['type'] == 'integer' else 'a'} {spec['type']}"
    if "enum" in spec and value not in spec["enum"]:
        return "one of " + ", ".join(str(option) for option in spec["enum"])
    if isinstance(value, str):
        if len(value) < spec.get("minLength", 0):
            return f"at least {spec['minLength']} characters"
        if len(value) > spec.get("maxLength", len(value)):
            return f"at most {spec['maxLength']} characters"
        if "{{" in value or "{%" in value:
            try:
                parse(value)
            except ValueError as error:
                return f"does not parse: {error}"
    if isinstance(value, int):
        if value < spec.get("minimum", value):
            return f"at least {spec['minimum']}"
        if value > spec.get("maximum", value):
            return f"at most {spec['maximum']}"
    return None


def checked_parameters(template: FlowTemplate, given: Json) -> Json:
    """The given values with the defaults of the others; Unprocessable names each parameter
    that is unknown, missing or not what its schema asks (`parameters.dueInDays: ...`)."""
    properties: Json = template.parameters.get("properties", {})
    required = set(template.parameters.get("required", []))
    problems = [
        f"parameters.{name}: not a parameter of {template.key}"
        for name in given
        if name not in properties
    ]
    values: Json = {}
    for name, spec in properties.items():
        if name in given:
            problem = _problem(spec, given[name])
            if problem is None:
                values[name] = given[name]
            else:
                problems.append(f"parameters.{name}: {problem}")
        elif "default" in spec:
            values[name] = spec["default"]
        elif name in required:
            problems.append(f"parameters.{name}: required")
    if problems:
        raise Unprocessable(problems)
    return values


def _template(data: Json) -> FlowTemplate:
    """A template file's content, checked: only supported schema keywords, and only
    placeholders of declared parameters."""
    parameters: Json = data.get("parameters", {"type": "object", "properties": {}})
    properties: Json = parameters.get("properties", {})
    for name, spec in properties.items():
        unknown = set(spec) - CHECKED - DESCRIBING
        if unknown or spec.get("type") not in TYPES:
            raise ValueError(f"template {data['key']}: parameter {name} uses {sorted(unknown)}")
    flows = tuple(TemplateFlow(flow["name"], flow["definition"]) for flow in data["flows"])
    for flow in flows:
        used = set(PLACEHOLDER.findall(yaml.safe_dump(flow.definition)))
        if used - set(properties):
            raise ValueError(f"template {data['key']}: unknown {sorted(used - set(properties))}")
    return FlowTemplate(
        key=data["key"],
        title=data["title"],
        description=data["description"],
        parameters=parameters,
        flows=flows,
    )


@cache
def shipped() -> dict[str, FlowTemplate]:
    """Every shipped template, by key, in key order."""
    folder = resources.files("contactflow.flows").joinpath("shipped")
    found = [
        _template(yaml.safe_load(item.read_text(encoding="utf-8")))
        for item in folder.iterdir()
        if item.name.endswith(".yaml")
    ]
    return {template.key: template for template in sorted(found, key=lambda t: t.key)}


def find_template(key: str) -> FlowTemplate | None:
    return shipped().get(key)
