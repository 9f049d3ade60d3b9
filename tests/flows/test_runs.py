"""Flows end to end on the live server: a contact created through the Contacts API runs the
flow, whose actions write into Mailsuite; runs and steps are served by the API."""

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.flows.helpers import Hub, welcome_flow
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import Mailbox


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_new_contact_gets_a_welcome_email_a_task_and_a_timeline_note(
    hub: Hub, smtp: Mailbox
) -> None:
    sender = await hub.mail_sender(smtp.host, smtp.port)
    flow = await hub.flow(welcome_flow(sender["id"]))
    crm = await hub.crm_contact(name="Ada King Lovelace", email="ada@example.com")

    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "succeeded", detail
    assert detail["run"]["input"]["id"] == crm["id"]
    assert detail["run"]["eventId"] == detail["run"]["input"]["webhookId"]
    assert [step["stepId"] for step in detail["steps"]] == ["contact", "welcome", "task", "note"]
    assert all(step["state"] == "succeeded" and step["attempts"] == 1 for step in detail["steps"])
    contact_out, _, task_out, note_out = (step["output"] for step in detail["steps"])
    assert contact_out["email"] == "ada@example.com"
    assert contact_out["firstName"] == "Ada"
    assert contact_out["lastName"] == "King Lovelace"

    (task,) = await hub.mail_tasks(contactId=contact_out["id"])
    assert task["id"] == task_out["id"]
    assert task["title"] == "Follow up with Ada King Lovelace"
    due = _at(task["dueAt"]) - _at(crm["dateAdded"])
    assert due == timedelta(days=2)
    assert abs(_at(task["dueAt"]) - (datetime.now(UTC) + timedelta(days=2))) < timedelta(minutes=1)

    entries = await hub.timeline(contact_out["id"])
    notes = [entry for entry in entries if entry["kind"] == "note"]
    assert [note["id"] for note in notes] == [note_out["id"]]
    assert notes[0]["body"] == f"Welcomed by flow; follow-up task {task['id']}"
    assert notes[0]["sourceSystem"] == "flows"

    finished = (await hub.get("/events", types="FlowRunSucceeded"))["events"]
    assert [event["payload"]["runId"] for event in finished] == [run["id"]]
    assert finished[0]["payload"]["flowId"] == flow["id"]
    # About the run: an endpoint keeps order per subject, and one flow's runs need none.
    assert finished[0]["subjectId"] == run["id"]

    received = await poll(lambda: _now(list(smtp.received)), lambda got: len(got) == 1)
    assert received[0].rcpt_tos == ["ada@example.com"]
    assert received[0].message["Subject"] == "Welcome, Ada"


async def _now(value: Any) -> Any:
    return value
