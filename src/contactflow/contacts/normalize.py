"""Input rules that every write of a contact goes through: tags, emails, phones, names."""

import copy
from datetime import date
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from sqlalchemy import inspect

from contactflow.contacts.schemas import DateParts
from contactflow.platform.errors import invalid


def normalize_tags(tags: list[str]) -> list[str]:
    """Trimmed, lower-cased, de-duplicated, in the order given; empty tags dropped."""
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = tag.strip().lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def normalize_email(value: str, field: str = "email") -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise invalid(field, f"not a valid email address ({error})") from error


def normalize_phone(value: str, region: str, field: str = "phone") -> str:
    """E.164, read with `region` when the number has no country code."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise invalid(field, f"not a valid phone number ({error})") from error
    if not phonenumbers.is_possible_number(number):
        raise invalid(field, "not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def birthday(value: date | DateParts) -> str:
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date(value.year, value.month, value.day).isoformat()
    except ValueError as error:
        raise invalid("dateOfBirth", str(error)) from error


def full_name(first: str | None, last: str | None) -> str | None:
    joined = " ".join(part for part in (first, last) if part)
    return joined or None


def split_name(name: str) -> tuple[str, str | None]:
    first, _, last = name.partition(" ")
    return first, (last.strip() or None)


def search_text(*parts: str | None, tags: list[str]) -> str:
    return " ".join(part.lower() for part in (*parts, *tags) if part)


def assign_fields(row: object, fields: BaseModel, *, required: frozenset[str]) -> None:
    """Copy the fields a partial update sent onto `row`; `required` ones cannot be nulled."""
    for name in fields.model_fields_set:
        value = getattr(fields, name)
        if value is None and name in required:
            raise invalid(to_camel(name), "cannot be null")
        setattr(row, name, value)


def stored_values(row: object) -> dict[str, Any]:
    """A copy of the row's column values: an update compares them before and after, and
    one that changed nothing is not an update (no event, no new time)."""
    mapper = inspect(row).mapper
    return {column.key: copy.deepcopy(getattr(row, column.key)) for column in mapper.column_attrs}
