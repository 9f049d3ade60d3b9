"""The senders, lists, and unsubscribes and bounces pages over HTTP: a sender's Check shows
its SMTP server's answer, Send a test queues a test message whose page shows what the server
answered (an address that is not one named beside its field); lists with their members; the
contacts who unsubscribed or bounced. Names and reasons escaped; CSRF; the tenancy of every
page and action."""

import re

from contactflow.platform.db import Database
from tests.flows.helpers import Hub
from tests.mailsuite.helpers import poll
from tests.mailsuite.smtpd import running_mailbox
from tests.support import LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in

XSS = "<script>alert(1)</script>"


async def test_a_sender_is_checked_and_sends_a_test(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    sibling = await second_location(web_db, web_tenant)
    here = f"/app/l/{web_tenant.location_id}/senders"
    with running_mailbox() as smtp:
        sender = await web_hub.mail_sender(smtp.host, smtp.port)
        await web_hub.call(
            "PUT", f"/mailsuite/v1/senders/{sender['id']}", 200, json={"name": f"Team {XSS}"}
        )
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            page = await http.get(here)
            assert page.status_code == 200
            assert f'data-sender-id="{sender["id"]}"' in page.text
            assert XSS not in page.text
            assert f"through {smtp.host}:{smtp.port}" in page.text
            action = f"{here}/{sender['id']}"
            assert (await http.post(f"{action}/check", data={})).status_code == 403
            checked = await http.post(f"{action}/check", data={"csrf_token": token})
            assert checked.status_code == 200
            assert 'data-accepted="yes"' in checked.text
            wrong = await http.post(f"{action}/test", data={"csrf_token": token, "to": "nobody"})
            assert wrong.status_code == 422
            assert f'id="test-error-{sender["id"]}"' in wrong.text
            assert "to:" in wrong.text
            sent = await http.post(
                f"{action}/test", data={"csrf_token": token, "to": "ops@example.com"}
            )
            assert sent.status_code == 303
            email_page = sent.headers["location"]
            assert email_page.startswith(f"/app/l/{web_tenant.location_id}/emails/")

            async def shown() -> str:
                return (await http.get(email_page)).text

            answered = await poll(shown, lambda text: 'data-status="sent"' in text, within=30)
            assert "250 2.0.0 Ok: queued" in answered
            assert len(smtp.to("ops@example.com")) == 1
            other = f"/app/l/{sibling}/senders/{sender['id']}"
            for path in ("check", "test"):
                answer = await http.post(
                    f"{other}/{path}", data={"csrf_token": token, "to": "ops@example.com"}
                )
                assert answer.status_code == 404, path
            assert (
                f'data-sender-id="{sender["id"]}"'
                not in (await http.get(f"/app/l/{sibling}/senders")).text
            )
    stranger = await make_tenant(web_db)
    outsider = await make_person(web_db, stranger.location_id)
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, outsider)
        assert (await http.get(here)).status_code == 404
        theirs = f"/app/l/{stranger.location_id}/senders/{sender['id']}/test"
        answer = await http.post(theirs, data={"csrf_token": token, "to": "ops@example.com"})
        assert answer.status_code == 404
        assert "No senders yet" in (await http.get(f"/app/l/{stranger.location_id}/senders")).text


async def test_unsubscribes_and_bounces_are_listed(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    contacts = "/mailsuite/v1/contacts"
    gone = (
        await web_hub.post(
            contacts,
            {"email": "gone@example.com", "firstName": XSS, "subscriptionStatus": "unsubscribed"},
        )
    )["contact"]
    dead = (await web_hub.post(contacts, {"email": "dead@example.com"}))["contact"]
    await web_hub.post(
        "/mailsuite/v1/bounces",
        {"recipient": "dead@example.com", "kind": "hard", "reason": f"550 {XSS}"},
        status=200,
    )
    here = f"/app/l/{web_tenant.location_id}/suppressions"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        unsubscribed = await http.get(here)
        assert re.findall(r'data-contact-id="([^"]+)"', unsubscribed.text) == [gone["id"]]
        assert XSS not in unsubscribed.text
        bounced = await http.get(here, params={"kind": "bounced"})
        assert re.findall(r'data-contact-id="([^"]+)"', bounced.text) == [dead["id"]]
        assert "550 &lt;script&gt;" in bounced.text
        wrong = await http.get(here, params={"kind": f"<b>{XSS}</b>"})
        assert wrong.status_code == 422
        assert "kind: one of unsubscribed, bounced" in wrong.text
        assert XSS not in wrong.text
    stranger = await make_tenant(web_db)
    outsider = await make_person(web_db, stranger.location_id)
    async with browser(web_server.base_url) as http:
        await signed_in(http, outsider)
        assert (await http.get(here)).status_code == 404


async def test_lists_show_their_members(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    sibling = await second_location(web_db, web_tenant)
    api = "/mailsuite/v1"
    group = (await web_hub.post(f"{api}/lists", {"name": f"VIP {XSS}"}))["list"]
    members = [
        (await web_hub.post(f"{api}/contacts", {"email": f"m{number}@example.com"}))["contact"]
        for number in range(3)
    ]
    await web_hub.post(
        f"{api}/lists/{group['id']}/members",
        {"contactIds": [member["id"] for member in members]},
        status=200,
    )
    here = f"/app/l/{web_tenant.location_id}/lists"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        listing = await http.get(here)
        row = re.search(rf'data-list-id="{group["id"]}".*?</tr>', listing.text, re.S)
        assert row is not None
        assert '<td class="number">3</td>' in row.group(0)
        assert XSS not in listing.text
        page = await http.get(f"{here}/{group['id']}")
        assert page.status_code == 200
        assert "3 members" in page.text
        shown = set(re.findall(r'data-contact-id="([^"]+)"', page.text))
        assert shown == {member["id"] for member in members}
        assert (await http.get(f"/app/l/{sibling}/lists/{group['id']}")).status_code == 404
        assert (await http.get(f"{here}/nope")).status_code == 404
    stranger = await make_tenant(web_db)
    outsider = await make_person(web_db, stranger.location_id)
    async with browser(web_server.base_url) as http:
        await signed_in(http, outsider)
        assert (await http.get(here)).status_code == 404
        assert (await http.get(f"{here}/{group['id']}")).status_code == 404
