"""The campaigns pages over HTTP on a sandbox location: a campaign made from a list and a
template (bad fields named beside them, another location's template refused), sent, and its
report counting what was sent, opened and unsubscribed, with its progress and chart; a
campaign scheduled, paused, resumed and cancelled, a refused action said on its page; CSRF
and the tenancy of every page and action."""

import re
from datetime import UTC, datetime, timedelta

import httpx

from contactflow.platform.db import Database
from tests.mailsuite.helpers import Json, Mail, poll
from tests.support import LiveServer, api_client, make_tenant
from tests.web.forms import form_fields
from tests.web.helpers import browser, make_person, second_location, signed_in
from tests.web.mailsuite_helpers import (
    WITHIN,
    audience,
    caught_messages,
    mail_location,
    open_all,
    unsubscribe_of,
)

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


async def campaign_of(mail: Mail, campaign_id: str) -> Json:
    campaign: Json = (await mail.get(f"/campaigns/{campaign_id}"))["campaign"]
    return campaign


async def create(http: httpx.AsyncClient, location_id: str, **fields: str) -> httpx.Response:
    here = f"/app/l/{location_id}/campaigns/new"
    form = form_fields((await http.get(here)).text, "campaign-form")
    return await http.post(here, data={**form, **fields})


async def test_a_campaign_is_made_sent_and_reported(
    web_server: LiveServer, web_db: Database
) -> None:
    async with mail_location(web_server, web_db) as (mail, person):
        tenant = mail.tenant
        here = f"/app/l/{tenant.location_id}/campaigns"
        people = await audience(mail, 3, template_name=f"Spring {XSS}")
        async with browser(web_server.base_url) as http:
            await signed_in(http, person)
            empty = await http.get(here)
            assert "No campaigns yet" in empty.text
            new = await http.get(f"{here}/new")
            assert ESCAPED in new.text
            assert XSS not in new.text
            fields = form_fields(new.text, "campaign-form")
            assert fields["templateId"] == people.template["id"]
            assert fields["listId"] == ""
            bare = {name: value for name, value in fields.items() if name != "csrf_token"}
            assert (await http.post(f"{here}/new", data=bare)).status_code == 403
            wrong = await create(http, tenant.location_id, name="", maxPerMinute="many")
            assert wrong.status_code == 422
            assert 'id="name-error"' in wrong.text
            assert 'id="maxPerMinute-error"' in wrong.text
            unknown = await create(http, tenant.location_id, name="X", templateId="nope")
            assert unknown.status_code == 422
            assert 'id="templateId-error"' in unknown.text
            made = await create(
                http, tenant.location_id, name=f"Spring {XSS}", listId=people.group["id"]
            )
            assert made.status_code == 303, made.text
            page_url = made.headers["location"]
            campaign_id = page_url.split("/")[-1].split("?")[0]
            draft = await http.get(page_url)
            assert "Campaign saved as a draft" in draft.text
            assert XSS not in draft.text
            assert ESCAPED in draft.text
            listing = await http.get(here)
            assert f'data-campaign-id="{campaign_id}" data-status="draft"' in listing.text
            token = form_fields(draft.text, "campaign-send")["csrf_token"]
            late = await http.post(
                f"{here}/{campaign_id}/send", data={"csrf_token": token, "scheduledAt": "soon"}
            )
            assert late.status_code == 422
            assert 'id="scheduledAt-error"' in late.text
            assert (await campaign_of(mail, campaign_id))["status"] == "draft"
            sent = await http.post(f"{here}/{campaign_id}/send", data={"csrf_token": token})
            assert sent.status_code == 303
            messages = await caught_messages(mail, 3)
            await poll(
                lambda: campaign_of(mail, campaign_id),
                lambda campaign: campaign["counts"]["sent"] == 3,
                within=WITHIN,
            )
            await open_all(web_server.base_url, mail, campaign_id, messages)
            gone = await mail.http.post(
                unsubscribe_of(messages[0]), data={"List-Unsubscribe": "One-Click"}
            )
            assert gone.status_code == 200
            report = await http.get(f"{here}/{campaign_id}")
            assert 'data-sent="3" data-opened="3" data-percent="100"' in report.text
            assert "Done: every email has gone out." in report.text
            counts = re.search(r'<table class="counts">.*?</table>', report.text, re.S)
            assert counts is not None
            numbers = re.findall(r">(\d+)<", counts.group(0))
            assert numbers == ["3", "0", "0", "3", "0", "3", "0", "0", "1"]
            assert re.search(r'<polyline data-series="opened"[^>]* points="[^"]+"', report.text)
            assert (await campaign_of(mail, campaign_id))["counts"]["unsubscribed"] == 1
            assert f"emails?status=sent&amp;campaign={campaign_id}" in report.text
            emails_of = await http.get(
                f"/app/l/{tenant.location_id}/emails",
                params={"status": "sent", "campaign": campaign_id},
            )
            assert len(re.findall(r"data-email-id=", emails_of.text)) == 3
            none_of = await http.get(
                f"/app/l/{tenant.location_id}/emails", params={"campaign": "x" * 65}
            )
            assert none_of.status_code == 422
            again = await http.post(f"{here}/{campaign_id}/send", data={"csrf_token": token})
            assert again.status_code == 409
            assert "only a draft can be sent" in again.text


