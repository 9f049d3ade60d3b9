"""The sandbox outbox: a sandbox location's sender delivers into contactflow's own outbox,
with no SMTP server, and the message is kept whole (headers, parts, the raw bytes an SMTP
server would get) with the same events, timeline and working tracking links as a real send.
A sandbox sender may still be pointed at an SMTP server; a live location never uses the
outbox."""

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import func, select

from contactflow.mailsuite.models import Email, SandboxMessage, Sender
from contactflow.mailsuite.outgoing import Outgoing, wire_message
from contactflow.mailsuite.sandbox import SandboxOutbox
from contactflow.mailsuite.sending import Dispatcher
from contactflow.mailsuite.smtp import SmtpConnection, SmtpServer
from contactflow.mailsuite.tracking import Links, tracking_key
from contactflow.mailsuite.worker import send_settings
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.mailsuite.helpers import (
    API,
    MACHINE_SECONDS,
    PUBLIC_BASE,
    Json,
    Mail,
    error_lines,
    links_in,
    parts,
    poll,
)
from tests.mailsuite.smtpd import Mailbox
from tests.support import LiveServer, api_client, make_tenant

HTML = (
    '<p>Hi {{ first_name | default("there") }}, read <a href="https://blog.example.com/post">'
    'the post</a>.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def outbox(mail: Mail, **params: object) -> Json:
    return await mail.get("/sandbox/messages", **params)


async def caught(mail: Mail, count: int = 1) -> list[Json]:
    """The outbox once it holds `count` messages (the workers deliver in the background)."""
    page = await poll(lambda: outbox(mail, limit=100), lambda page: len(page["messages"]) >= count)
    messages: list[Json] = page["messages"]
    assert len(messages) == count, messages
    return messages


async def sandbox_send(mail: Mail, to: str, **fields: object) -> tuple[Json, Json]:
    """An email through a sandbox sender (no SMTP settings at all), sent; and its contact."""
    sender = (await mail.post("/senders", {"name": "Team", "fromEmail": "team@acme.example.org"}))[
        "sender"
    ]
    assert sender["delivery"] == "sandbox"
    assert (sender["smtpHost"], sender["smtpPort"], sender["smtpSecurity"]) == (None, None, None)
    contact = await mail.contact(to, firstName="Tess")
    queued = await mail.send(
        senderId=sender["id"],
        contactId=contact["id"],
        subject="Hello {{first_name|there}}",
        html=HTML,
        **fields,
    )
    return await mail.wait_sent(queued["id"]), contact


async def test_a_sandbox_senders_email_is_kept_whole_in_the_outbox(sandbox_mail: Mail) -> None:
    mail = sandbox_mail
    assert mail.tenant.key.startswith("cf_test_")
    sent, contact = await sandbox_send(mail, "tess@example.com")
    [listed] = await caught(mail)
    assert sent["lastResponse"] == f"250 kept in the sandbox outbox as {listed['id']}"
    assert listed["emailId"] == sent["id"]
    assert listed["messageId"] == sent["messageId"]
    assert (listed["mailFrom"], listed["rcptTo"]) == ("team@acme.example.org", "tess@example.com")
    assert listed["subject"] == "Hello Tess"

    detail = await mail.get(f"/sandbox/messages/{listed['id']}")
    assert detail["message"] == listed
    headers = {header["name"]: header["value"] for header in detail["headers"]}
    assert headers["Message-ID"] == sent["messageId"]
    assert headers["To"] == "Tess <tess@example.com>"
    assert headers["Subject"] == "Hello Tess"
    assert headers["X-Contactflow-Email-Id"] == sent["id"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith(f"<{PUBLIC_BASE}/mailsuite/v1/unsubscribe/")
    assert "Hi Tess, read the post" in detail["text"]
    assert links_in(detail["html"], "track/open")
    assert links_in(detail["html"], "track/click")

    raw = await mail.http.get(f"{API}/sandbox/messages/{listed['id']}/raw")
    assert raw.status_code == 200, raw.text
    assert raw.headers["content-type"] == "message/rfc822"
    assert len(raw.content) == listed["size"]
    message = parsed(raw.content)
    assert message["Message-ID"] == sent["messageId"]
    text, html = parts(message)
    assert (text, html) == (detail["text"], detail["html"])

    # The same event and timeline entry as an email an SMTP server accepted.
    [event] = await mail.events("EmailSent")
    assert event["payload"]["emailId"] == sent["id"]
    assert event["payload"]["smtpResponse"] == sent["lastResponse"]
    assert event["subjectId"] == contact["id"]
    timeline = await mail.timeline(contact["id"])
    assert [entry["body"] for entry in timeline if entry["kind"] == "email_sent"] == [
        "Sent “Hello Tess” to tess@example.com"
    ]


async def test_the_tracking_links_of_a_caught_message_record_opens_and_clicks(
    sandbox_mail: Mail,
) -> None:
    mail = sandbox_mail
    sent, contact = await sandbox_send(mail, "tracked@example.com")
    [listed] = await caught(mail)
    html = (await mail.get(f"/sandbox/messages/{listed['id']}"))["html"]
    [pixel] = links_in(html, "track/open")
    [click] = links_in(html, "track/click")
    human_from = datetime.fromisoformat(sent["sentAt"]) + timedelta(seconds=MACHINE_SECONDS)
    await poll(_now, lambda moment: moment > human_from)

    assert (await mail.public(pixel)).status_code == 200
    clicked = await mail.public(click)
    assert clicked.status_code in (302, 303, 307), clicked.text
    assert clicked.headers["location"] == "https://blog.example.com/post"

    email_row = await mail.wait_email(sent["id"], lambda row: row["clicks"] == 1)
    assert email_row["opens"] == 1
    assert email_row["firstOpenedAt"] is not None
    assert email_row["firstClickedAt"] is not None
    kinds = {entry["kind"] for entry in await mail.timeline(contact["id"])}
    assert {"email_opened", "link_clicked"} <= kinds


async def _now() -> datetime:
    return datetime.now(UTC)


async def test_the_outbox_pages_newest_first_and_is_the_locations_own(
    sandbox_mail: Mail, mail_server: LiveServer, mail_db: Database
) -> None:
    mail = sandbox_mail
    sender = (await mail.post("/senders", {"name": "T", "fromEmail": "t@acme.example.org"}))[
        "sender"
    ]
    for number in range(3):
        contact = await mail.contact(f"reader{number}@example.com")
        await mail.send(
            senderId=sender["id"], contactId=contact["id"], subject=f"n{number}", html="<p>x</p>"
        )
    everything = await caught(mail, 3)
    received = [(row["receivedAt"], row["id"]) for row in everything]
    assert received == sorted(received, reverse=True)

    first = await outbox(mail, limit=2)
    assert [row["id"] for row in first["messages"]] == [row["id"] for row in everything[:2]]
    assert first["nextCursor"]
    rest = await outbox(mail, limit=2, cursor=first["nextCursor"])
    assert [row["id"] for row in rest["messages"]] == [everything[2]["id"]]
    assert rest["nextCursor"] is None
    assert error_lines(
        await mail.http.get(f"{API}/sandbox/messages", params={"cursor": "x"}), 422
    ) == ["cursor: use the nextCursor of the previous page"]

    # Another sandbox location sees none of them; its reads of them are 404s.
    other = await make_tenant(mail_db, sandbox=True)
    async with api_client(mail_server.base_url, other.headers) as http:
        listed = await http.get(f"{API}/sandbox/messages")
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"messages": [], "nextCursor": None}
        for path in ("", "/raw"):
            found = await http.get(f"{API}/sandbox/messages/{everything[0]['id']}{path}")
            assert found.status_code == 404, found.text
            assert found.json()["message"] == "Sandbox message not found"
    # Reading needs only mailsuite.readonly.
    reader = await make_tenant(mail_db, sandbox=True, scopes=("mailsuite.readonly",))
    async with api_client(mail_server.base_url, reader.headers) as http:
        assert (await http.get(f"{API}/sandbox/messages")).status_code == 200
    nobody = await make_tenant(mail_db, sandbox=True, scopes=("contacts.readonly",))
    async with api_client(mail_server.base_url, nobody.headers) as http:
        assert (await http.get(f"{API}/sandbox/messages")).status_code in (401, 403)


async def test_a_sandbox_sender_told_smtp_sends_over_smtp(
    sandbox_mail: Mail, smtp: Mailbox
) -> None:
    mail = sandbox_mail
    sender = await mail.sender(smtp, delivery="smtp")
    assert sender["delivery"] == "smtp"
    contact = await mail.contact("real@example.com")
    queued = await mail.send(senderId=sender["id"], contactId=contact["id"], subject="s", html="h")
    sent = await mail.wait_sent(queued["id"])
    assert sent["lastResponse"].startswith("250 2.0.0 Ok")
    [received] = smtp.to("real@example.com")
    assert received.message["Message-ID"] == sent["messageId"]
    assert (await outbox(mail))["messages"] == []

    # Back to the outbox, and to SMTP again only with the server's settings.
    sandboxed = await mail.call(
        "PUT", f"/senders/{sender['id']}", 200, json={"delivery": "sandbox"}
    )
    assert sandboxed["sender"]["delivery"] == "sandbox"
    bare = (await mail.post("/senders", {"name": "Bare", "fromEmail": "b@acme.example.org"}))[
        "sender"
    ]
    refused = await mail.http.put(f"{API}/senders/{bare['id']}", json={"delivery": "smtp"})
    assert error_lines(refused, 422) == ["smtpHost: required when delivery is smtp"]
    verified = await mail.post(f"/senders/{bare['id']}/verify", status=200)
    assert verified == {
        "ok": True,
        "response": "sandbox delivery: mail is kept in the sandbox outbox",
    }


async def test_a_live_locations_mail_never_goes_to_the_outbox(mail: Mail, smtp: Mailbox) -> None:
    assert mail.tenant.key.startswith("cf_live_")
    refused = await mail.http.post(
        f"{API}/senders",
        json={"name": "X", "fromEmail": "x@acme.example.org", "delivery": "sandbox"},
    )
    assert error_lines(refused, 422) == [
        "delivery: sandbox delivery is for sandbox locations only; use smtp"
    ]
    bare = await mail.http.post(
        f"{API}/senders", json={"name": "X", "fromEmail": "x@a.example.org"}
    )
    assert error_lines(bare, 422) == ["smtpHost: required when delivery is smtp"]

    sender = await mail.sender(smtp)
    assert sender["delivery"] == "smtp"
    contact = await mail.contact("live@example.com")
    queued = await mail.send(senderId=sender["id"], contactId=contact["id"], subject="s", html="h")
    await mail.wait_sent(queued["id"])
    assert len(smtp.to("live@example.com")) == 1
    assert (await outbox(mail))["messages"] == []
    moved = await mail.http.put(f"{API}/senders/{sender['id']}", json={"delivery": "sandbox"})
    assert error_lines(moved, 422) == [
        "delivery: sandbox delivery is for sandbox locations only; use smtp"
    ]


async def test_the_outbox_refuses_a_live_locations_message(mail: Mail, mail_db: Database) -> None:
    """Even handed one, the outbox keeps nothing of a live location."""
    wire = wire_message(_outgoing("live-email-id"))
    answer = await SandboxOutbox(mail_db, mail.tenant.location_id).send(wire)
    assert answer.accepted is False
    assert answer.response == "554 a live location's mail never goes to the sandbox outbox"
    async with mail_db.reader() as session:
        kept = await session.scalar(
            select(func.count())
            .select_from(SandboxMessage)
            .where(SandboxMessage.location_id == mail.tenant.location_id)
        )
    assert kept == 0


async def test_the_kept_bytes_are_those_an_smtp_server_receives(
    sandbox_mail: Mail, smtp: Mailbox, mail_db: Database, mail_settings: Settings
) -> None:
    """One message delivered both ways: the outbox keeps exactly what DATA carried."""
    mail = sandbox_mail
    sent, _ = await sandbox_send(mail, "bytes@example.com")
    async with mail_db.reader() as session:
        row = await session.get(Email, sent["id"])
        sender = await session.get(Sender, sent["senderId"])
    assert row is not None
    assert sender is not None
    dispatcher = Dispatcher(mail_db, send_settings(mail_settings), "bytes-test")
    links = Links(mail_settings.base_url, await tracking_key(mail_db))
    wire = wire_message(dispatcher.outgoing(sender, row, links))

    connection = SmtpConnection(_server(smtp))
    try:
        over_smtp = await connection.send(wire)
    finally:
        await connection.close()
    assert over_smtp.accepted, over_smtp
    kept = await SandboxOutbox(mail_db, mail.tenant.location_id).send(wire)
    assert kept.accepted, kept
    kept_id = kept.response.rsplit(" ", 1)[1]
    raw = await mail.http.get(f"{API}/sandbox/messages/{kept_id}/raw")
    [received] = smtp.to("bytes@example.com")
    assert raw.content == received.raw


def _outgoing(email_id: str) -> Outgoing:
    return Outgoing(
        message_id=f"<{email_id}@acme.example.org>",
        from_email="x@acme.example.org",
        from_name="X",
        reply_to=None,
        to_email="y@example.com",
        to_name="Y",
        subject="s",
        html="<p>h</p>",
        text="h",
        unsubscribe_url=f"{PUBLIC_BASE}/mailsuite/v1/unsubscribe/t",
        email_id=email_id,
    )


def _server(mailbox: Mailbox) -> SmtpServer:
    return SmtpServer(
        host=mailbox.host,
        port=mailbox.port,
        security="none",
        username=None,
        password=None,
        timeout=5,
        local_hostname="acme.example.org",
    )
