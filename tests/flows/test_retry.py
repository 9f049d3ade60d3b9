"""Retrying a failed run resumes it at the step that failed: the steps that succeeded keep
their outputs and are not performed again; replay, by contrast, starts a new run."""

from tests.flows.helpers import Hub, Json
from tests.mailsuite.smtpd import Mailbox
from tests.support import invoke_cli


def plan_flow(sender_id: str) -> Json:
    """A task and a timeline note, then an email merging the custom field `plan`, which the
    Mailsuite workspace refuses while none of its contacts has such a field."""
    return {
        "trigger": {"key": "contacts.contact.created"},
        "steps": [
            {
                "type": "action",
                "id": "task",
                "action": "mailsuite.task.create",
                "input": {"title": "Call {{ trigger.firstName }}"},
            },
            {
                "type": "action",
                "id": "contact",
                "action": "mailsuite.contact.upsert",
                "input": {"email": "{{ trigger.email }}"},
            },
            {
                "type": "action",
                "id": "note",
                "action": "mailsuite.timeline.add_note",
                "input": {"contactId": "{{ steps.contact.id }}", "body": "Plan email next"},
            },
            {
                "type": "action",
                "id": "email",
                "action": "mailsuite.email.send",
                "input": {
                    "senderId": sender_id,
                    "contactId": "{{ steps.contact.id }}",
                    "subject": "Your plan",
                    "html": "<p>Your plan: {{ '{{ plan }}' }}</p>",
                },
            },
        ],
    }


async def test_a_retried_run_resumes_at_the_failed_step(
    hub: Hub, smtp: Mailbox, flows_database_url: str
) -> None:
    sender = await hub.mail_sender(smtp.host, smtp.port)
    flow = await hub.flow(plan_flow(sender["id"]))
    await hub.crm_contact(firstName="Ada", email="ada@example.com")
    (failed,) = await hub.finished_runs(flow["id"])
    assert failed["state"] == "failed"
    assert "plan" in failed["error"]
    before = {step["stepId"]: step for step in (await hub.run(failed["id"]))["steps"]}
    assert before["email"]["state"] == "failed"
    queued = await hub.post(f"/flows/runs/{failed['id']}/retry", status=200)
    assert queued["run"]["state"] == "queued"
    assert [step["stepId"] for step in queued["steps"]] == ["task", "contact", "note"]

    # Retried before the cause is fixed: it fails again at the same step, nothing redone.
    (again,) = await hub.finished_runs(flow["id"])
    assert again["state"] == "failed"
    (email_step,) = [s for s in (await hub.run(again["id"]))["steps"] if s["stepId"] == "email"]
    assert email_step["attempts"] == 1
    assert len(await hub.mail_tasks()) == 1

    fixed = {"email": "bo@example.com", "customFields": {"plan": "gold"}}
    await hub.post("/mailsuite/v1/contacts", fixed)
    retried = await invoke_cli(
        flows_database_url, "flows", "retry", failed["id"], "--location", hub.tenant.location_id
    )
    assert retried.output.strip() == failed["id"]
    (done,) = await hub.finished_runs(flow["id"])
    assert done["id"] == failed["id"]
    assert done["state"] == "succeeded", done
    assert done["error"] is None

    after = {step["stepId"]: step for step in (await hub.run(done["id"]))["steps"]}
    for step_id in ("task", "contact", "note"):
        assert after[step_id]["output"] == before[step_id]["output"]
        assert after[step_id]["attempts"] == 1
        assert after[step_id]["finishedAt"] == before[step_id]["finishedAt"]
    assert after["email"]["state"] == "succeeded"
    assert after["email"]["attempts"] == 1
    assert len(await hub.mail_tasks()) == 1
    contact_id = before["contact"]["output"]["id"]
    notes = [entry for entry in await hub.timeline(contact_id) if entry["kind"] == "note"]
    assert [note["id"] for note in notes] == [before["note"]["output"]["id"]]
    (email,) = await hub.mail_emails(contactId=contact_id)
    assert email["id"] == after["email"]["output"]["id"]


async def test_only_a_failed_run_is_retried(hub: Hub) -> None:
    flow = await hub.flow(
        {
            "trigger": {"key": "contacts.contact.created"},
            "steps": [
                {
                    "type": "action",
                    "id": "task",
                    "action": "mailsuite.task.create",
                    "input": {"title": "Call {{ trigger.firstName }}"},
                }
            ],
        }
    )
    await hub.crm_contact(firstName="Cy", email="cy@example.com")
    (run,) = await hub.finished_runs(flow["id"])
    assert run["state"] == "succeeded"
    refused = await hub.post(f"/flows/runs/{run['id']}/retry", status=409)
    assert "only a failed run can be retried" in str(refused)
    await hub.post("/flows/runs/no-such-run/retry", status=404)
    assert len(await hub.mail_tasks()) == 1
