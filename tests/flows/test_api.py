"""/flows: drafts, publishing checked against the catalog, versions, enable and disable,
pagination, tenancy and scopes."""

import httpx

from contactflow.platform.auth.scopes import FLOWS_READ
from contactflow.platform.db import Database
from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import error_lines
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, make_tenant

GOOD: Json = {
    "trigger": {"key": "contacts.task.created"},
    "steps": [
        {
            "type": "action",
            "id": "copy",
            "action": "mailsuite.task.create",
            "input": {"title": "{{ trigger.title }}", "dueAt": "{{ trigger.dueDate }}"},
        }
    ],
}


async def test_publishing_a_flow_that_cannot_run_names_each_step_and_field(hub: Hub) -> None:
    bad: Json = {
        "trigger": {"key": "contacts.nothing.happened"},
        "conditions": {"conditions": [{"field": "email", "operator": "exists"}]},
        "steps": [
            {
                "type": "action",
                "id": "task",
                "action": "mailsuite.task.create",
                "input": {
                    "notes": "{{ trigger.title ",
                    "colour": "red",
                    "dueAt": "{{ steps.later.dueAt }}",
                },
            },
            {"type": "action", "id": "later", "action": "mailsuite.task.explode"},
            {"type": "delay", "id": "wait", "until": "{{ secrets.when }}"},
        ],
    }
    created = await hub.post("/flows", {"name": "Broken", "definition": bad})
    flow_id = created["flow"]["id"]
    response = await hub.http.post(f"/flows/{flow_id}/publish")
    lines = error_lines(response, 422)
    assert lines == [
        "trigger.key: 'contacts.nothing.happened' is not a trigger of the catalog",
        "conditions.conditions.0.field: starts with trigger., steps. or loop.",
        "steps.task.input.notes: does not parse: line 1: unexpected end of template, "
        "expected 'end of print statement'.",
        "steps.task.input.colour: not an input of mailsuite.task.create",
        "steps.task.input.dueAt: refers to step 'later', which does not run before this one",
        "steps.task.input.title: required by mailsuite.task.create, map a value to it",
        "steps.later.action: 'mailsuite.task.explode' is not an action of the catalog",
        "steps.wait.until: does not parse: unknown name 'secrets'; use trigger, steps, now or loop",
    ]
    flow = (await hub.get(f"/flows/{flow_id}"))["flow"]
    assert flow["published"] is None
    assert flow["draft"]["definition"] == bad
    refused = await hub.http.post(f"/flows/{flow_id}/enable")
    assert "Publish the flow" in error_lines(refused, 409)[0]


async def test_an_unknown_field_in_a_definition_is_refused_at_once(hub: Hub) -> None:
    definition = {**GOOD, "steps": [{**GOOD["steps"][0], "retries": 3}]}
    response = await hub.http.post("/flows", json={"name": "x", "definition": definition})
    assert any("retries" in line for line in error_lines(response, 422))


async def test_drafts_versions_and_history(hub: Hub) -> None:
    created = (await hub.post("/flows", {"name": "Copy tasks", "definition": GOOD}))["flow"]
    assert created["enabled"] is False
    assert created["published"] is None
    assert created["draft"]["definition"] == GOOD
    flow_id = created["id"]

    published = (await hub.post(f"/flows/{flow_id}/publish", status=200))["flow"]
    assert published["draft"] is None
    assert published["published"]["number"] == 1
    assert published["published"]["definition"] == GOOD
    again = await hub.http.post(f"/flows/{flow_id}/publish")
    assert "no draft" in error_lines(again, 409)[0]

    changed = {**GOOD, "trigger": {"key": "contacts.task.updated"}}
    body = {"name": "Copy tasks v2", "definition": changed}
    updated = (await hub.call("PUT", f"/flows/{flow_id}", 200, json=body))["flow"]
    assert updated["name"] == "Copy tasks v2"
    assert updated["draft"]["definition"] == changed
    assert updated["published"]["number"] == 1
    second = (await hub.post(f"/flows/{flow_id}/publish", status=200))["flow"]
    assert second["published"]["number"] == 2
    assert second["published"]["definition"] == changed

    enabled = (await hub.post(f"/flows/{flow_id}/enable", status=200))["flow"]
    assert enabled["enabled"] is True
    disabled = (await hub.post(f"/flows/{flow_id}/disable", status=200))["flow"]
    assert disabled["enabled"] is False

    await hub.call("DELETE", f"/flows/{flow_id}", 204)
    assert (await hub.http.get(f"/flows/{flow_id}")).status_code == 404


async def test_flows_are_listed_newest_first_in_pages(hub: Hub) -> None:
    names = [f"flow {number}" for number in range(5)]
    for name in names:
        await hub.post("/flows", {"name": name, "definition": GOOD})
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await hub.get("/flows", limit=2, **({"cursor": cursor} if cursor else {}))
        seen.extend(flow["name"] for flow in page["flows"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == names[::-1]


async def test_another_locations_flows_are_not_found_and_scopes_are_required(
    hub: Hub, flows_server: LiveServer, flows_db: Database
) -> None:
    flow_id = (await hub.post("/flows", {"name": "Mine", "definition": GOOD}))["flow"]["id"]
    other = await make_tenant(flows_db)
    reader = await make_tenant(flows_db, scopes=(FLOWS_READ,))
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=flows_server.base_url
    ) as http:
        for path in (f"/flows/{flow_id}", f"/flows/{flow_id}/runs"):
            response = await http.get(path, headers=other.headers)
            assert response.status_code == 404, response.text
        response = await http.post(f"/flows/{flow_id}/publish", headers=other.headers)
        assert response.status_code == 404
        listed = await http.get("/flows", headers=reader.headers)
        assert listed.status_code == 200
        assert listed.json()["flows"] == []
        refused = await http.post(
            "/flows", json={"name": "x", "definition": GOOD}, headers=reader.headers
        )
        assert "flows.write" in error_lines(refused, 401)[0]
