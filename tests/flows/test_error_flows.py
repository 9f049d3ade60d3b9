"""Error flows: a run that fails for good starts its flow's error flow once, with the failed
run's ids, step, error and trigger data; an error flow's own failure starts none."""

from pathlib import Path
from typing import Any

import yaml

from tests.flows.helpers import Hub, Json
from tests.support import invoke_cli


def note_on(contact_id: str, then: str = "stop") -> Json:
    return {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [
            {
                "type": "action",
                "id": "note",
                "action": "contacts.note.create",
                "input": {"contactId": contact_id, "body": "Hello {{ trigger.firstName }}"},
                "onError": {"then": then},
            }
        ],
    }


def on_error(step: Json) -> Json:
    return {"trigger": {"key": "core.error"}, "steps": [step]}


ALERT_TASK = {
    "type": "action",
    "id": "alert",
    "action": "mailsuite.task.create",
    "input": {
        "title": "{{ trigger.flowName }} failed at {{ trigger.stepId }}: {{ trigger.error }}"
    },
}
FAILING_NOTE = {
    "type": "action",
    "id": "alert",
    "action": "contacts.note.create",
    "input": {"contactId": "no-such-contact", "body": "{{ trigger.error }}"},
}


async def _put(hub: Hub, flow_id: str, body: Json, status: int = 200) -> Any:
    return await hub.call("PUT", f"/flows/{flow_id}", status, json=body)


async def test_a_failed_run_starts_the_error_flow_once_with_its_ids_and_error(hub: Hub) -> None:
    alerts = await hub.flow(on_error(ALERT_TASK), name="Alerts")
    watched = await hub.flow(note_on("no-such-contact", then="errorFlow"), name="Notes")
    updated = await _put(hub, watched["id"], {"errorFlowId": alerts["id"]})
    assert updated["flow"]["errorFlowId"] == alerts["id"]

    crm = await hub.crm_contact(firstName="Ada", email="ada@example.com")
    (failed,) = await hub.finished_runs(watched["id"])
    assert failed["state"] == "failed"
    (alert,) = await hub.finished_runs(alerts["id"])
    assert alert["state"] == "succeeded", alert
    given = alert["input"]
    assert given["type"] == "core.error"
    assert (given["flowId"], given["flowName"], given["runId"]) == (
        watched["id"],
        "Notes",
        failed["id"],
    )
    assert given["stepId"] == "note"
    assert given["error"] == failed["error"]
    assert "not found" in given["error"].lower()
    assert given["input"]["id"] == crm["id"]
    failed_events = (await hub.get("/events", types="FlowRunFailed"))["events"]
    assert alert["eventId"] in [event["id"] for event in failed_events]

    (task,) = await hub.mail_tasks()
    assert task["title"] == f"Notes failed at note: {failed['error']}"
    # The error flow's success is no failure: nothing more runs.
    assert len(await hub.runs(alerts["id"])) == 1


async def test_an_error_flow_that_fails_starts_no_error_flow(hub: Hub) -> None:
    last_resort = await hub.flow(on_error(ALERT_TASK), name="Last resort")
    failing = await hub.flow(on_error(FAILING_NOTE), name="Failing alerts")
    await _put(hub, failing["id"], {"errorFlowId": last_resort["id"]})
    watched = await hub.flow(note_on("no-such-contact"), name="Notes")
    await _put(hub, watched["id"], {"errorFlowId": failing["id"]})

    await hub.crm_contact(firstName="Bob", email="bob@example.com")
    (failed,) = await hub.finished_runs(watched["id"])
    assert failed["state"] == "failed"
    (failed_alert,) = await hub.finished_runs(failing["id"])
    assert failed_alert["state"] == "failed"
    # The last resort's run would have been queued in the transaction that failed the alert.
    assert await hub.runs(last_resort["id"]) == []
    assert await hub.mail_tasks() == []


async def test_the_error_flow_is_checked_and_cleared(hub: Hub) -> None:
    alerts = await hub.flow(on_error(ALERT_TASK), name="Alerts")
    other = await hub.flow(note_on("no-such-contact"), name="Other")
    watched = (await hub.post("/flows", {"name": "Draft", "definition": note_on("x")}))["flow"]
    assert watched["errorFlowId"] is None

    cases = [
        (watched["id"], "a flow cannot be its own error flow"),
        ("no-such-flow", "no such flow in this location"),
        (other["id"], "an error flow's trigger is core.error"),
    ]
    for target, reason in cases:
        refused = await _put(hub, watched["id"], {"errorFlowId": target}, status=422)
        assert f"errorFlowId: {reason}" in str(refused)

    await _put(hub, watched["id"], {"errorFlowId": alerts["id"]})
    renamed = await _put(hub, watched["id"], {"name": "Renamed"})
    assert renamed["flow"]["errorFlowId"] == alerts["id"]
    cleared = await _put(hub, watched["id"], {"errorFlowId": None})
    assert cleared["flow"]["errorFlowId"] is None

    await _put(hub, watched["id"], {"errorFlowId": alerts["id"]})
    await hub.call("DELETE", f"/flows/{alerts['id']}", 204)
    assert (await hub.get(f"/flows/{watched['id']}"))["flow"]["errorFlowId"] is None


async def test_flow_files_carry_the_error_flow(
    hub: Hub, flows_database_url: str, tmp_path: Path
) -> None:
    alerts = await hub.flow(on_error(ALERT_TASK), name="Alerts")
    location = hub.tenant.location_id
    source = tmp_path / "notes.yaml"
    source.write_text(yaml.safe_dump({**note_on("x"), "errorFlowId": alerts["id"]}))

    imported = await invoke_cli(
        flows_database_url, "flows", "import", str(source), "--location", location, "--enable"
    )
    assert imported.exit_code == 0, imported.output
    flow_id = imported.output.strip()
    assert (await hub.get(f"/flows/{flow_id}"))["flow"]["errorFlowId"] == alerts["id"]

    exported = await invoke_cli(
        flows_database_url, "flows", "export", flow_id, "--location", location
    )
    assert yaml.safe_load(exported.output)["errorFlowId"] == alerts["id"]

    source.write_text(yaml.safe_dump({**note_on("x"), "errorFlowId": flow_id}))
    refused = await invoke_cli(
        flows_database_url, "flows", "import", str(source), "--location", location
    )
    assert refused.exit_code == 1
    assert "errorFlowId: an error flow's trigger is core.error" in refused.output
