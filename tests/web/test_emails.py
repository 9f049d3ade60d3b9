"""The Mailsuite emails pages over HTTP, against a real SMTP server: the list (status,
opens, clicks; filtered by status, a bad filter named beside its field; paged), an email's
page (recipient, subject and body escaped, its HTML framed without scripts, opens with the
first one's time), Resend of a failed email (CSRF, a refusal said, not a 500), and the
tenancy of every page and action."""

import re

import httpx

from contactflow.platform.db import Database
from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import BROWSER, poll
from tests.mailsuite.smtpd import Mailbox, running_mailbox
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
REFUSAL = "550 5.1.1 <lin@example.com>: Recipient address rejected"
PIXEL = re.compile(r'src="[^"]*(/mailsuite/v1/track/open/[^"]+)"')
WITHIN = 30.0


async def send(hub: Hub, sender_id: str, to: str) -> Json:
    body = {
        "senderId": sender_id,
        "to": to,
        "subject": f"Hi {XSS}",
        "html": f"<p>Hello</p>{XSS}",
        "text": f"Hello {XSS}",
    }
    email: Json = (await hub.post("/mailsuite/v1/emails", body))["email"]
    return email


async def finished(hub: Hub, email_id: str, status: str) -> Json:
    async def fetch() -> Json:
        email: Json = (await hub.get(f"/mailsuite/v1/emails/{email_id}"))["email"]
        return email

    return await poll(fetch, lambda email: email["status"] == status, within=WITHIN)


async def opened_by_a_person(base_url: str, smtp: Mailbox, hub: Hub, to: str) -> Json:
    """Fetch the email's open pixel as a mail client does until it counts as a person's
    (fetches right after sending are taken for a prefetcher's)."""
    (received,) = smtp.to(to)
    html = received.message.get_body(("html",))
    assert html is not None
    found = PIXEL.search(str(html.get_content()))
    assert found is not None
    path = found.group(1).replace("&amp;", "&")
    email_id = received.message["X-Contactflow-Email-Id"]

    async def fetch() -> Json:
        async with httpx.AsyncClient(
            timeout=CLIENT_TIMEOUT_SECONDS, base_url=base_url, headers={"User-Agent": BROWSER}
        ) as http:
            assert (await http.get(path)).status_code == 200
        email: Json = (await hub.get(f"/mailsuite/v1/emails/{email_id}"))["email"]
        return email

    return await poll(fetch, lambda email: email["opens"] >= 1, within=WITHIN)


def email_ids(html: str) -> list[str]:
    return re.findall(r'data-email-id="([^"]+)"', html)


