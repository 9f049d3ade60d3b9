"""Notify inside a real flow on the live server: the team's email arrives at SMTP."""

import asyncio
from typing import Any

from tests.flows.helpers import Hub
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import Mailbox

TEAM = ["team@acme.example.org", "ops@acme.example.org"]


async def _received(smtp: Mailbox) -> list[Any]:
    await asyncio.sleep(0)
    return list(smtp.received)


async def test_the_team_gets_the_notification_by_email(hub: Hub, smtp: Mailbox) -> None:
    sender = await hub.mail_sender(smtp.host, smtp.port)
    step = {
        "type": "action",
        "id": "tell",
        "action": "core.notify",
        "input": {
            "senderId": sender["id"],
            "to": TEAM,
            "subject": "New signup: {{ trigger.email }}",
            "text": "{{ trigger.name }} <{{ trigger.email }}> signed up.\n\nSay hello!",
        },
    }
    flow = await hub.flow({"trigger": {"key": "contacts.contact.created"}, "steps": [step]})
    await hub.crm_contact(name="Ada Lovelace", email="ada@example.com")

    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "succeeded", detail
    output = detail["steps"][0]["output"]
    assert output["count"] == 2
    assert [email["to"] for email in output["emails"]] == TEAM

    received = await poll(lambda: _received(smtp), lambda got: len(got) == 2, within=15)
    assert sorted(rcpt for message in received for rcpt in message.rcpt_tos) == sorted(TEAM)
    message = received[0].message
    assert message["Subject"] == "New signup: ada@example.com"
    plain = message.get_body(("plain",)).get_content()
    assert "Ada Lovelace <ada@example.com> signed up." in plain
    html = message.get_body(("html",)).get_content()
    assert "<p>Ada Lovelace &lt;ada@example.com&gt; signed up.</p><p>Say hello!</p>" in html
