"""Built-in formatters: text, numbers, dates and phone numbers, each one step with an
`operation`. The work is the template filters' own (flows/mapping.py), so a formatter step
and a `{{ value | filter }}` give the same answer."""

import re
from typing import Any

from contactflow.flows.catalog.registry import ActionContext, Entry, Json
from contactflow.flows.mapping import (
    add,
    e164,
    first_name,
    format_date,
    last_name,
    parse_date,
    subtract,
)
from contactflow.platform.clock import to_iso
from contactflow.platform.errors import invalid

APP = "core"
TEXT = {"type": "string", "maxLength": 100_000}
SHORT = {"type": "string", "maxLength": 100}
RESULT: Json = {"type": "object", "properties": {"result": {}}}
# Good enough to find an address, a number or a link in free text; not a validator.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
TEXT_OPERATIONS = (
    "splitName",
    "capitalize",
    "title",
    "lower",
    "upper",
    "trim",
    "replace",
    "extractEmail",
    "extractPhone",
    "extractUrl",
)


def _found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return match.group(0) if match else ""


async def format_text(context: ActionContext, values: Json) -> Json:
    operation, text = values["operation"], values.get("value", "")
    if operation == "splitName":
        full = " ".join(text.split())
        return {"result": full, "firstName": first_name(full), "lastName": last_name(full)}
    if operation == "replace":
        if "find" not in values:
            raise invalid("find", "required by the replace operation")
        return {"result": text.replace(values["find"], values.get("replaceWith", ""))}
    if operation == "extractPhone":
        found = _found(_PHONE, text)
        region = values.get("region") or context.phone_region
        return {"result": e164(found, region) if found else ""}
    simple = {
        "capitalize": lambda: text[:1].upper() + text[1:].lower(),
        "title": lambda: " ".join(word.capitalize() for word in text.split(" ")),
        "lower": text.lower,
        "upper": text.upper,
        "trim": lambda: " ".join(text.split()),
        "extractEmail": lambda: _found(_EMAIL, text),
        "extractUrl": lambda: _found(_URL, text).rstrip(".,;:!?"),
    }
    return {"result": simple[operation]()}


def parse_number(text: str, decimal_separator: str = ".") -> float:
    """A number from human text: currency signs, spaces and thousands separators ignored."""
    kept = re.sub(rf"[^0-9\-{re.escape(decimal_separator)}]", "", text)
    try:
        return float(kept.replace(decimal_separator, "."))
    except ValueError:
        raise invalid("value", f"{text!r} is not a number") from None


def _number(values: Json) -> float:
    value = values.get("value")
    if isinstance(value, bool) or value is None:
        raise invalid("value", "a number is required")
    if isinstance(value, int | float):
        return float(value)
    return parse_number(str(value), values.get("decimalSeparator", "."))


def _whole(number: float) -> float | int:
    return int(number) if number.is_integer() else number


async def format_number(_context: ActionContext, values: Json) -> Json:
    operation, decimals = values["operation"], values.get("decimals", 2)
    number = _number(values)
    if operation == "parse":
        return {"result": _whole(number)}
    if operation == "round":
        return {"result": _whole(round(number, decimals))}
    grouped = f"{number:,.{decimals}f}"
    decimal, thousands = values.get("decimalSeparator", "."), values.get("thousandsSeparator", ",")
    text = grouped.replace(",", "\0").replace(".", decimal).replace("\0", thousands)
    return {"result": text}


DURATION: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        unit: {"type": "number"} for unit in ("weeks", "days", "hours", "minutes", "seconds")
    },
}


