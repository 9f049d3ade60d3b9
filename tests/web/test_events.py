"""The events page over HTTP: the location's log newest first, filtered by event type and
contact in its address (a bad filter named beside its field), paged by keyset, live over
Server-Sent Events, each payload shown escaped; another location's events are a 404."""

import re

import httpx

from contactflow.platform.db import Database
from contactflow.web.events import EVENTS_PER_PAGE
from tests.flows.helpers import Hub
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, signed_in
from tests.webhooks.helpers import create_contacts

SCRIPT = "<script>alert(1)</script>"


def event_ids(html: str) -> list[str]:
    return re.findall(r'data-event-id="([^"]+)"', html)


async def test_the_log_is_listed_filtered_paged_and_each_payload_shown_escaped(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    here = f"/app/l/{web_tenant.location_id}/events"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        empty = await http.get(here)
        assert empty.status_code == 200
        assert "No events yet" in empty.text

        ada = await web_hub.crm_contact(firstName=SCRIPT, email="ada@example.org")
        task = {"title": "Call", "dueDate": "2026-12-10T15:00:00.000Z", "completed": False}
        await web_hub.post(f"/contacts/{ada['id']}/tasks", task)
        bob = await web_hub.crm_contact(firstName="Bob")
        log = (await web_hub.get("/events"))["events"]
        newest_first = [event["id"] for event in reversed(log)]

        page = await http.get(here)
        assert event_ids(page.text) == newest_first
        assert SCRIPT not in page.text
        assert 'sse-connect="' in page.text
        assert '<optgroup label="Tasks">' in page.text
        created = await http.get(here, params={"type": "ContactCreate"})
        assert event_ids(created.text) == [newest_first[0], newest_first[2]]
        assert '<option value="ContactCreate" selected>' in created.text
        about_ada = await http.get(here, params={"contact": ada["id"]})
        assert event_ids(about_ada.text) == newest_first[1:]
        assert f'value="{ada["id"]}"' in about_ada.text
        both = await http.get(here, params={"type": "TaskCreate", "contact": bob["id"]})
        assert "No event matches these filters." in both.text

        bogus = await http.get(here, params={"type": "<b>Nope</b>"})
        assert bogus.status_code == 422
        assert 'id="filter-type-error">not an event type' in bogus.text
        assert "<b>Nope" not in bogus.text
        long = await http.get(here, params={"contact": "x" * 65})
        assert long.status_code == 422
        assert 'id="filter-contact-error">at most 64 characters' in long.text

        [created_event] = [event for event in log if event["type"] == "ContactCreate"][:1]
        shown = await http.get(f"{here}/{created_event['id']}")
        assert shown.status_code == 200
        assert SCRIPT not in shown.text
        assert "&#34;firstName&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in shown.text
        assert '<pre class="payload">{' in shown.text
        assert f'href="{here}?contact={ada["id"]}"' in shown.text
        assert (await http.get(f"{here}/nope")).status_code == 404


async def test_older_events_page_by_keyset(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    names = [f"C{n}" for n in range(EVENTS_PER_PAGE + 1)]
    await create_contacts(web_db, web_tenant.location_id, names)
    here = f"/app/l/{web_tenant.location_id}/events"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        first = await http.get(here, params={"type": "ContactCreate"})
        assert len(event_ids(first.text)) == EVENTS_PER_PAGE
        older = re.search(r'<a href="([^"]+)">Older events</a>', first.text)
        assert older is not None
        second = await http.get(older.group(1).replace("&amp;", "&"))
        assert len(event_ids(second.text)) == 1
        assert "type=ContactCreate" in older.group(1)
        assert "Older events" not in second.text
        assert 'sse-connect="' not in second.text  # an older page stays as it is
        assert set(event_ids(first.text)).isdisjoint(event_ids(second.text))
        for before in ("x", "-1", "9" * 30):
            assert (await http.get(here, params={"before": before})).status_code == 200


async def test_new_events_arrive_on_the_live_stream_filtered(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    here = f"/app/l/{web_tenant.location_id}/events"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        page = await http.get(here, params={"type": "ContactCreate"})
        live = re.search(r'sse-connect="([^"]+)"', page.text)
        assert live is not None
        url = live.group(1).replace("&amp;", "&")
        assert "type=ContactCreate" in url
        async with http.stream("GET", url, timeout=httpx.Timeout(30)) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            ada = await web_hub.crm_contact(firstName="Ada")
            await web_hub.post(
                f"/contacts/{ada['id']}/tasks",
                {"title": "Call", "dueDate": "2026-12-10T15:00:00.000Z", "completed": False},
            )
            bob = await web_hub.crm_contact(firstName="Bob")
            received = ""
            async for line in stream.aiter_lines():
                received += line + "\n"
                if bob["id"] in received:
                    break
        assert "event: events" in received
        assert 'data-type="TaskCreate"' not in received
        assert 'data-type="ContactCreate"' in received


async def test_another_locations_events_are_not_found(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db)
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=web_server.base_url, headers=other.headers
    ) as api:
        response = await api.post("/contacts/", json={"firstName": "Theirs"})
        assert response.status_code == 201
        [theirs] = (await api.get("/events")).json()["events"]
    user = await make_person(web_db, web_tenant.location_id, role="user")
    ours = f"/app/l/{web_tenant.location_id}/events"
    async with browser(web_server.base_url) as http:
        await signed_in(http, user)
        for path in (
            f"{ours}/{theirs['id']}",
            f"/app/l/{other.location_id}/events",
            f"/app/l/{other.location_id}/events/{theirs['id']}",
            f"/app/l/{other.location_id}/events/live",
        ):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert "Theirs" not in response.text
        assert (
            theirs["id"] not in (await http.get(ours, params={"contact": theirs["subjectId"]})).text
        )
