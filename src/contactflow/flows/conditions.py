"""Evaluating conditions over a run's data: pure functions, no I/O.

Values are found by dotted paths into `{"trigger": payload, "steps": {id: output}}`; a number
in a path indexes a list (`trigger.customFields.0.value`). A comparison whose sides are not of
one comparable kind (numbers, or dates) is false rather than an error, so a flow never fails
because a record lacks a field.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from contactflow.flows.definition import Condition, Group
from contactflow.platform.clock import as_utc, utcnow

_MISSING = object()


def resolve(data: Any, path: str) -> Any:
    """The value at `path`, or `_MISSING` when any part of it is absent."""
    value = data
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, Sequence) and not isinstance(value, str) and part.isdigit():
            index = int(part)
            if index >= len(value):
                return _MISSING
            value = value[index]
        else:
            return _MISSING
    return value


def lookup(data: Any, path: str) -> Any:
    """The value at `path`, None when it is absent."""
    value = resolve(data, path)
    return None if value is _MISSING else value


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def as_datetime(value: Any) -> datetime | None:
    """ISO 8601 text (a bare date is midnight UTC; no zone means UTC) or a datetime."""
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        return None


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    numbers = as_number(left), as_number(right)
    if numbers[0] is not None and numbers[1] is not None:
        return numbers
    dates = as_datetime(left), as_datetime(right)
    if dates[0] is not None and dates[1] is not None:
        return dates
    return None


def _text(value: Any, case_sensitive: bool) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return text if case_sensitive else text.casefold()


def _equal(left: Any, right: Any, case_sensitive: bool) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return _text(left, case_sensitive) == _text(right, case_sensitive)
    if left == right:
        return True
    pair = _comparable(left, right)
    return pair is not None and pair[0] == pair[1]


def _present(value: Any) -> bool:
    return value is not _MISSING and value is not None and value != "" and value != []


def _contains(left: Any, right: Any, case_sensitive: bool) -> bool:
    if isinstance(left, list):
        return any(_equal(item, right, case_sensitive) for item in left)
    if isinstance(left, str):
        return _text(right, case_sensitive) in _text(left, case_sensitive)
    return False


def _order(operator: str, left: Any, right: Any) -> bool:
    pair = _comparable(left, right)
    if pair is None:
        return False
    a, b = pair
    if operator == "gt":
        return bool(a > b)
    if operator == "gte":
        return bool(a >= b)
    if operator == "lt":
        return bool(a < b)
    return bool(a <= b)


def _between(left: Any, bounds: Any) -> bool:
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        return False
    return _order("gte", left, bounds[0]) and _order("lte", left, bounds[1])


def _within_last_days(left: Any, days: Any, now: datetime) -> bool:
    moment, span = as_datetime(left), as_number(days)
    if moment is None or span is None:
        return False
    return now - timedelta(days=span) <= moment <= now


def check(condition: Condition, data: Any, now: datetime | None = None) -> bool:
    value = resolve(data, condition.field)
    operator, expected, exact = condition.operator, condition.value, condition.case_sensitive
    if operator == "exists":
        return _present(value)
    if operator == "notExists":
        return not _present(value)
    if operator == "notEquals":
        return value is _MISSING or not _equal(value, expected, exact)
    if value is _MISSING:
        return False
    if operator == "equals":
        return _equal(value, expected, exact)
    if operator == "contains":
        return _contains(value, expected, exact)
    if operator == "startsWith":
        return isinstance(value, str) and _text(value, exact).startswith(_text(expected, exact))
    if operator == "in":
        options = expected if isinstance(expected, list) else [expected]
        return any(_equal(value, option, exact) for option in options)
    if operator in ("gt", "gte", "lt", "lte"):
        return _order(operator, value, expected)
    if operator == "between":
        return _between(value, expected)
    if operator == "withinLastDays":
        return _within_last_days(value, expected, now or utcnow())
    # tagPresent: the field holds the tags (HighLevel tags are case-insensitive).
    tags = value if isinstance(value, list) else []
    return any(_text(tag, False) == _text(expected, False) for tag in tags)


def holds(group: Group | None, data: Any, now: datetime | None = None) -> bool:
    """Whether the group holds over `data`; no group always does."""
    if group is None:
        return True
    moment = now or utcnow()
    results = (
        holds(item, data, moment) if isinstance(item, Group) else check(item, data, moment)
        for item in group.conditions
    )
    return all(results) if group.match == "all" else any(results)
