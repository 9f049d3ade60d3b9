"""The manual trigger: POST /flows/{flowId}/run and `contactflow flows run` start a run of
the running version whose trigger data is exactly the given object."""

import json
from pathlib import Path

from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import error_lines
from tests.support import invoke_cli

MANUAL: Json = {
    "trigger": {"key": "core.manual"},
    "conditions": {"conditions": [{"field": "trigger.email", "operator": "exists"}]},
    "steps": [
        {
            "type": "action",
            "id": "task",
            "action": "mailsuite.task.create",
            "input": {"title": "Call {{ trigger.name }} about {{ trigger.plan }}"},
        }
    ],
}


async def test_the_api_runs_a_manual_flow_on_the_given_data(hub: Hub) -> None:
    flow = await hub.flow(MANUAL)
    data = {"name": "Ada", "email": "ada@example.com", "plan": "pro", "seats": [1, 2]}
    started = await hub.post(f"/flows/{flow['id']}/run", data)
    assert started["run"]["input"] == data
    assert started["run"]["eventId"] is None
    (run,) = await hub.finished_runs(flow["id"])
    assert run["state"] == "succeeded", run
    assert [task["title"] for task in await hub.mail_tasks()] == ["Call Ada about pro"]

    # Data the flow's conditions refuse runs nothing, and says why.
    refused = await hub.http.post(f"/flows/{flow['id']}/run", json={"name": "Bob"})
    assert error_lines(refused, 422) == ["trigger: the flow's conditions do not hold for this data"]
    not_an_object = await hub.http.post(f"/flows/{flow['id']}/run", json=["Ada"])
    assert not_an_object.status_code == 422
    assert "body" in not_an_object.text
    assert len(await hub.runs(flow["id"])) == 1


async def test_only_a_published_manual_flow_runs_by_hand(hub: Hub) -> None:
    created = await hub.post("/flows", {"name": "Draft", "definition": MANUAL})
    draft = await hub.http.post(f"/flows/{created['flow']['id']}/run", json={"email": "a@b.co"})
    assert draft.status_code == 409
    assert "Publish the flow" in draft.text

    other = await hub.flow({**MANUAL, "trigger": {"key": "contacts.contact.created"}})
    refused = await hub.http.post(f"/flows/{other['id']}/run", json={"email": "a@b.co"})
    assert refused.status_code == 409
    assert "contacts.contact.created, not core.manual" in refused.text

    # A manual flow has no events to backfill.
    manual = await hub.flow(MANUAL)
    span = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
    backfilled = await hub.http.post(f"/flows/{manual['id']}/backfill", json=span)
    assert backfilled.status_code == 409
    assert "fires without events" in backfilled.text

    missing = await hub.http.post("/flows/no-such-flow/run", json={})
    assert missing.status_code == 404


async def test_the_cli_runs_a_manual_flow_on_json_or_a_file(
    hub: Hub, flows_database_url: str, tmp_path: Path
) -> None:
    flow = await hub.flow(MANUAL)
    location = hub.tenant.location_id
    given = await invoke_cli(
        flows_database_url,
        "flows",
        "run",
        flow["id"],
        "--location",
        location,
        "--data",
        json.dumps({"name": "Cy", "email": "cy@example.com", "plan": "team"}),
    )
    assert given.exit_code == 0, given.output
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"name": "Di", "email": "di@example.com", "plan": "free"}))
    from_file = await invoke_cli(
        flows_database_url,
        "flows",
        "run",
        flow["id"],
        "--location",
        location,
        "--data",
        f"@{source}",
    )
    assert from_file.exit_code == 0, from_file.output

    runs = await hub.finished_runs(flow["id"], count=2)
    by_id = {run["id"]: run["input"] for run in runs}
    assert by_id == {
        given.output.strip(): {"name": "Cy", "email": "cy@example.com", "plan": "team"},
        from_file.output.strip(): {"name": "Di", "email": "di@example.com", "plan": "free"},
    }
    titles = sorted(task["title"] for task in await hub.mail_tasks())
    assert titles == ["Call Cy about team", "Call Di about free"]

    bad = await invoke_cli(
        flows_database_url, "flows", "run", flow["id"], "--location", location, "--data", "[1]"
    )
    assert bad.exit_code != 0
    assert "a JSON object" in bad.output
    assert len(await hub.runs(flow["id"])) == 2