async def test_emails_are_listed_filtered_and_shown_with_their_opens(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    with running_mailbox() as smtp:
        smtp.refuse("lin@example.com", REFUSAL)
        sender = await web_hub.mail_sender(smtp.host, smtp.port)
        sent = await send(web_hub, sender["id"], "tess@example.com")
        failed = await send(web_hub, sender["id"], "lin@example.com")
        await finished(web_hub, sent["id"], "sent")
        await finished(web_hub, failed["id"], "failed")
        opened = await opened_by_a_person(web_server.base_url, smtp, web_hub, "tess@example.com")
    person = await make_person(web_db, web_tenant.location_id)
    here = f"/app/l/{web_tenant.location_id}/emails"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        listing = await http.get(here)
        assert listing.status_code == 200
        assert email_ids(listing.text) == [failed["id"], sent["id"]]
        assert XSS not in listing.text
        assert ESCAPED in listing.text
        assert 'sse-connect="' in listing.text
        assert f'href="{here}"' in listing.text  # the nav links the emails
        row = re.search(rf'data-email-id="{sent["id"]}".*?</tr>', listing.text, re.S)
        assert row is not None
        assert 'class="state state-sent"' in row.group(0)
        assert re.search(r'<td class="number">1</td>', row.group(0))
        only_failed = await http.get(here, params={"status": "failed"})
        assert email_ids(only_failed.text) == [failed["id"]]
        assert '<option value="failed" selected>' in only_failed.text
        wrong = await http.get(here, params={"status": "<b>lost</b>"})
        assert wrong.status_code == 422
        assert 'id="filter-status-error"' in wrong.text
        assert "<b>lost</b>" not in wrong.text
        assert email_ids(wrong.text) == []
        assert (await http.get(f"{here}/live", params={"status": "lost"})).status_code == 404

        page = await http.get(f"{here}/{sent['id']}")
        assert page.status_code == 200
        assert XSS not in page.text
        assert page.text.count(ESCAPED) >= 2  # subject and text body
        assert "&lt;tess@example.com&gt;" in page.text
        assert "frame-src 'self'" in page.headers["content-security-policy"]
        assert re.search(r'<iframe[^>]* sandbox=""', page.text)
        assert f'data-opens="{opened["opens"]}"' in page.text
        assert f'<time datetime="{opened["firstOpenedAt"]}">' in page.text
        assert 'data-activity-kind="open"' in page.text
        assert "Resend" not in page.text
        body = await http.get(f"{here}/{sent['id']}/html")
        policy = body.headers["content-security-policy"]
        assert "sandbox" in policy
        assert "script-src" not in policy
        assert body.text == f"<p>Hello</p>{XSS}"
        assert "track/open" not in body.text  # reading it here is not an open

        failed_page = await http.get(f"{here}/{failed['id']}")
        assert REFUSAL.replace("<", "&lt;").replace(">", "&gt;") in failed_page.text
        assert 'action="' + f'{here}/{failed["id"]}/resend"' in failed_page.text
        for path in ("nope", "nope/html", "nope/live"):
            assert (await http.get(f"{here}/{path}")).status_code == 404, path


async def test_a_failed_email_is_resent_from_its_page(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    with running_mailbox() as smtp:
        smtp.refuse("lin@example.com", REFUSAL)
        sender = await web_hub.mail_sender(smtp.host, smtp.port)
        failed = await send(web_hub, sender["id"], "lin@example.com")
        await finished(web_hub, failed["id"], "failed")
        smtp.accept("lin@example.com")
        person = await make_person(web_db, web_tenant.location_id)
        sibling = await second_location(web_db, web_tenant)
        here = f"/app/l/{web_tenant.location_id}/emails/{failed['id']}"
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            assert (await http.post(f"{here}/resend", data={})).status_code == 403
            other = f"/app/l/{sibling}/emails/{failed['id']}"
            assert (await http.get(other)).status_code == 404
            refused = await http.post(f"{other}/resend", data={"csrf_token": token})
            assert refused.status_code == 404
            resent = await http.post(f"{here}/resend", data={"csrf_token": token})
            assert resent.status_code == 303
            assert resent.headers["location"] == f"{here}?done=resent"
            shown = await http.get(resent.headers["location"])
            assert "Queued to be sent again now." in shown.text
            await finished(web_hub, failed["id"], "sent")
            assert len(smtp.to("lin@example.com")) == 1
            again = await http.post(f"{here}/resend", data={"csrf_token": token})
            assert again.status_code == 409
            assert "only a failed email can be resent" in again.text


async def test_another_companys_emails_are_not_found(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    with running_mailbox() as smtp:
        sender = await web_hub.mail_sender(smtp.host, smtp.port)
        email = await send(web_hub, sender["id"], "tess@example.com")
        stranger = await make_tenant(web_db)
        person = await make_person(web_db, stranger.location_id)
        own = f"/app/l/{stranger.location_id}/emails"
        theirs = f"/app/l/{web_tenant.location_id}/emails"
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            assert "No email yet." in (await http.get(own)).text
            assert (await http.get(f"{own}/{email['id']}")).status_code == 404
            for path in (theirs, f"{theirs}/{email['id']}", f"{theirs}/{email['id']}/html"):
                assert (await http.get(path)).status_code == 404, path
            resend = await http.post(f"{theirs}/{email['id']}/resend", data={"csrf_token": token})
            assert resend.status_code == 404
