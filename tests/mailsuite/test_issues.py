"""A sender whose SMTP server refuses an email opens its issue, naming the email; the next
email the server accepts from that sender resolves it."""

import httpx

from tests.mailsuite.helpers import Json, Mail, json_of
from tests.mailsuite.smtpd import Mailbox


async def issues_of(http: httpx.AsyncClient) -> list[Json]:
    response = await http.get("/issues")
    assert response.status_code == 200, response.text
    rows: list[Json] = json_of(response)["issues"]
    return rows


async def test_a_refused_email_opens_the_senders_issue_and_a_sent_one_resolves_it(
    mail: Mail, smtp: Mailbox
) -> None:
    sender = await mail.sender(smtp)
    contact = await mail.contact("ann@example.com")
    message = {"senderId": sender["id"], "contactId": contact["id"], "subject": "Hi"}
    smtp.refuse_next("554 5.7.1 <news@acme.example.org>: Sender address rejected")
    refused = await mail.send(**message, html="<p>Hi</p>")
    failed = await mail.wait_email(refused["id"], lambda row: row["status"] == "failed")

    [issue] = await issues_of(mail.http)
    assert issue["kind"] == "mailsuite_sender"
    assert issue["subjectId"] == sender["id"]
    assert issue["subject"] == "Newsletter <news@acme.example.org>"
    assert (issue["status"], issue["count"]) == ("open", 1)
    assert issue["lastError"] == failed["error"]
    detail = json_of(await mail.http.get(f"/issues/{issue['id']}"))
    assert [(row["record"], row["recordId"]) for row in detail["recentFailures"]] == [
        ("email", refused["id"])
    ]

    sent = await mail.send(**message, html="<p>Hi again</p>")
    await mail.wait_sent(sent["id"])
    [resolved] = await issues_of(mail.http)
    assert resolved["status"] == "resolved"
    logged = await mail.events("IssueOpened", "IssueResolved")
    assert [event["type"] for event in logged] == ["IssueOpened", "IssueResolved"]
    assert logged[1]["payload"]["resolvedBy"] == "recovery"
