"""A run that queued an email shows what became of it: the send step's output is the email as
it is now (its delivery status and error), and the run lists the emails it queued that failed
or bounced, with the reason. An email that fails for good appends EmailFailed, which a flow on
`mailsuite.email.failed` reacts to; once resent and delivered, the run shows it sent."""

import json

from tests.flows.helpers import Hub, Json, welcome_flow
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import Mailbox
from tests.support import invoke_cli

MAIL = "/mailsuite/v1"
REFUSAL = "550 5.1.1 <ada@example.com>: Recipient address rejected"


def _step(run: Json, step_id: str) -> Json:
    found: list[Json] = [step for step in run["steps"] if step["stepId"] == step_id]
    assert len(found) == 1, run
    return found[0]


async def test_a_run_shows_its_email_failing_and_then_resent(
    hub: Hub, smtp: Mailbox, flows_database_url: str
) -> None:
    smtp.refuse("ada@example.com", REFUSAL)
    sender = await hub.mail_sender(smtp.host, smtp.port)
    watcher = await hub.flow(
        {
            "trigger": {"key": "mailsuite.email.failed"},
            "steps": [{"type": "filter", "id": "seen", "conditions": {"conditions": []}}],
        },
        name="Alert on failed email",
    )
    flow = await hub.flow(welcome_flow(sender["id"]), name="Welcome")
    await hub.crm_contact(name="Ada Lovelace", email="ada@example.com")
    (finished,) = await hub.finished_runs(flow["id"])
    assert finished["state"] == "succeeded"
    run_id = finished["id"]

    detail = await poll(
        lambda: hub.run(run_id),
        lambda run: _step(run, "welcome")["output"]["status"] == "failed",
        within=20,
    )
    output = _step(detail, "welcome")["output"]
    assert output["error"] == REFUSAL
    email_id = output["id"]
    failure = {
        "stepId": "welcome",
        "emailId": email_id,
        "to": "ada@example.com",
        "status": "failed",
        "reason": REFUSAL,
    }
    [recorded] = detail["run"]["failedEmails"]
    assert {name: recorded[name] for name in failure} == failure
    assert recorded["at"] is not None
    [listed] = await hub.runs(flow["id"])
    assert listed["failedEmails"] == [recorded]
    assert listed["state"] == "succeeded"
    location = hub.tenant.location_id
    command = ("flows", "runs", flow["id"], "--location", location)
    listed_json = await invoke_cli(flows_database_url, *command, "--json")
    assert json.loads(listed_json.output)[0]["failedEmails"] == [recorded]
    table = await invoke_cli(flows_database_url, *command)
    assert f"email {email_id} failed: {REFUSAL}" in table.output

    (alert,) = await hub.finished_runs(watcher["id"])
    assert alert["input"]["type"] == "EmailFailed"
    assert (alert["input"]["emailId"], alert["input"]["error"]) == (email_id, REFUSAL)
    events = await hub.get("/events", types="EmailFailed")
    assert [event["payload"]["emailId"] for event in events["events"]] == [email_id]

    smtp.accept("ada@example.com")
    await hub.post(f"{MAIL}/emails/{email_id}/resend", status=202)
    detail = await poll(
        lambda: hub.run(run_id),
        lambda run: _step(run, "welcome")["output"]["status"] == "sent",
        within=20,
    )
    assert detail["run"]["failedEmails"] == []
    assert _step(detail, "welcome")["output"]["error"] is None
    [refused] = smtp.refused_to("ada@example.com")
    [received] = smtp.to("ada@example.com")
    message_id = _step(detail, "welcome")["output"]["messageId"]
    assert refused.message["Message-ID"] == received.message["Message-ID"] == message_id
