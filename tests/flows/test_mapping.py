"""Field mapping: templates in the sandbox, formatters, coercion to the input schema."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contactflow.flows.mapping import MappingError, coerce, map_input, parse, render

DATA: dict[str, Any] = {
    "trigger": {
        "name": "Ada King Lovelace",
        "phone": "(415) 555-2671",
        "dueDate": "2026-12-04T09:00:00.000Z",
        "local": "2026-12-04 09:00",
        "tags": ["a", "b"],
        "count": "3",
    },
    "steps": {"contact": {"id": "m1"}},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "contactId"],
    "properties": {
        "title": {"type": "string"},
        "contactId": {"type": "string"},
        "dueAt": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "done": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "extra": {"type": "object"},
    },
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ trigger.name | first_name }}", "Ada"),
        ("{{ trigger.name | last_name }}", "King Lovelace"),
        ("{{ trigger.phone | e164 }}", "+14155552671"),
        ("{{ '020 7946 0018' | e164('GB') }}", "+442079460018"),
        ("{{ 'not a phone' | e164 }}", ""),
        ("{{ trigger.dueDate | subtract(days=1) }}", "2026-12-03T09:00:00.000Z"),
        ("{{ trigger.dueDate | add(hours=2, minutes=30) }}", "2026-12-04T11:30:00.000Z"),
        ("{{ trigger.local | parse_date('Europe/Paris') }}", "2026-12-04T08:00:00.000Z"),
        (
            "{{ trigger.dueDate | format_date('%d/%m/%Y %H:%M', 'America/New_York') }}",
            "04/12/2026 04:00",
        ),
        ("{{ trigger.missing | default('there') }}", "there"),
        ("{{ trigger.tags | join(',') }}", "a,b"),
        ("Hi {{ trigger.name | first_name | upper }}", "Hi ADA"),
        ("{{ steps.contact.id }}", "m1"),
    ],
)
def test_formatters(template: str, expected: str) -> None:
    assert render(template, DATA) == expected


def test_now_is_the_current_time() -> None:
    rendered = render("{{ now | add(days=2) }}", DATA)
    moment = datetime.fromisoformat(rendered.replace("Z", "+00:00"))
    assert abs(moment - (datetime.now(UTC) + timedelta(days=2))) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ trigger.name ", "line 1"),
        ("{% for x in trigger.tags %}{{ x }}{% endfor %}", "For is not allowed"),
        ("{{ secrets.key }}", "unknown name 'secrets'"),
        ("{{ trigger.__class__ }}", "unsafe"),
    ],
)
def test_templates_that_cannot_be_used(template: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        render(template, DATA)


def test_unsafe_attribute_access_is_refused_by_the_sandbox() -> None:
    with pytest.raises(ValueError, match="unsafe"):
        render("{{ trigger.name.__class__.__mro__ }}", DATA)


def test_parse_names_referenced_roots_only() -> None:
    parse("{{ trigger.a }}{{ steps.b.c }}{{ now }}")
    with pytest.raises(ValueError, match="unknown name"):
        parse("{{ range(10) }}")


def test_map_input_renders_and_coerces_every_type() -> None:
    mapping = {
        "title": "Call {{ trigger.name | first_name }}",
        "contactId": "{{ steps.contact.id }}",
        "dueAt": "{{ trigger.dueDate | add(days=2) }}",
        "count": "{{ trigger.count }}",
        "ratio": "0.5",
        "done": "yes",
        "tags": "{{ trigger.tags | tojson }}",
        "extra": {"note": "{{ trigger.name }}", "n": 1},
    }
    assert map_input("task", mapping, SCHEMA, DATA) == {
        "title": "Call Ada",
        "contactId": "m1",
        "dueAt": "2026-12-06T09:00:00.000Z",
        "count": 3,
        "ratio": 0.5,
        "done": True,
        "tags": ["a", "b"],
        "extra": {"note": "Ada King Lovelace", "n": 1},
    }


def test_an_empty_optional_field_is_left_out() -> None:
    mapping = {"title": "t", "contactId": "c", "dueAt": "{{ trigger.missing | default('') }}"}
    assert map_input("task", mapping, SCHEMA, DATA) == {"title": "t", "contactId": "c"}


@pytest.mark.parametrize(
    ("mapping", "field", "reason"),
    [
        ({"title": "t", "contactId": "c", "colour": "red"}, "colour", "not an input"),
        ({"title": "t"}, "contactId", "required"),
        ({"title": "t", "contactId": "c", "count": "three"}, "count", "not an integer"),
        ({"title": "t", "contactId": "c", "count": "2.5"}, "count", "not an integer"),
        ({"title": "t", "contactId": "c", "done": "maybe"}, "done", "not true or false"),
        ({"title": "t", "contactId": "c", "dueAt": "soon"}, "dueAt", "not a date"),
        ({"title": "t", "contactId": "c", "extra": "[1]"}, "extra", "not a JSON object"),
        ({"title": "{{ trigger.nope }}", "contactId": "c"}, "title", "no attribute 'nope'"),
    ],
)
def test_mapping_errors_name_the_step_and_field(
    mapping: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(MappingError) as raised:
        map_input("task", mapping, SCHEMA, DATA)
    assert raised.value.field == f"steps.task.input.{field}"
    assert reason in raised.value.reason


def test_coerce_splits_a_plain_list() -> None:
    assert coerce("a, b ,c", {"type": "array"}) == ["a", "b", "c"]
    assert coerce("7", {"type": ["number", "null"]}) == 7.0


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ trigger.nothing | add(days=1) }}", "no attribute 'nothing'"),
        ("{{ trigger.nothing | first_name }}", "no attribute 'nothing'"),
        ("{{ trigger.name | add(days=1) }}", "'Ada King Lovelace' is not a date"),
        ("{{ trigger.dueDate | add(fortnights=1) }}", "unknown duration unit 'fortnights'"),
        ("{{ trigger.dueDate | format_date('%Y', 'Mars/Olympus') }}", "unknown time zone"),
    ],
)
def test_formatters_refuse_missing_fields_and_bad_values(template: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        render(template, DATA)


def test_an_empty_date_stays_empty_so_an_optional_field_is_left_out() -> None:
    data = {"trigger": {"dueDate": None, "blank": ""}}
    assert render("{{ trigger.dueDate | add(days=1) }}", data) == ""
    assert render("{{ trigger.blank | format_date }}", data) == ""


@pytest.mark.parametrize(
    "template",
    ["{{ 'a' * 1000000 }}", "{{ 1000000 * [1] }}", "{{ 2 ** 100000 }}"],
)
def test_templates_cannot_exhaust_the_worker(template: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        render(template, DATA)
    assert render("{{ 'ab' * 3 }}-{{ 2 ** 10 }}", DATA) == "ababab-1024"
