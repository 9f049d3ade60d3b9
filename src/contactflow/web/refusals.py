"""What a form sent that cannot be used, said beside the field it names: a service's refusal
(DomainError) or a wire model's (pydantic) as `field: reason` lines sorted onto the form's
fields; the forms' fields read as text, and the dates and times the forms take (UTC, as
`datetime-local` inputs send them)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from contactflow.platform.errors import DomainError

MOMENT_HINT = "a date and time, such as 2026-01-31T09:00"


def refusal_lines(error: DomainError | ValidationError) -> list[str]:
    if isinstance(error, ValidationError):
        return [
            f"{'.'.join(str(part) for part in item['loc'])}: "
            f"{str(item['msg']).removeprefix('Value error, ')}"
            for item in error.errors()
        ]
    return error.message if isinstance(error.message, list) else [error.message]


def by_field(lines: list[str], known: set[str]) -> tuple[dict[str, str], str]:
    """`field: reason` lines by field (a place within a field, such as `dateOfBirth.date`,
    counts as the field); the others as one message."""
    errors: dict[str, str] = {}
    other = []
    for line in lines:
        place, _, reason = line.partition(": ")
        if place not in known:
            place = place.split(".", 1)[0]
        if place in known and reason:
            errors.setdefault(place, reason)
        else:
            other.append(line)
    return errors, "; ".join(other)


@dataclass
class FilledForm:
    """A form as it was sent, with what was refused beside its fields and the rest above."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""

    @classmethod
    def refused(
        cls,
        values: dict[str, Any],
        error: DomainError | ValidationError,
        known: set[str],
        renamed: Mapping[str, str] | None = None,
    ) -> "FilledForm":
        """`renamed`: the form's name of a list field the service names otherwise."""
        lines = [_on_form(line, renamed or {}) for line in refusal_lines(error)]
        errors, message = by_field(lines, known)
        return cls(values, errors, message)


def _on_form(line: str, renamed: Mapping[str, str]) -> str:
    """A service names an entry of a list by its position (`allowIp.2: ...`) or its value
    (`redirectUri 'x': ...`): said beside the list's one field, naming the entry."""
    place, _, reason = line.partition(": ")
    name, _, position = place.partition(".")
    if name in renamed and position.isdigit():
        return f"{renamed[name]}: entry {int(position) + 1}: {reason}"
    name, _, entry = place.partition(" ")
    if name in renamed:
        return f"{renamed[name]}: {entry + ': ' if entry else ''}{reason}"
    return line


def form_text(form: FormData, name: str) -> str:
    """A text field of a sent form; one not sent (or sent as a file) is empty."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def utc_moment(raw: str) -> datetime:
    """A form's date and time, read as UTC; ValueError when it is not one."""
    return datetime.fromisoformat(raw).replace(tzinfo=UTC)


def form_texts(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """The named fields of a form as text: "" for one not sent (or sent as a file)."""
    return {name: value if isinstance(value := form.get(name, ""), str) else "" for name in names}
