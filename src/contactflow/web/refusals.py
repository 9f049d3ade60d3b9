"""What a form sent that cannot be used, said beside the field it names: a service's refusal
(DomainError) or a wire model's (pydantic) as `field: reason` lines sorted onto the form's
fields, and the dates and times the forms take (UTC, as `datetime-local` inputs send them)."""

from datetime import UTC, datetime

from pydantic import ValidationError

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
    """`field: reason` lines by field; the others as one message."""
    errors: dict[str, str] = {}
    other = []
    for line in lines:
        place, _, reason = line.partition(": ")
        if place in known and reason:
            errors.setdefault(place, reason)
        else:
            other.append(line)
    return errors, "; ".join(other)


def utc_moment(raw: str) -> datetime:
    """A form's date and time, read as UTC; ValueError when it is not one."""
    return datetime.fromisoformat(raw).replace(tzinfo=UTC)