async def format_date_step(_context: ActionContext, values: Json) -> Json:
    operation, value = values["operation"], values.get("value", "")
    try:
        moment = parse_date(value, values.get("fromTimezone"))
        if moment is None:
            raise invalid("value", f"{value!r} is not a date or date-time")
        if operation == "parse":
            return {"result": to_iso(moment)}
        if operation == "format":
            pattern = values.get("pattern", "%Y-%m-%d")
            return {"result": format_date(moment, pattern, values.get("timezone"))}
        if operation in ("add", "subtract"):
            shift = add if operation == "add" else subtract
            return {"result": str(shift(moment, **values.get("duration", {})))}
        zone = values.get("timezone")
        if not zone:
            raise invalid("timezone", "required by the convert operation")
        local = format_date(moment, "%Y-%m-%dT%H:%M:%S%z", zone)
        return {"result": f"{local[:-2]}:{local[-2:]}"}
    except ValueError as error:
        raise invalid("value", str(error)) from None


async def format_phone(context: ActionContext, values: Json) -> Json:
    result = e164(values.get("value", ""), values.get("region") or context.phone_region)
    return {"result": result, "valid": bool(result)}


def _schema(required: list[str], properties: dict[str, Any]) -> Json:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


ENTRIES = (
    Entry(
        key="core.text.format",
        app=APP,
        kind="action",
        title="Format text",
        description=(
            "Split a full name, change case, trim, replace, or pull the first email address, "
            "phone number (E.164) or URL out of a text."
        ),
        scopes=(),
        input=_schema(
            ["operation", "value"],
            {
                "operation": {"enum": list(TEXT_OPERATIONS)},
                "value": TEXT,
                "find": TEXT,
                "replaceWith": TEXT,
                "region": {"type": "string", "minLength": 2, "maxLength": 2},
            },
        ),
        output={
            "type": "object",
            "properties": {
                "result": {"type": "string"},
                "firstName": {"type": "string"},
                "lastName": {"type": "string"},
            },
        },
        sample={"result": "Ada Lovelace", "firstName": "Ada", "lastName": "Lovelace"},
        run=format_text,
    ),
    Entry(
        key="core.number.format",
        app=APP,
        kind="action",
        title="Format number",
        description=(
            "Round a number, write it with decimals and thousands separators, or read one "
            "from text such as `$1,234.50`."
        ),
        scopes=(),
        input=_schema(
            ["operation", "value"],
            {
                "operation": {"enum": ["round", "format", "parse"]},
                "value": {"type": ["number", "string"]},
                "decimals": {"type": "integer", "minimum": 0, "maximum": 10, "default": 2},
                "decimalSeparator": {"type": "string", "minLength": 1, "maxLength": 1},
                "thousandsSeparator": {"type": "string", "maxLength": 1},
            },
        ),
        output={"type": "object", "properties": {"result": {"type": ["number", "string"]}}},
        sample={"result": "1,234.50"},
        run=format_number,
    ),
    Entry(
        key="core.date.format",
        app=APP,
        kind="action",
        title="Format date",
        description=(
            "Parse a date (read in `fromTimezone` when it has no zone), format it with a "
            "strftime pattern in a time zone, add or subtract a duration, or convert it to "
            "a time zone."
        ),
        scopes=(),
        input=_schema(
            ["operation", "value"],
            {
                "operation": {"enum": ["parse", "format", "add", "subtract", "convert"]},
                "value": SHORT,
                "pattern": SHORT,
                "timezone": SHORT,
                "fromTimezone": SHORT,
                "duration": DURATION,
            },
        ),
        output={"type": "object", "properties": {"result": {"type": "string"}}},
        sample={"result": "2026-12-03T09:00:00.000Z"},
        run=format_date_step,
    ),
    Entry(
        key="core.phone.format",
        app=APP,
        kind="action",
        title="Format phone number",
        description=(
            "A phone number in E.164 form (`+14155550100`), read in `region` (the "
            "installation's default region when not given); empty when it is not valid."
        ),
        scopes=(),
        input=_schema(
            ["value"],
            {"value": SHORT, "region": {"type": "string", "minLength": 2, "maxLength": 2}},
        ),
        output={
            "type": "object",
            "properties": {"result": {"type": "string"}, "valid": {"type": "boolean"}},
        },
        sample={"result": "+14155550100", "valid": True},
        run=format_phone,
    ),
)
