"""An email that fails for good appends EmailFailed with the server's answer; a failed email can
be resent, as a new attempt of the same message (the same Message-ID on the wire), but not when
it did not fail nor when its contact unsubscribed or bounced since."""

import httpx

from contactflow.platform.db import Database
from tests.mailsuite.helpers import API, Json, Mail, error_lines
from tests.mailsuite.smtpd import Mailbox
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, make_tenant

REFUSAL = "550 5.7.1 <{}>: mailbox disabled"


async def _failed(mail: Mail, smtp: Mailbox, to: str) -> Json:
    """An email to `to` that the SMTP server refused (the server keeps refusing `to`)."""
    smtp.refuse(to, REFUSAL.format(to))
    sender = await mail.sender(smtp)
    contact = await mail.contact(to)
    email = await mail.send(
        senderId=sender["id"], contactId=contact["id"], subject="Hi", html="<p>Hi</p>"
    )
    return await mail.wait_email(email["id"], lambda row: row["status"] == "failed")


async def test_a_failed_email_is_resent_with_the_same_message_id(mail: Mail, smtp: Mailbox) -> None:
    failed = await _failed(mail, smtp, "fixme@example.com")
    assert failed["error"] == REFUSAL.format("fixme@example.com")
    [event] = await mail.events("EmailFailed")
    payload = event["payload"]
    assert (payload["emailId"], payload["contactId"]) == (failed["id"], failed["contactId"])
    assert payload["error"] == REFUSAL.format("fixme@example.com")
    assert payload["attempts"] == 1
    assert event["subjectId"] == failed["contactId"]
    [refused] = smtp.refused_to("fixme@example.com")

    smtp.accept("fixme@example.com")
    again = {"Idempotency-Key": "resend-fixme"}
    resent = await mail.call("POST", f"/emails/{failed['id']}/resend", 202, headers=again)
    assert resent["email"]["status"] == "scheduled"
    assert (resent["email"]["error"], resent["email"]["attempts"]) == (None, 0)
    # The same key answers the first answer again; without one, the email is no longer failed.
    replayed = await mail.call("POST", f"/emails/{failed['id']}/resend", 202, headers=again)
    assert replayed == resent
    sent = await mail.wait_sent(failed["id"])
    assert sent["messageId"] == failed["messageId"]
    assert sent["attempts"] == 1
    [received] = smtp.to("fixme@example.com")
    assert received.message["Message-ID"] == refused.message["Message-ID"] == sent["messageId"]
    assert len(await mail.events("EmailSent")) == 1
    assert len(await mail.events("EmailFailed")) == 1

    not_failed = await mail.http.post(f"{API}/emails/{failed['id']}/resend")
    assert error_lines(not_failed, 409) == ["The email is sent; only a failed email can be resent"]
    assert len(smtp.to("fixme@example.com")) == 1


async def test_resend_is_refused_for_bounced_and_unsubscribed_contacts(
    mail: Mail, smtp: Mailbox
) -> None:
    bounced = await _failed(mail, smtp, "gone@example.com")
    leaving = await _failed(mail, smtp, "leaving@example.com")
    smtp.accept("gone@example.com")
    smtp.accept("leaving@example.com")
    report = {"recipient": "gone@example.com", "kind": "hard", "reason": "no such user"}
    await mail.post("/bounces", report, status=200)
    path = f"{API}/contacts/{leaving['contactId']}"
    unsubscribed = await mail.http.put(path, json={"subscriptionStatus": "unsubscribed"})
    assert unsubscribed.status_code == 200, unsubscribed.text

    refused = await mail.http.post(f"{API}/emails/{bounced['id']}/resend")
    [line] = error_lines(refused, 409)
    assert line.startswith("Not resending: the contact is bounced")
    assert line.endswith("(no such user)")
    refused = await mail.http.post(f"{API}/emails/{leaving['id']}/resend")
    [line] = error_lines(refused, 409)
    assert line.startswith("Not resending: the contact is unsubscribed")
    for email in (bounced, leaving):
        assert (await mail.email(email["id"]))["status"] == "failed"
        assert len(smtp.refused_to(email["to"])) == 1
        assert smtp.to(email["to"]) == []


async def test_resend_is_tenant_scoped_and_needs_the_write_scope(
    mail: Mail, smtp: Mailbox, mail_db: Database, mail_server: LiveServer
) -> None:
    failed = await _failed(mail, smtp, "mine@example.com")
    other = await make_tenant(mail_db)
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=mail_server.base_url, headers=other.headers
    ) as http:
        response = await http.post(f"{API}/emails/{failed['id']}/resend")
        assert error_lines(response, 404) == ["Email not found"]
    reader = await make_tenant(mail_db, scopes=("mailsuite.readonly",))
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=mail_server.base_url, headers=reader.headers
    ) as http:
        response = await http.post(f"{API}/emails/{failed['id']}/resend")
        assert "mailsuite.write" in error_lines(response, 401)[0]
    assert (await mail.email(failed["id"]))["status"] == "failed"
