"""The product's use cases end to end over real sockets, each from a shipped template
installed in one call: a contact created through the official HighLevel SDK is welcomed
(email at a loopback SMTP server, follow-up task in Mailsuite)."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

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
