"""The product's use cases end to end over real sockets, each from a shipped template
installed in one call: a contact created through the official HighLevel SDK is welcomed
(email at a loopback SMTP server, follow-up task in Mailsuite); a task's status goes from
the Contacts API to Mailsuite and back, once each way, without echoes."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from highlevel import HighLevel

from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import Mailbox, Received
from tests.support import LiveServer


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
async def sdk(
    flows_server: LiveServer, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[HighLevel]:
    """The official SDK with the tenant's key, pointed at the live server."""
    monkeypatch.setattr(HighLevel, "BASE_URL", flows_server.base_url)
    client = HighLevel(private_integration_token=hub.tenant.key, log_level="none")
    yield client
    await client.close()


async def _mail_to(smtp: Mailbox, address: str) -> list[Received]:
    return smtp.to(address)


async def test_a_contact_created_with_the_sdk_gets_the_welcome_email_and_a_task(
    hub: Hub, sdk: HighLevel, smtp: Mailbox
) -> None:
    sender = await hub.mail_sender(smtp.host, smtp.port)
    installed = await hub.post(
        "/flows/templates/welcome/install", {"parameters": {"senderId": sender["id"]}}
    )
    (flow,) = installed["flows"]

    body: Json = {
        "locationId": hub.tenant.location_id,
        "firstName": "Grace",
        "lastName": "Hopper",
        "email": "grace@example.com",
    }
    contact: Json = (await sdk.contacts.create_contact(body))["contact"]

    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "succeeded", detail
    assert detail["run"]["input"]["id"] == contact["id"]
    mail_contact = detail["steps"][0]["output"]
    assert (mail_contact["email"], mail_contact["crmContactId"]) == (
        "grace@example.com",
        contact["id"],
    )

    (received,) = await poll(lambda: _mail_to(smtp, "grace@example.com"), bool)
    assert received.message["Subject"] == "Welcome, Grace"
    assert received.mail_from == "hello@acme.example.org"

    (task,) = await hub.mail_tasks(contactId=mail_contact["id"])
    assert (task["title"], task["status"]) == ("Follow up with Grace Hopper", "open")
    assert _at(task["dueAt"]) - _at(contact["dateAdded"]) == timedelta(days=2)


T = TypeVar("T")


async def _settled(fetch: Callable[[], Awaitable[T]], seconds: float = 2.0) -> T:
    """The value once it has stayed the same for `seconds` (nothing is still happening)."""
    last = await fetch()
    while True:
        await asyncio.sleep(seconds)
        now = await fetch()
        if now == last:
            return now
        last = now


async def _welcomed(hub: Hub, smtp: Mailbox, flow_id: str, **fields: Any) -> tuple[Json, str]:
    """A Contacts API contact welcomed by the `welcome` flow, and its Mailsuite contact's id."""
    crm = await hub.crm_contact(**fields)
    (run,) = await hub.finished_runs(flow_id)
    mail_contact: Json = (await hub.run(run["id"]))["steps"][0]["output"]
    assert mail_contact["crmContactId"] == crm["id"]
    return crm, mail_contact["id"]


async def test_task_status_goes_both_ways_once_and_never_echoes(hub: Hub, smtp: Mailbox) -> None:
    sender = await hub.mail_sender(smtp.host, smtp.port)
    (welcome,) = (
        await hub.post(
            "/flows/templates/welcome/install", {"parameters": {"senderId": sender["id"]}}
        )
    )["flows"]
    synced = (await hub.post("/flows/templates/task-sync/install"))["flows"]
    flow_ids = {flow["name"].removeprefix("Task sync: "): flow["id"] for flow in synced}
    assert set(flow_ids) == {
        "added in the Contacts API",
        "changed in the Contacts API",
        "completed in the Contacts API",
        "changed in Mailsuite",
    }
    crm, mail_contact_id = await _welcomed(
        hub, smtp, welcome["id"], firstName="Tom", email="tom@example.com"
    )
    tasks_path = f"/contacts/{crm['id']}/tasks"
    body = {"title": "Send quote", "dueDate": "2026-12-10T15:00:00.000Z", "completed": False}
    crm_task = (await hub.post(tasks_path, body))["task"]

    async def copies() -> list[Json]:
        found = await hub.mail_tasks(contactId=mail_contact_id)
        return [task for task in found if task["sourceId"] is not None]

    async def crm_task_now() -> Json:
        task: Json = (await hub.get(f"{tasks_path}/{crm_task['id']}"))["task"]
        return task

    (copy,) = await poll(copies, bool)
    assert (copy["title"], copy["dueAt"], copy["status"]) == (
        "Send quote",
        "2026-12-10T15:00:00.000Z",
        "open",
    )
    assert (copy["sourceSystem"], copy["sourceId"]) == ("contacts", crm_task["id"])

    # Completed in the Contacts API: the copy is done.
    await hub.call("PUT", f"{tasks_path}/{crm_task['id']}/completed", 200, json={"completed": True})
    await poll(copies, lambda found: found[0]["status"] == "done")
    # Reopened, then renamed and completed in Mailsuite: the task follows each time.
    mail_task = f"/mailsuite/v1/tasks/{copy['id']}"
    await hub.call("PUT", mail_task, 200, json={"status": "open"})
    await poll(crm_task_now, lambda task: task["completed"] is False)
    await hub.call("PUT", mail_task, 200, json={"status": "done", "title": "Quote sent"})
    await poll(crm_task_now, lambda task: task["completed"] is True)

    async def activity() -> tuple[dict[str, int], int]:
        runs = {name: len(await hub.runs(flow_id)) for name, flow_id in flow_ids.items()}
        return runs, len((await hub.get("/events", limit=1000))["events"])

    runs, _ = await _settled(activity)
    # One run per change a person made; none for the changes the flows made.
    assert runs == {
        "added in the Contacts API": 1,
        "changed in the Contacts API": 0,
        "completed in the Contacts API": 1,
        "changed in Mailsuite": 2,
    }
    for flow_id in flow_ids.values():
        assert all(run["state"] == "succeeded" for run in await hub.runs(flow_id))
    final = await crm_task_now()
    assert (final["title"], final["completed"]) == ("Quote sent", True)
    (copy,) = await copies()
    assert (copy["title"], copy["status"]) == ("Quote sent", "done")
    completions = (await hub.get("/events", types="TaskComplete"))["events"]
    assert len(completions) == 2
    mail_completions = (await hub.get("/events", types="MailsuiteTaskComplete"))["events"]
    assert len(mail_completions) == 2
