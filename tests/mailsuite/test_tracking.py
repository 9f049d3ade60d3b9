"""Opens, clicks and unsubscribes through the links of a real message, fetched over HTTP:
first human open and click recorded once, every one counted with agent and address, machine
fetches flagged; forged or altered tokens refused; one-click unsubscribe (RFC 8058) and hard
bounces stop later sends."""

import base64
from datetime import UTC, datetime, timedelta

from tests.mailsuite.helpers import (
    MACHINE_SECONDS,
    Json,
    Mail,
    error_lines,
    links_in,
    parts,
    poll,
)
from tests.mailsuite.smtpd import Mailbox

HTML = (
    '<p>Read <a href="https://blog.example.com/post">the post</a>.</p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


async def _sent(mail: Mail, smtp: Mailbox, to: str) -> tuple[Json, Json, str]:
    """A sent email, its contact and its HTML as received."""
    sender = await mail.sender(smtp)
    contact = await mail.contact(to, firstName="Tess")
    email = await mail.send(
        senderId=sender["id"], contactId=contact["id"], subject="News", html=HTML
    )
    sent = await mail.wait_sent(email["id"])
    [received] = smtp.to(to)
    return sent, contact, parts(received.message)[1]


async def _after_machine_window(sent: Json) -> None:
    """Wait until an open no longer counts as a pre-fetch (MACHINE_SECONDS after sending)."""
    human_from = datetime.fromisoformat(sent["sentAt"]) + timedelta(seconds=MACHINE_SECONDS)

    async def now() -> datetime:
        return datetime.now(UTC)

    await poll(now, lambda moment: moment > human_from)


async def test_opens_count_every_fetch_and_the_first_human_open_once(
    mail: Mail, smtp: Mailbox
) -> None:
    sent, contact, html = await _sent(mail, smtp, "tess@example.com")
    [pixel] = links_in(html, "track/open")

    early = await mail.public(pixel)
    assert early.status_code == 200
    assert early.headers["content-type"] == "image/gif"
    assert early.content.startswith(b"GIF89a")
    assert "no-store" in early.headers["cache-control"]
    proxy = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    assert (await mail.public(pixel, agent=proxy)).status_code == 200
    assert (await mail.public(pixel, agent="Mozilla/5.0")).status_code == 200
    assert (await mail.email(sent["id"]))["firstOpenedAt"] is None

    await _after_machine_window(sent)
    assert (await mail.public(pixel)).status_code == 200
    assert (await mail.public(pixel)).status_code == 200

    email = await mail.email(sent["id"])
    assert (email["opens"], email["machineOpens"]) == (2, 3)
    assert email["firstOpenedAt"] is not None
    activity = (await mail.get(f"/emails/{sent['id']}/activity"))["activity"]
    reasons = [row["machineReason"] for row in reversed(activity)]
    assert reasons == [
        f"within {MACHINE_SECONDS:g} s of sending",
        "image proxy (Gmail)",
        "Apple Mail Privacy Protection prefetch",
        None,
        None,
    ]
    assert all(row["ip"] == "127.0.0.1" and row["kind"] == "open" for row in activity)
    opened = await mail.events("EmailOpened")
    assert [event["payload"]["machine"] for event in opened] == [True, True, True, False, False]
    [first] = await mail.events("EmailFirstOpened")
    assert first["payload"]["emailId"] == sent["id"]
    assert first["payload"]["userAgent"].startswith("Mozilla/5.0 (Macintosh")
    kinds = [entry["kind"] for entry in await mail.timeline(contact["id"])]
    assert kinds == ["email_opened", "email_sent"]


async def test_clicks_redirect_only_to_the_signed_target(mail: Mail, smtp: Mailbox) -> None:
    sent, contact, html = await _sent(mail, smtp, "clicker@example.com")
    [click] = links_in(html, "track/click")
    scanner = await mail.public(click, agent="Mozilla/5.0 (compatible; Proofpoint URL Defense)")
    assert scanner.status_code == 302
    await _after_machine_window(sent)
    human = await mail.public(click)
    assert human.status_code == 302
    assert human.headers["location"] == "https://blog.example.com/post"
    assert (await mail.public(click)).status_code == 302

    email = await mail.email(sent["id"])
    assert (email["clicks"], email["machineClicks"]) == (2, 1)
    clicked = await mail.events("LinkClicked")
    assert [event["payload"]["machineReason"] for event in clicked] == [
        "link scanner (Proofpoint)",
        None,
        None,
    ]
    [first] = await mail.events("LinkFirstClicked")
    assert first["payload"]["url"] == "https://blog.example.com/post"
    kinds = [entry["kind"] for entry in await mail.timeline(contact["id"])]
    assert kinds == ["link_clicked", "link_clicked", "email_sent"]

    # The target is under the signature: pointing the token elsewhere breaks it.
    token = click.rsplit("/", 1)[1]
    payload, mac = token.split(".")
    body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    evil = body.replace(b"https://blog.example.com/post", b"https://evil.example.net/")
    forged = base64.urlsafe_b64encode(evil).rstrip(b"=").decode() + "." + mac
    [pixel] = links_in(html, "track/open")
    for url in (
        click.replace(token, forged),
        click.replace(token, "bm90LWEtdG9rZW4." + mac),
        click.replace(token, pixel.rsplit("/", 1)[1]),  # an open token is not a click token
    ):
        refused = await mail.public(url)
        assert error_lines(refused, 404) == ["This link is not valid"]
        assert "location" not in refused.headers
    assert len(await mail.events("LinkClicked")) == 3


async def test_one_click_unsubscribe_blocks_later_sends(mail: Mail, smtp: Mailbox) -> None:
    sent, contact, html = await _sent(mail, smtp, "leaving@example.com")
    [received] = smtp.to("leaving@example.com")
    url = received.message["List-Unsubscribe"].strip("<>")
    assert f'href="{url}"' in html
    # An email queued before the unsubscribe, due after it (with room for a busy machine).
    due = datetime.now(UTC) + timedelta(seconds=3)
    queued = await mail.send(
        senderId=sent["senderId"],
        contactId=contact["id"],
        subject="Later",
        html="<p>later</p>",
        scheduledAt=due.isoformat(),
    )

    page = await mail.public(url)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "leaving@example.com" in page.text
    assert '<form method="post">' in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]

    # What a mail provider sends for RFC 8058 one-click.
    done = await mail.public(url, "POST", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "no more email" in done.text
    again = await mail.public(url, "POST", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200

    updated = (await mail.get(f"/contacts/{contact['id']}"))["contact"]
    assert updated["subscriptionStatus"] == "unsubscribed"
    [event] = await mail.events("EmailUnsubscribed")
    assert event["payload"]["method"] == "one-click"
    assert event["payload"]["emailId"] == sent["id"]

    refused = await mail.http.post(
        "/mailsuite/v1/emails",
        json={
            "senderId": sent["senderId"],
            "contactId": contact["id"],
            "subject": "x",
            "html": "x",
        },
    )
    assert "contactId: not sending: the contact is unsubscribed" in error_lines(refused, 422)[0]
    failed = await mail.wait_email(queued["id"], lambda row: row["status"] == "failed")
    assert failed["error"].startswith("not sent: the contact is unsubscribed")
    assert failed["attempts"] == 0
    [event] = await mail.events("EmailFailed")
    assert event["payload"]["emailId"] == queued["id"]
    assert event["payload"]["error"] == failed["error"]
    assert len(smtp.to("leaving@example.com")) == 1


async def test_a_hard_bounce_stops_further_sends(mail: Mail, smtp: Mailbox) -> None:
    sent, contact, _ = await _sent(mail, smtp, "gone@example.com")
    unknown = await mail.http.post(
        "/mailsuite/v1/bounces",
        json={"recipient": "gone@example.com", "kind": "hard", "messageId": "<x@y>"},
    )
    assert error_lines(unknown, 422) == [
        "messageId: no email with this Message-ID in this workspace"
    ]
    report = {
        "recipient": "gone@example.com",
        "kind": "hard",
        "reason": "550 5.1.1 mailbox does not exist",
        "messageId": sent["messageId"].strip("<>"),
    }
    result = await mail.post("/bounces", report, status=200)
    assert result == {
        "emailId": sent["id"],
        "contactId": contact["id"],
        "subscriptionStatus": "bounced",
    }
    email = await mail.email(sent["id"])
    assert (email["status"], email["bounceKind"]) == ("bounced", "hard")
    [event] = await mail.events("EmailBounced")
    assert event["payload"]["reason"] == "550 5.1.1 mailbox does not exist"
    refused = await mail.http.post(
        "/mailsuite/v1/emails",
        json={
            "senderId": sent["senderId"],
            "contactId": contact["id"],
            "subject": "x",
            "html": "x",
        },
    )
    assert "not sending: the contact is bounced" in error_lines(refused, 422)[0]

    other = await mail.contact("full@example.com")
    soft = await mail.post(
        "/bounces",
        {"recipient": "full@example.com", "kind": "soft", "reason": "mailbox full"},
        status=200,
    )
    assert soft["subscriptionStatus"] == "subscribed"
    assert soft["contactId"] == other["id"]
    assert len(await mail.events("EmailBounced")) == 2
