"""Real messages over SMTP to an aiosmtpd server on loopback: headers (Message-ID, RFC 8058
one-click unsubscribe), MIME parts, the merge with and without fallbacks, links rewritten
through the click redirect and the open pixel; scheduled sends, cancelling, and input that
must be refused before anything is sent."""

from datetime import UTC, datetime, timedelta

from tests.mailsuite.helpers import PUBLIC_BASE, Json, Mail, error_lines, links_in, parts, poll
from tests.mailsuite.smtpd import Mailbox

TEMPLATE = {
    "name": "Welcome",
    "subject": "Welcome, {{first_name|friend}}!",
    "html": (
        '<html><body><p>Hello {{ first_name | default("there") }} {{ last_name }},</p>'
        "<p>Your plan: {{plan|free}}.</p>"
        '<p><a href="https://shop.example.com/offer?a=1&amp;b=2">See the offer</a> or '
        '<a href="mailto:help@acme.example.org">write to us</a>.</p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    ),
}


async def test_a_merged_message_arrives_with_its_headers_parts_and_tracking(
    mail: Mail, smtp: Mailbox
) -> None:
    sender = await mail.sender(smtp)
    await mail.contact("other@example.com", customFields={"plan": "gold"})
    contact = await mail.contact("ann@example.com", firstName="Ann", lastName="Lee")
    template = await mail.template(**TEMPLATE)
    assert template["placeholders"] == ["first_name", "last_name", "plan", "unsubscribe_url"]

    email = await mail.send(
        senderId=sender["id"], contactId=contact["id"], templateId=template["id"]
    )
    assert email["status"] == "scheduled"
    assert email["messageId"] == f"<{email['id']}@acme.example.org>"
    sent = await mail.wait_sent(email["id"])
    assert sent["attempts"] == 1
    assert sent["lastResponse"].startswith("250 ")
    assert sent["sentAt"] is not None

    [received] = smtp.to("ann@example.com")
    assert received.mail_from == "news@acme.example.org"
    message = received.message
    assert message["Message-ID"] == email["messageId"]
    assert message["From"] == "Acme News <news@acme.example.org>"
    assert message["To"] == "Ann Lee <ann@example.com>"
    assert message["Subject"] == "Welcome, Ann!"
    assert message["Date"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{PUBLIC_BASE}/mailsuite/v1/unsubscribe/")
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]

    text, html = parts(message)
    assert "Hello Ann Lee," in html
    assert "Your plan: free." in html  # a custom field another contact has: the fallback
    assert "https://shop.example.com/offer" not in html
    [click] = links_in(html, "track/click")
    assert 'href="mailto:help@acme.example.org"' in html
    assert f'href="{unsubscribe}"' in html  # not through the redirect
    [pixel] = links_in(html, "track/open")
    assert html.index(pixel) < html.index("</body>")
    # The text part keeps the plain link: nothing in it is tracked.
    assert "Hello Ann Lee," in text
    assert "See the offer (https://shop.example.com/offer?a=1&b=2)" in text
    assert "track/" not in text

    redirect = await mail.public(click)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "https://shop.example.com/offer?a=1&b=2"

    [event] = await mail.events("EmailSent")
    assert event["payload"]["emailId"] == email["id"]
    assert event["payload"]["messageId"] == email["messageId"]
    assert event["subjectId"] == contact["id"]
    entries = await mail.timeline(contact["id"])
    assert [entry["kind"] for entry in entries] == ["email_sent"]
    assert entries[0]["emailId"] == email["id"]


async def test_fallbacks_fill_what_a_contact_lacks(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp)
    await mail.contact("gold@example.com", customFields={"plan": "gold"})
    bare = await mail.contact("bare@example.com")
    template = await mail.template(**TEMPLATE)
    email = await mail.send(senderId=sender["id"], contactId=bare["id"], templateId=template["id"])
    await mail.wait_sent(email["id"])
    [received] = smtp.to("bare@example.com")
    assert received.message["Subject"] == "Welcome, friend!"
    assert received.message["To"] == "bare@example.com"
    _, html = parts(received.message)
    assert "Hello there ," in html
    assert "Your plan: free." in html

    preview = await mail.post(
        f"/templates/{template['id']}/preview", {"contactId": bare["id"]}, status=200
    )
    assert preview["subject"] == "Welcome, friend!"
    assert "Hello there ," in preview["html"]


async def test_content_given_inline_to_an_address(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp)
    email = await mail.send(
        senderId=sender["id"],
        to="New.Person@Example.com",
        subject="Hi {{ email }}",
        html="<p>Plain <b>hello</b></p>",
        trackOpens=False,
        trackClicks=False,
    )
    await mail.wait_sent(email["id"])
    [received] = smtp.to("New.Person@example.com")
    text, html = parts(received.message)
    assert received.message["Subject"] == "Hi New.Person@example.com"
    assert text.strip() == "Plain hello"
    assert "track/open" not in html
    contact = await mail.get(f"/contacts/{email['contactId']}")
    assert contact["contact"]["source"] == "email"


async def test_scheduled_send_waits_and_cancel_stops_it(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp)
    contact = await mail.contact("later@example.com")
    content: Json = {"senderId": sender["id"], "contactId": contact["id"], "html": "<p>x</p>"}
    soon = datetime.now(UTC) + timedelta(seconds=1)
    first = await mail.send(**content, subject="soon", scheduledAt=soon.isoformat())
    later = datetime.now(UTC) + timedelta(hours=1)
    second = await mail.send(**content, subject="later", scheduledAt=later.isoformat())
    assert smtp.to("later@example.com") == []
    cancelled = await mail.post(f"/emails/{second['id']}/cancel", status=200)
    assert cancelled["email"]["status"] == "cancelled"
    again = await mail.http.post(f"/mailsuite/v1/emails/{second['id']}/cancel")
    assert "only a scheduled email" in error_lines(again, 409)[0]

    sent = await mail.wait_sent(first["id"])
    assert datetime.fromisoformat(sent["sentAt"]) >= soon.replace(microsecond=0)
    assert [item.message["Subject"] for item in smtp.to("later@example.com")] == ["soon"]
    listed = await mail.get("/emails", contactId=contact["id"])
    assert [row["status"] for row in listed["emails"]] == ["cancelled", "sent"]


async def test_unknown_placeholders_and_broken_templates_are_refused_before_sending(
    mail: Mail, smtp: Mailbox
) -> None:
    sender = await mail.sender(smtp)
    contact = await mail.contact("careful@example.com", firstName="Cy")
    broken = await mail.http.post(
        "/mailsuite/v1/templates",
        json={"name": "x", "subject": "ok", "html": "<p>{{ first_name </p>"},
    )
    assert error_lines(broken, 422)[0].startswith("html: line 1:")
    loops = await mail.http.post(
        "/mailsuite/v1/templates",
        json={"name": "x", "subject": "ok", "html": "{% for x in y %}{% endfor %}"},
    )
    assert "not allowed" in error_lines(loops, 422)[0]

    template = await mail.template(html="<p>{{ favourite_colour }} {{ shoe_size|42 }}</p>")
    preview = await mail.http.post(
        f"/mailsuite/v1/templates/{template['id']}/preview", json={"contactId": contact["id"]}
    )
    assert error_lines(preview, 422) == [
        "placeholders: unknown placeholder {{ favourite_colour }}",
        "placeholders: unknown placeholder {{ shoe_size }}",
    ]
    assert preview.json()["meta"]["unknownPlaceholders"] == ["favourite_colour", "shoe_size"]
    refused = await mail.http.post(
        "/mailsuite/v1/emails",
        json={"senderId": sender["id"], "contactId": contact["id"], "templateId": template["id"]},
    )
    assert len(error_lines(refused, 422)) == 2
    campaign = await mail.post(
        "/campaigns",
        {
            "name": "c",
            "senderId": sender["id"],
            "templateId": template["id"],
            "contactIds": [contact["id"]],
        },
    )
    launch = await mail.http.post(
        f"/mailsuite/v1/campaigns/{campaign['campaign']['id']}/send", json={}
    )
    assert error_lines(launch, 422)[0].startswith("placeholders: unknown placeholder")
    assert (await mail.get("/emails"))["emails"] == []
    assert smtp.received == []


async def test_bad_input_is_a_4xx_naming_the_field(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp)
    contact = await mail.contact("fine@example.com")
    cases: list[tuple[str, Json, int, str]] = [
        ("/contacts", {"email": "not-an-address"}, 422, "email: not a valid email address"),
        ("/contacts", {"email": "fine@example.com"}, 409, "email: a contact with"),
        (
            "/emails",
            {"senderId": sender["id"], "to": "nobody@", "html": "x", "subject": "s"},
            422,
            "to: not a valid email address",
        ),
        (
            "/emails",
            {"senderId": "nope", "contactId": contact["id"], "html": "x", "subject": "s"},
            422,
            "senderId: not found",
        ),
        (
            "/emails",
            {
                "senderId": sender["id"],
                "contactId": contact["id"],
                "to": "fine@example.com",
                "html": "x",
                "subject": "s",
            },
            422,
            "contactId: name the recipient",
        ),
        ("/emails", {"senderId": sender["id"], "contactId": contact["id"]}, 422, "subject:"),
        (
            "/senders",
            {
                "name": "s",
                "fromEmail": "a@b.test",
                "smtpHost": "10.1.2.3",
                "smtpPort": 25,
                "smtpSecurity": "none",
            },
            422,
            "smtpHost: 10.1.2.3 resolves to a non-public address",
        ),
        (
            "/senders",
            {
                "name": "s",
                "fromEmail": "a@b.test",
                "smtpHost": "smtp://x.test",
                "smtpPort": 25,
                "smtpSecurity": "none",
            },
            422,
            "smtpHost: a host name",
        ),
        (
            "/senders",
            {
                "name": "s",
                "fromEmail": "a@b.test",
                "smtpHost": "169.254.169.254",
                "smtpPort": 25,
                "smtpSecurity": "none",
            },
            422,
            "metadata",
        ),
        (
            "/emails",
            {
                "senderId": sender["id"],
                "contactId": contact["id"],
                "html": "x",
                "subject": "s",
                "bcc": "x",
            },
            422,
            "bcc:",
        ),
    ]
    for path, body, status, expected in cases:
        response = await mail.http.post(f"/mailsuite/v1{path}", json=body)
        lines = error_lines(response, status)
        assert any(expected in line for line in lines), (path, body, lines)
    assert await poll(lambda: mail.get("/emails"), lambda page: page["emails"] == [])
    assert smtp.received == []
