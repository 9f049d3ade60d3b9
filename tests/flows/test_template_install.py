"""The shipped templates: listed with their parameter schemas, installed in one call
(created, published, enabled), and refused whole, naming the parameter, when one is bad."""

import pytest

from contactflow.flows.service import REFERENCES
from contactflow.flows.templates import checked_parameters, shipped
from contactflow.flows.validation import problems
from contactflow.platform.errors import Unprocessable
from tests.flows.helpers import Hub
from tests.mailsuite.helpers import error_lines


def test_every_shipped_template_fills_into_flows_that_publish() -> None:
    assert set(shipped()) >= {"welcome", "notes-timeline"}
    for template in shipped().values():
        properties = template.parameters["properties"]
        required = set(template.parameters.get("required", []))
        # Stand-ins for the required values, of the type the schema asks.
        given = {name: 1 if properties[name]["type"] == "integer" else "x1" for name in required}
        for name, definition in template.definitions(checked_parameters(template, given)):
            assert problems(definition) == [], (template.key, name)
        for spec in properties.values():
            assert spec.get("x-refers", "mailsuite.sender") in REFERENCES


def test_parameters_are_checked_against_their_schema() -> None:
    welcome = shipped()["welcome"]
    with pytest.raises(Unprocessable) as caught:
        checked_parameters(
            welcome, {"dueInDays": 400, "subject": "{{ oops", "colour": "red", "html": 5}
        )
    assert caught.value.message == [
        "parameters.colour: not a parameter of welcome",
        "parameters.senderId: required",
        "parameters.subject: does not parse: line 1: unexpected end of template, expected "
        "'end of print statement'.",
        "parameters.html: must be a string",
        "parameters.dueInDays: at most 365",
    ]
    values = checked_parameters(welcome, {"senderId": "sd_1", "dueInDays": 0})
    assert values["dueInDays"] == 0
    assert values["taskTitle"] == "Follow up with {{ trigger.name or trigger.email }}"


async def test_templates_are_listed_with_their_parameters(hub: Hub) -> None:
    listed = (await hub.get("/flows/templates"))["templates"]
    by_key = {template["key"]: template for template in listed}
    welcome = by_key["welcome"]
    assert welcome["flows"] == ["Welcome new contacts"]
    assert welcome["parameters"]["required"] == ["senderId"]
    assert welcome["parameters"]["properties"]["dueInDays"]["default"] == 2
    assert welcome["parameters"]["properties"]["senderId"]["x-refers"] == "mailsuite.sender"


async def test_install_creates_publishes_and_enables_the_flows(hub: Hub) -> None:
    sender = await hub.mail_sender("127.0.0.1", 2525)
    parameters = {"senderId": sender["id"], "dueInDays": 5, "taskTitle": "Call {{ trigger.name }}"}
    (flow,) = (await hub.post("/flows/templates/welcome/install", {"parameters": parameters}))[
        "flows"
    ]
    assert flow["enabled"] is True
    assert flow["published"]["number"] == 1
    assert flow["draft"] is None
    steps = {step["id"]: step for step in flow["published"]["definition"]["steps"]}
    assert steps["welcome"]["input"]["senderId"] == sender["id"]
    assert steps["task"]["input"]["title"] == "Call {{ trigger.name }}"
    assert steps["task"]["input"]["dueAt"] == "{{ trigger.dateAdded | add(days=5) }}"
    listed = (await hub.get("/flows"))["flows"]
    assert [row["id"] for row in listed] == [flow["id"]]


async def test_a_bad_parameter_installs_nothing_and_is_named(hub: Hub) -> None:
    install = "/flows/templates/welcome/install"
    response = await hub.http.post(install, json={"parameters": {"senderId": "sd_missing"}})
    assert error_lines(response, 422) == ["parameters.senderId: no such Mailsuite sender"]
    response = await hub.http.post(install, json={"parameters": {"dueInDays": "two"}})
    assert error_lines(response, 422) == [
        "parameters.senderId: required",
        "parameters.dueInDays: must be an integer",
    ]
    response = await hub.http.post("/flows/templates/no-such/install", json={})
    assert error_lines(response, 404) == ["Template not found"]
    assert (await hub.get("/flows"))["flows"] == []


async def test_a_second_install_is_refused_naming_the_flows_or_replaces_them(hub: Hub) -> None:
    sender = await hub.mail_sender("127.0.0.1", 2525)
    install = "/flows/templates/welcome/install"
    (flow,) = (await hub.post(install, {"parameters": {"senderId": sender["id"]}}))["flows"]
    assert flow["template"] == {"key": "welcome", "flow": "Welcome new contacts"}

    again = await hub.http.post(install, json={"parameters": {"senderId": sender["id"]}})
    assert error_lines(again, 409) == [
        f"Template welcome is already installed in this location: Welcome new contacts "
        f"({flow['id']}); install it with replace to update these flows in place"
    ]
    assert again.json()["meta"] == {"flows": [{"id": flow["id"], "name": flow["name"]}]}

    await hub.call("PUT", f"/flows/{flow['id']}", 200, json={"name": "Our welcome"})
    parameters = {"senderId": sender["id"], "dueInDays": 7}
    replaced = await hub.call(
        "POST", install, 200, params={"replace": "true"}, json={"parameters": parameters}
    )
    (updated,) = replaced["flows"]
    assert (updated["id"], updated["name"], updated["enabled"]) == (flow["id"], "Our welcome", True)
    assert updated["published"]["number"] == 2
    steps = {step["id"]: step for step in updated["published"]["definition"]["steps"]}
    assert steps["task"]["input"]["dueAt"] == "{{ trigger.dateAdded | add(days=7) }}"
    assert [row["id"] for row in (await hub.get("/flows"))["flows"]] == [flow["id"]]