async def test_a_scheduled_campaign_is_paused_resumed_and_cancelled(
    web_server: LiveServer, web_db: Database
) -> None:
    tenant = await make_tenant(web_db, sandbox=True)
    person = await make_person(web_db, tenant.location_id)
    sibling = await second_location(web_db, tenant)
    stranger = await make_tenant(web_db)
    outsider = await make_person(web_db, stranger.location_id)
    here = f"/app/l/{tenant.location_id}/campaigns"
    async with api_client(web_server.base_url, tenant.headers, timeout=30) as api:
        mail = Mail(api, tenant)
        people = await audience(mail, 2)
        body = {
            "name": "Later",
            "senderId": people.sender["id"],
            "templateId": people.template["id"],
            "listId": people.group["id"],
        }
        campaign = (await mail.post("/campaigns", body))["campaign"]
        page = f"{here}/{campaign['id']}"
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, person)
            later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
            sent = await http.post(f"{page}/send", data={"csrf_token": token, "scheduledAt": later})
            assert sent.status_code == 303
            shown = await http.get(page)
            assert "to be sent from" in shown.text
            assert 'data-percent="0"' in shown.text
            assert (await campaign_of(mail, campaign["id"]))["counts"]["scheduled"] == 2
            for action, status in (
                ("pause", "paused"),
                ("resume", "launched"),
                ("cancel", "cancelled"),
            ):
                done = await http.post(f"{page}/{action}", data={"csrf_token": token})
                assert done.status_code == 303, (action, done.text)
                assert (await campaign_of(mail, campaign["id"]))["status"] == status
            assert (await http.post(f"{page}/pause", data={})).status_code == 403
            refused = await http.post(f"{page}/pause", data={"csrf_token": token})
            assert refused.status_code == 409
            assert "only a launched one can be paused" in refused.text
            other = f"/app/l/{sibling}/campaigns/{campaign['id']}"
            assert (await http.get(other)).status_code == 404
            assert (
                await http.post(f"{other}/cancel", data={"csrf_token": token})
            ).status_code == 404
            assert (await http.get(f"{here}/nope")).status_code == 404
            assert (
                await http.post(f"{here}/nope/resume", data={"csrf_token": token})
            ).status_code == 404
        async with browser(web_server.base_url) as http:
            token = await signed_in(http, outsider)
            for path in (here, page, f"{page}/live", f"{here}/new"):
                assert (await http.get(path)).status_code == 404, path
            for action in ("send", "pause", "resume", "cancel"):
                answer = await http.post(f"{page}/{action}", data={"csrf_token": token})
                assert answer.status_code == 404, action
            theirs = await http.post(
                f"/app/l/{stranger.location_id}/campaigns/new",
                data={
                    "csrf_token": token,
                    "name": "Theirs",
                    "senderId": people.sender["id"],
                    "templateId": people.template["id"],
                },
            )
            assert theirs.status_code == 422
            assert 'id="senderId-error"' in theirs.text
