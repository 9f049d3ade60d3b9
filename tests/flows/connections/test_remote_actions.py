"""Contacts API actions on a remote account: a flow's steps name a connection (an API key to
another live server) and act there, with outputs of the same shape as the same steps acting
on this workspace; publishing refuses a connection that is missing, of another kind, or not
granted the scope a step needs."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.flows.helpers import Hub, Json, hub_of
from tests.support import LiveServer

WRITE_SCOPES = ["contacts.readonly", "contacts.write"]


@pytest.fixture
async def account(remote_server: LiveServer) -> AsyncIterator[Hub]:
    """A location on the remote server, and its API calls."""
    async with hub_of(remote_server) as remote:
        yield remote


async def _connection(hub: Hub, account: Hub, scopes: list[str], **more: Any) -> str:
    body = {
        "name": "Remote account",
        "kind": "contacts",
        "auth": "apiKey",
        "baseUrl": str(account.http.base_url).rstrip("/"),
        "apiKey": account.tenant.key,
        "locationId": account.tenant.location_id,
        "scopes": scopes,
        **more,
    }
    return str((await hub.post("/connections", body))["connection"]["id"])


def _steps(email: str, connection_id: str | None) -> list[Json]:
    contact = "{{ steps.create.id }}"
    inputs: list[tuple[str, str, Json]] = [
        ("create", "contacts.contact.create", {"firstName": "Ada", "email": email}),
        ("update", "contacts.contact.update", {"contactId": contact, "city": "London"}),
        ("tag", "contacts.contact.add_tags", {"contactId": contact, "tags": ["vip"]}),
        (
            "task",
            "contacts.task.create",
            {
                "contactId": contact,
                "title": "Call back",
                "dueDate": "2031-01-01T09:00:00Z",
                "completed": False,
            },
        ),
        ("note", "contacts.note.create", {"contactId": contact, "body": "Prefers email."}),
        ("get", "contacts.contact.get", {"contactId": contact}),
    ]
    via = {"connectionId": connection_id} if connection_id else {}
    return [
        {"type": "action", "id": step_id, "action": action, "input": {**values, **via}}
        for step_id, action, values in inputs
    ]


async def _outputs(hub: Hub, steps: list[Json]) -> dict[str, Json]:
    flow = await hub.flow({"trigger": {"key": "core.manual"}, "steps": steps}, name="Remote")
    await hub.post(f"/flows/{flow['id']}/run", {})
    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert run["state"] == "succeeded", detail
    return {step["stepId"]: step["output"] for step in detail["steps"]}


def _shape(value: Any) -> Any:
    """What a value is made of, without its data: names and types all the way down."""
    if isinstance(value, dict):
        return {name: _shape(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


async def test_actions_act_on_the_remote_account_with_outputs_of_the_local_shape(
    hub: Hub, account: Hub
) -> None:
    connection_id = await _connection(hub, account, WRITE_SCOPES)
    email = f"{uuid.uuid4().hex}@example.com"
    local = await _outputs(hub, _steps(email, None))
    remote = await _outputs(hub, _steps(email, connection_id))

    assert list(remote) == ["create", "update", "tag", "task", "note", "get"]
    for step_id, output in remote.items():
        assert _shape(output) == _shape(local[step_id]), step_id
    contact_id = remote["create"]["id"]
    assert contact_id != local["create"]["id"]
    assert remote["get"]["locationId"] == account.tenant.location_id
    assert (remote["get"]["city"], remote["get"]["tags"]) == ("London", ["vip"])
    assert remote["task"]["contactId"] == remote["note"]["contactId"] == contact_id

    # The records are on the remote account, not here.
    there = (await account.get(f"/contacts/{contact_id}"))["contact"]
    assert (there["email"], there["city"], there["tags"]) == (email, "London", ["vip"])
    tasks = (await account.get(f"/contacts/{contact_id}/tasks"))["tasks"]
    notes = (await account.get(f"/contacts/{contact_id}/notes"))["notes"]
    assert [task["title"] for task in tasks] == ["Call back"]
    assert [note["body"] for note in notes] == ["Prefers email."]
    missing = await hub.http.get(f"/contacts/{contact_id}")
    assert missing.status_code == 404


async def _refused(hub: Hub, steps: list[Json]) -> list[str]:
    definition = {"trigger": {"key": "core.manual"}, "steps": steps}
    created = await hub.post("/flows", {"name": "Refused", "definition": definition})
    answer = await hub.post(f"/flows/{created['flow']['id']}/publish", status=422)
    message: list[str] = answer["message"]
    return message


async def test_publishing_refuses_a_connection_that_cannot_serve_the_step(
    hub: Hub, account: Hub
) -> None:
    reader = await _connection(hub, account, ["contacts.readonly"])
    service = (
        await hub.post(
            "/connections",
            {"name": "Service", "kind": "http", "auth": "none", "baseUrl": "http://127.0.0.1:9"},
        )
    )["connection"]["id"]

    def step(step_id: str, action: str, connection_id: str) -> Json:
        values = {"firstName": "Ada"} if action.endswith("create") else {"contactId": "ct_1"}
        return {
            "type": "action",
            "id": step_id,
            "action": action,
            "input": {**values, "connectionId": connection_id},
        }

    refusals = await _refused(
        hub,
        [
            step("create", "contacts.contact.create", reader),
            step("read", "contacts.contact.get", reader),
            step("other", "contacts.contact.get", service),
            step("gone", "contacts.contact.get", "nope"),
        ],
    )
    assert refusals == [
        "steps.create.input.connectionId: step create (contacts.contact.create) needs scope "
        "contacts.write, which the connection was not granted (add it to the connection's "
        "scopes)",
        "steps.other.input.connectionId: contacts.contact.get needs a contacts connection, "
        "this one is http",
        "steps.gone.input.connectionId: no connection 'nope' in this location",
    ]

    # The same flow reading only, through the connection granted contacts.readonly: it runs.
    contact = await account.crm_contact(firstName="Grace", email=f"{uuid.uuid4().hex}@x.io")
    read = step("read", "contacts.contact.get", reader)
    read["input"]["contactId"] = contact["id"]
    outputs = await _outputs(hub, [read])
    assert outputs["read"]["id"] == contact["id"]


async def test_a_templated_connection_of_another_kind_fails_the_step_naming_the_field(
    hub: Hub,
) -> None:
    service = (
        await hub.post(
            "/connections",
            {"name": "Service", "kind": "http", "auth": "none", "baseUrl": "http://127.0.0.1:9"},
        )
    )["connection"]["id"]
    step = {
        "type": "action",
        "id": "get",
        "action": "contacts.contact.get",
        "input": {"contactId": "ct_1", "connectionId": "{{ trigger.connection }}"},
    }
    flow = await hub.flow({"trigger": {"key": "core.manual"}, "steps": [step]}, name="Templated")
    await hub.post(f"/flows/{flow['id']}/run", {"connection": service})
    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert run["state"] == "failed"
    (failed,) = detail["steps"]
    assert failed["error"] == f"connectionId: {service} is a http connection, not a Contacts API"


async def test_the_built_in_contacts_connection_acts_on_this_workspace(hub: Hub) -> None:
    listed = (await hub.get("/connections"))["connections"]
    (builtin,) = [found for found in listed if found["builtin"] and found["kind"] == "contacts"]
    contact = await hub.crm_contact(firstName="Ada", email=f"{uuid.uuid4().hex}@example.com")
    step = {
        "type": "action",
        "id": "tag",
        "action": "contacts.contact.add_tags",
        "input": {"contactId": contact["id"], "tags": ["vip"], "connectionId": builtin["id"]},
    }
    outputs = await _outputs(hub, [step])
    assert outputs["tag"]["tags"] == ["vip"]
    assert (await hub.get(f"/contacts/{contact['id']}"))["contact"]["tags"] == ["vip"]
