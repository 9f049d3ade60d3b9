"""Conditions over a run's data: every operator, groups, missing fields, dates."""

from datetime import UTC, datetime
from typing import Any

import pytest

from contactflow.flows.conditions import check, holds, lookup
from contactflow.flows.definition import Condition, Group

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DATA: dict[str, Any] = {
    "trigger": {
        "email": "Ada@Example.com",
        "name": "Ada Lovelace",
        "tags": ["VIP", "lead"],
        "score": "42",
        "age": 36,
        "empty": "",
        "dueDate": "2026-12-04T09:00:00.000Z",
        "dateAdded": "2026-11-30T08:00:00Z",
        "customFields": [{"id": "cf1", "value": "gold"}],
        "source": None,
    },
    "steps": {"task": {"id": "t1", "status": "open"}},
}


def c(field: str, operator: str, value: Any = None, **options: Any) -> Condition:
    return Condition.model_validate(
        {"field": field, "operator": operator, "value": value, **options}
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (c("trigger.email", "equals", "ada@example.com"), True),
        (c("trigger.email", "equals", "ada@example.com", caseSensitive=True), False),
        (c("trigger.score", "equals", 42), True),
        (c("trigger.age", "equals", "36"), True),
        (c("trigger.email", "notEquals", "bob@example.com"), True),
        (c("trigger.missing", "notEquals", "x"), True),
        (c("trigger.missing", "equals", "x"), False),
        (c("trigger.name", "contains", "love"), True),
        (c("trigger.name", "contains", "Love", caseSensitive=True), True),
        (c("trigger.name", "contains", "love", caseSensitive=True), False),
        (c("trigger.tags", "contains", "lead"), True),
        (c("trigger.age", "contains", "3"), False),
        (c("trigger.name", "startsWith", "ada"), True),
        (c("trigger.name", "startsWith", "love"), False),
        (c("trigger.email", "exists"), True),
        (c("trigger.empty", "exists"), False),
        (c("trigger.source", "exists"), False),
        (c("trigger.missing", "notExists"), True),
        (c("trigger.email", "notExists"), False),
        (c("steps.task.status", "in", ["open", "pending"]), True),
        (c("steps.task.status", "in", ["done"]), False),
        (c("trigger.customFields.0.value", "equals", "gold"), True),
        (c("trigger.customFields.3.value", "exists"), False),
        (c("trigger.score", "gt", 41), True),
        (c("trigger.score", "gt", 42), False),
        (c("trigger.score", "gte", 42), True),
        (c("trigger.age", "lt", "40"), True),
        (c("trigger.age", "lte", 35), False),
        (c("trigger.name", "gt", 3), False),
        (c("trigger.dueDate", "gt", "2026-12-03"), True),
        (c("trigger.dueDate", "lt", "2026-12-04T08:59:59Z"), False),
        (c("trigger.dueDate", "lte", "2026-12-04T10:00:00+01:00"), True),
        (c("trigger.dateAdded", "withinLastDays", 3), True),
        (c("trigger.dateAdded", "withinLastDays", 1), False),
        (c("trigger.dueDate", "withinLastDays", 30), False),
        (c("trigger.dueDate", "between", ["2026-12-01", "2026-12-05"]), True),
        (c("trigger.dueDate", "between", ["2026-12-05", "2026-12-09"]), False),
        (c("trigger.age", "between", [30, 36]), True),
        (c("trigger.age", "between", [30]), False),
        (c("trigger.tags", "tagPresent", "vip"), True),
        (c("trigger.tags", "tagPresent", "customer"), False),
        (c("trigger.name", "tagPresent", "Ada"), False),
    ],
)
def test_operator(condition: Condition, expected: bool) -> None:
    assert check(condition, DATA, NOW) is expected


def test_groups_nest_with_and_and_or() -> None:
    group = Group.model_validate(
        {
            "match": "all",
            "conditions": [
                {"field": "trigger.email", "operator": "exists"},
                {
                    "match": "any",
                    "conditions": [
                        {"field": "trigger.tags", "operator": "tagPresent", "value": "nope"},
                        {"field": "trigger.age", "operator": "gte", "value": 18},
                    ],
                },
            ],
        }
    )
    assert holds(group, DATA, NOW)
    inner = group.conditions[1]
    assert isinstance(inner, Group)
    inner.match = "all"
    assert not holds(group, DATA, NOW)
    assert holds(None, DATA)
    assert not holds(Group(match="any", conditions=[]), DATA)
    assert holds(Group(match="all", conditions=[]), DATA)


def test_lookup_gives_none_for_absent_paths() -> None:
    assert lookup(DATA, "steps.task.id") == "t1"
    assert lookup(DATA, "steps.nothing.id") is None
    assert lookup(DATA, "trigger.email.deeper") is None
