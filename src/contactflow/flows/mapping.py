"""Field mapping: a step's input rendered from templates over the run's data, then coerced to
the types of the action's input JSON Schema.

Templates run in Jinja2's sandbox with a short list of filters (no attribute tricks, no
loops over unbounded data). They see `trigger` (the event payload), `steps` (each earlier
step's output by id), `now`, and inside a loop step `loop` (its item and index). Every error
names the step and the field.
"""

import ast
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from jinja2 import StrictUndefined, Template, TemplateError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from contactflow.flows.conditions import as_datetime, as_number
from contactflow.platform.clock import to_iso, utcnow

ROOTS = frozenset({"trigger", "steps", "now", "loop"})
# Items a loop step takes at most.
MAX_ITEMS = 1000
_KEPT_FILTERS = (
    "default",
    "d",
    "lower",
    "upper",
    "title",
    "capitalize",
    "trim",
    "replace",
    "truncate",
    "join",
    "first",
    "last",
    "length",
    "round",
    "int",
    "float",
    "string",
    "tojson",
)
_FORBIDDEN = (nodes.For, nodes.Macro, nodes.CallBlock, nodes.Import, nodes.Include, nodes.Extends)


class MappingError(ValueError):
    """A field that cannot be mapped: `field` is `steps.<id>.input.<name>`."""

    def __init__(self, step_id: str, name: str, reason: str) -> None:
        self.field = f"steps.{step_id}.input.{name}"
        self.reason = reason
        super().__init__(f"{self.field}: {reason}")


class Moment(datetime):
    """A datetime that renders as ISO 8601 UTC with milliseconds, as the wire wants."""

    def __str__(self) -> str:
        return to_iso(self)


def _moment(value: datetime) -> Moment:
    return Moment.fromtimestamp(value.timestamp(), tz=value.tzinfo)


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def parse_date(value: Any, timezone: str | None = None) -> Moment | None:
    """A date or date-time; one without a zone is read in `timezone` (UTC by default)."""
    if isinstance(value, str) and (zone := _zone(timezone)) is not None:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return _moment(parsed.replace(tzinfo=zone))
    moment = as_datetime(value)
    return None if moment is None else _moment(moment)


def _given(value: Any) -> Any:
    """A filter's input; an undefined one fails as StrictUndefined does, naming the field."""
    if isinstance(value, Undefined):
        str(value)  # raises UndefinedError
    return value


def _date_in(value: Any, timezone: str | None = None) -> Moment | None:
    """A filter's date input: None when empty (an optional field stays empty), an error
    when it is text that is not a date."""
    value = _given(value)
    if value is None or value == "":
        return None
    moment = parse_date(value, timezone)
    if moment is None:
        raise ValueError(f"{value!r} is not a date or date-time")
    return moment


def parse_date_filter(value: Any, timezone: str | None = None) -> Moment | str:
    return _date_in(value, timezone) or ""


def format_date(value: Any, pattern: str = "%Y-%m-%d", timezone: str | None = None) -> str:
    moment = _date_in(value)
    if moment is None:
        return ""
    zone = _zone(timezone)
    return (moment.astimezone(zone) if zone else moment).strftime(pattern)


def _shift(value: Any, sign: int, amounts: dict[str, float]) -> Moment | str:
    unknown = set(amounts) - {"weeks", "days", "hours", "minutes", "seconds"}
    if unknown:
        raise ValueError(f"unknown duration unit {sorted(unknown)[0]!r}")
    moment = _date_in(value)
    if moment is None:
        return ""
    return _moment(moment + sign * timedelta(**amounts))


def add(value: Any, **amounts: float) -> Moment | str:
    return _shift(value, 1, amounts)


def subtract(value: Any, **amounts: float) -> Moment | str:
    return _shift(value, -1, amounts)


def _name_parts(value: Any) -> list[str]:
    return str(_given(value) or "").split()


def first_name(value: Any) -> str:
    parts = _name_parts(value)
    return parts[0] if parts else ""


def last_name(value: Any) -> str:
    parts = _name_parts(value)
    return " ".join(parts[1:])


def e164(value: Any, region: str = "US") -> str:
    """The number in E.164 form; empty when it is not a valid number."""
    try:
        number = phonenumbers.parse(str(_given(value) or ""), region.upper())
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Longest text or list a template may build with `*`, and the largest exponent of `**`: a
# flow's author must not be able to exhaust the worker's memory or time.
MAX_REPEAT = 100_000
MAX_EXPONENT = 64


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponents above {MAX_EXPONENT} are not allowed")
        elif isinstance(left, str | list) or isinstance(right, str | list):
            sized, times = (left, right) if isinstance(left, str | list) else (right, left)
            if isinstance(times, int) and len(sized) * times > MAX_REPEAT:
                raise SecurityError(f"results longer than {MAX_REPEAT} are not allowed")
        return super().call_binop(context, operator, left, right)


def _environment() -> SandboxedEnvironment:
    environment = _Sandbox(undefined=StrictUndefined, autoescape=False)
    kept = {name: environment.filters[name] for name in _KEPT_FILTERS}
    environment.filters = {
        **kept,
        "first_name": first_name,
        "last_name": last_name,
        "e164": e164,
        "parse_date": parse_date_filter,
        "format_date": format_date,
        "add": add,
        "subtract": subtract,
    }
    environment.globals = {}
    return environment


