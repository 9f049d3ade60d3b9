"""Test mode: a draft run on sample data, a given payload or a past event, with real mappings
and conditions and simulated actions (nothing is written)."""

from contactflow.flows.catalog import find
from tests.flows.helpers import Hub, Json

DRAFT: Json = {
    "trigger": {"key": "contacts.contact.created"},
    "steps": [
        {
            "type": "action",
            "id": "task",
            "action": "mailsuite.task.create",
            "input": {
                "title": "Call {{ trigger.firstName }}",
                "dueAt": "{{ trigger.dateAdded | add(days=2) }}",
            },
        },
        {"type": "delay", "id": "wait", "for": {"days": 3}},
        {
            "type": "action",
            "id": "note",
            "action": "contacts.note.create",
            "input": {"contactId": "{{ trigger.id }}", "body": "task {{ steps.task.id }}"},
        },
    ],
}


async def _tested(hub: Hub, flow_id: str, body: Json | None = None) -> Json:
    started = await hub.post(f"/flows/{flow_id}/test", body)
    assert started["run"]["test"] is True
    runs = await hub.finished_runs(flow_id)
    (run,) = [run for run in runs if run["id"] == started["run"]["id"]]
    return await hub.run(run["id"])


async def test_a_test_run_maps_real_data_and_simulates_the_actions(hub: Hub) -> None:
    flow_id = (await hub.post("/flows", {"name": "Draft", "definition": DRAFT}))["flow"]["id"]
    sample = await _tested(hub, flow_id)
    assert sample["run"]["state"] == "succeeded"
    task, wait, note = sample["steps"]
    assert task["input"] == {"title": "Call Ada", "dueAt": "2026-12-03T09:00:00.000Z"}
    mailsuite_task = find("mailsuite.task.create")
    assert mailsuite_task is not None
    assert task["output"] == mailsuite_task.sample
    assert wait["state"] == "succeeded"
    assert note["input"] == {"contactId": "ct_1", "body": f"task {mailsuite_task.sample['id']}"}

    crm = await hub.crm_contact(firstName="Real", email="real@example.com")
    created = (await hub.get("/events", types="ContactCreate"))["events"]
    (event,) = [event for event in created if event["subjectId"] == crm["id"]]
    past = await _tested(hub, flow_id, {"eventId": event["id"]})
    assert past["run"]["input"]["id"] == crm["id"]
    assert past["steps"][0]["input"]["title"] == "Call Real"

    given = await _tested(hub, flow_id, {"trigger": {"id": "x", "firstName": "Given"}})
    assert given["run"]["state"] == "failed"
    assert given["run"]["error"] == (
        "step task: steps.task.input.dueAt: 'dict object' has no attribute 'dateAdded'"
    )

    # Nothing was written, and no alert event went out.
    assert await hub.mail_tasks() == []
    assert (await hub.get(f"/contacts/{crm['id']}/notes"))["notes"] == []
    assert (await hub.get("/events", types="FlowRunSucceeded,FlowRunFailed"))["events"] == []


async def test_testing_needs_a_flow_that_can_run_and_a_known_event(hub: Hub) -> None:
    broken = {**DRAFT, "trigger": {"key": "contacts.nothing"}}
    flow_id = (await hub.post("/flows", {"name": "Broken", "definition": broken}))["flow"]["id"]
    response = await hub.http.post(f"/flows/{flow_id}/test")
    assert response.status_code == 422
    good = (await hub.post("/flows", {"name": "Good", "definition": DRAFT}))["flow"]["id"]
    response = await hub.http.post(f"/flows/{good}/test", json={"eventId": "nope"})
    assert response.status_code == 422
    assert response.json()["message"] == ["eventId: no such event in this location"]
