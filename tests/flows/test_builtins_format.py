"""The built-in formatters, lookup table and JSON steps inside a real flow on the live server:
a contact created through the Contacts API runs them, and each step's output is checked."""

from typing import Any

from tests.flows.helpers import Hub, Json


def _action(step_id: str, action: str, **values: Any) -> Json:
    return {"type": "action", "id": step_id, "action": action, "input": values}


def _text(step_id: str, operation: str, value: str, **values: Any) -> Json:
    return _action(step_id, "core.text.format", operation=operation, value=value, **values)


STEPS = [
    _text("split", "splitName", "{{ trigger.name }}"),
    _text("capital", "capitalize", "aDA"),
    _text("titled", "title", "ada king lovelace"),
    _text("lowered", "lower", "{{ trigger.email }}"),
    _text("uppered", "upper", "ada"),
    _text("trimmed", "trim", "  Ada   Lovelace  "),
    _text(
        "replaced", "replace", "Hello NAME", find="NAME", replaceWith="{{ steps.split.firstName }}"
    ),
    _text("email", "extractEmail", "Write to ada@example.com, or call."),
    _text("phone", "extractPhone", "Call (415) 555-0100 after six", region="US"),
    _text("url", "extractUrl", "See https://example.org/docs?a=1. Thanks"),
    _action("rounded", "core.number.format", operation="round", value="3.14159", decimals=2),
    _action("grouped", "core.number.format", operation="format", value=1234567.891, decimals=2),
    _action(
        "european",
        "core.number.format",
        operation="format",
        value=1234.5,
        decimals=1,
        decimalSeparator=",",
        thousandsSeparator=".",
    ),
    _action("parsed", "core.number.format", operation="parse", value="$1,234.50"),
    _action(
        "local",
        "core.date.format",
        operation="parse",
        value="2026-03-01 09:30",
        fromTimezone="Europe/Paris",
    ),
    _action(
        "written",
        "core.date.format",
        operation="format",
        value="2026-03-01T23:30:00Z",
        pattern="%d/%m/%Y %H:%M",
        timezone="Asia/Tokyo",
    ),
    _action(
        "later",
        "core.date.format",
        operation="add",
        value="2026-03-01T09:00:00Z",
        duration={"days": 2, "hours": 1},
    ),
    _action(
        "earlier",
        "core.date.format",
        operation="subtract",
        value="2026-03-01T09:00:00Z",
        duration={"weeks": 1},
    ),
    _action(
        "converted",
        "core.date.format",
        operation="convert",
        value="2026-07-01T12:00:00Z",
        timezone="America/New_York",
    ),
    _action("e164", "core.phone.format", value="020 7946 0958", region="GB"),
    _action("nophone", "core.phone.format", value="12"),
    _action(
        "tier",
        "core.lookup",
        key="{{ trigger.tags | first }}",
        table={"gold": "VIP", "silver": "Regular"},
        default="Unknown",
    ),
    _action("missing", "core.lookup", key="bronze", table={"gold": "VIP"}, default="Unknown"),
    _action("folded", "core.lookup", key="GOLD", table={"gold": 1}, caseSensitive=False),
    _action("decoded", "core.json.parse", text='{"plan": "gold", "seats": [1, 2]}'),
    _action(
        "built",
        "core.json.build",
        value={
            "name": "{{ steps.split.firstName }}",
            "seats": 3,
            "plan": "{{ steps.decoded.result.plan }}",
        },
    ),
]
EXPECTED: dict[str, Json] = {
    "split": {"result": "Ada King Lovelace", "firstName": "Ada", "lastName": "King Lovelace"},
    "capital": {"result": "Ada"},
    "titled": {"result": "Ada King Lovelace"},
    "lowered": {"result": "ada@example.com"},
    "uppered": {"result": "ADA"},
    "trimmed": {"result": "Ada Lovelace"},
    "replaced": {"result": "Hello Ada"},
    "email": {"result": "ada@example.com"},
    "phone": {"result": "+14155550100"},
    "url": {"result": "https://example.org/docs?a=1"},
    "rounded": {"result": 3.14},
    "grouped": {"result": "1,234,567.89"},
    "european": {"result": "1.234,5"},
    "parsed": {"result": 1234.5},
    "local": {"result": "2026-03-01T08:30:00.000Z"},
    "written": {"result": "02/03/2026 08:30"},
    "later": {"result": "2026-03-03T10:00:00.000Z"},
    "earlier": {"result": "2026-02-22T09:00:00.000Z"},
    "converted": {"result": "2026-07-01T08:00:00-04:00"},
    "e164": {"result": "+442079460958", "valid": True},
    "nophone": {"result": "", "valid": False},
    "tier": {"result": "VIP", "found": True},
    "missing": {"result": "Unknown", "found": False},
    "folded": {"result": 1, "found": True},
    "decoded": {"result": {"plan": "gold", "seats": [1, 2]}},
    "built": {
        "result": {"name": "Ada", "seats": 3, "plan": "gold"},
        "text": '{"name":"Ada","seats":3,"plan":"gold"}',
    },
}


async def test_formatters_lookup_and_json_give_their_values_to_later_steps(hub: Hub) -> None:
    flow = await hub.flow({"trigger": {"key": "contacts.contact.created"}, "steps": STEPS})
    await hub.crm_contact(name="  Ada  King Lovelace ", email="ADA@Example.com", tags=["gold"])

    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "succeeded", detail
    outputs = {step["stepId"]: step["output"] for step in detail["steps"]}
    assert outputs == EXPECTED


async def test_an_operation_a_template_gives_is_checked_when_the_step_runs(hub: Hub) -> None:
    step = _action("shout", "core.text.format", operation="{{ trigger.firstName }}", value="x")
    flow = await hub.flow({"trigger": {"key": "contacts.contact.created"}, "steps": [step]})
    await hub.crm_contact(firstName="yell", email="yell@example.com")

    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "failed"
    assert detail["steps"][0]["error"].startswith(
        "steps.shout.input.operation: 'yell' is not one of splitName"
    ), detail


async def test_a_bad_value_fails_the_step_naming_the_field(hub: Hub) -> None:
    steps = [
        _action("decoded", "core.json.parse", text="{not json"),
        _action("never", "core.text.format", operation="upper", value="x"),
    ]
    flow = await hub.flow({"trigger": {"key": "contacts.contact.created"}, "steps": steps})
    await hub.crm_contact(name="Ada", email="ada@example.com")

    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "failed"
    (step,) = detail["steps"]
    assert step["stepId"] == "decoded"
    assert step["error"].startswith("text: not JSON"), step


async def test_publishing_refuses_an_unknown_operation_and_a_missing_input(hub: Hub) -> None:
    steps = [
        _action("shout", "core.text.format", value="x"),
        _action("yell", "core.text.format", operation="yell", value="x"),
        _action("table", "core.lookup", key="a", table={}, colour="red"),
    ]
    created = await hub.post(
        "/flows",
        {
            "name": "Bad",
            "definition": {"trigger": {"key": "contacts.contact.created"}, "steps": steps},
        },
    )
    refused = await hub.post(f"/flows/{created['flow']['id']}/publish", status=422)
    text = str(refused)
    assert "steps.shout.input.operation: required" in text, refused
    assert "steps.yell.input.operation: 'yell' is not one of splitName, capitalize" in text
    assert "steps.table.input.colour" in text, refused