_ENVIRONMENT = _environment()


def referenced_steps(tree: nodes.Template) -> set[str]:
    """The ids a template reads as `steps.<id>` or `steps["<id>"]`."""
    found: set[str] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "steps":
            found.add(node.attr)
    for item in tree.find_all(nodes.Getitem):
        key, target = item.arg, item.node
        named = isinstance(target, nodes.Name) and target.name == "steps"
        if named and isinstance(key, nodes.Const) and isinstance(key.value, str):
            found.add(key.value)
    return found


def parse(source: str) -> nodes.Template:
    """The template's tree; ValueError says why it does not parse or is not allowed."""
    try:
        tree = _ENVIRONMENT.parse(source)
        # Compiles the tree, which is where an unknown filter shows.
        names = meta.find_undeclared_variables(tree)
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        raise ValueError(f"line {line}: {error.message}" if line else str(error)) from error
    for node in tree.find_all(_FORBIDDEN):
        raise ValueError(f"{type(node).__name__} is not allowed in a mapping")
    unknown = names - ROOTS
    if unknown:
        raise ValueError(f"unknown name {sorted(unknown)[0]!r}; use trigger, steps, now or loop")
    return tree


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Template:
    """The checked, compiled template: a flow renders the same few sources on every run."""
    parse(source)
    return _ENVIRONMENT.from_string(source)


def render(source: str, data: Mapping[str, Any]) -> str:
    """One template over `data` (trigger, steps); ValueError says why it failed."""
    template = _compiled(source)
    try:
        return template.render({**data, "now": _moment(utcnow())})
    except TemplateError as error:
        raise ValueError(error.message or "does not render") from error


def _types(schema: Mapping[str, Any]) -> list[str]:
    """The JSON types a schema allows, pydantic's `anyOf` unions included."""
    if "anyOf" in schema:
        return [kind for option in schema["anyOf"] for kind in _types(option)]
    kind = schema.get("type")
    if isinstance(kind, list):
        return [str(item) for item in kind]
    if kind is None:
        return ["string"] if schema.get("format") == "date-time" else []
    return [str(kind)]


def _is_datetime(schema: Mapping[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("format") == "date-time" for option in options)


def coerce(text: str, schema: Mapping[str, Any]) -> Any:
    """The rendered text as the schema's type. ValueError says what was expected."""
    kinds = _types(schema)
    value = text.strip()
    allowed = schema.get("enum")
    if allowed is not None:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, allowed))}")
        return value
    if _is_datetime(schema):
        moment = parse_date(value)
        if moment is None:
            raise ValueError(f"{value!r} is not a date or date-time")
        return to_iso(moment)
    if not kinds or "string" in kinds:
        return text
    if "integer" in kinds:
        number = as_number(value)
        if number is None or not number.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(number)
    if "number" in kinds:
        number = as_number(value)
        if number is None:
            raise ValueError(f"{value!r} is not a number")
        return number
    if "boolean" in kinds:
        lowered = value.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"{value!r} is not true or false")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        if "array" in kinds:
            return [item.strip() for item in value.split(",") if item.strip()]
        raise ValueError(f"{value!r} is not a JSON object") from None
    expected = "array" if "array" in kinds else "object"
    if not isinstance(parsed, list if expected == "array" else dict):
        raise ValueError(f"{value!r} is not a JSON {expected}")
    return parsed


def _render_value(value: Any, data: Mapping[str, Any]) -> Any:
    """Literal JSON passes as it is, with the strings inside rendered."""
    if isinstance(value, str):
        return render(value, data)
    if isinstance(value, list):
        return [_render_value(item, data) for item in value]
    if isinstance(value, dict):
        return {key: _render_value(item, data) for key, item in value.items()}
    return value


def render_items(source: str | list[Any], data: Mapping[str, Any]) -> list[Any]:
    """A loop's items: a JSON list with its strings rendered, or a template rendering a list
    (JSON, or the list as the template printed it). ValueError says why there is none."""
    if isinstance(source, list):
        items: Any = _render_value(source, data)
    else:
        text = render(source, data).strip()
        try:
            items = json.loads(text) if text else []
        except json.JSONDecodeError:
            try:
                items = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise ValueError("does not render a list; write `{{ ... | tojson }}`") from None
    if not isinstance(items, list):
        raise ValueError(f"renders {type(items).__name__}, not a list")
    if len(items) > MAX_ITEMS:
        raise ValueError(f"{len(items)} items; a loop takes at most {MAX_ITEMS}")
    return items


def map_input(
    step_id: str,
    mapping: Mapping[str, Any],
    schema: Mapping[str, Any],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The action's input: each mapped field rendered and coerced; a template that renders
    empty leaves an optional field out. MappingError names the step and field."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    result: dict[str, Any] = {}
    for name, template in mapping.items():
        field_schema = properties.get(name)
        if field_schema is None:
            raise MappingError(step_id, name, "not an input of this action")
        try:
            rendered = _render_value(template, data)
            if not isinstance(rendered, str):
                result[name] = rendered
            elif rendered.strip() or name in required:
                result[name] = coerce(rendered, field_schema)
        except ValueError as error:
            raise MappingError(step_id, name, str(error)) from error
    for name in sorted(required - set(result)):
        raise MappingError(step_id, name, "required, and no value was mapped to it")
    return result
