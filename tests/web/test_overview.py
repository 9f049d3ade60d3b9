"""The overview over HTTP: the location's figures over the last hour, 24 hours and 7 days
counted as the things happen (events, flow runs, emails, webhook attempts), each a link to
the list it counts, redrawn live; a bad window is named; another location's overview is a
404; the location's name is escaped. The counters themselves: a slot reused for a newer
bucket starts again from zero."""

import re
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import httpx
from sqlalchemy import func, select, update

from contactflow.platform import activity, events
from contactflow.platform import event_types as types
from contactflow.platform.db import Database
from contactflow.platform.tenancy import Location
from tests.flows.helpers import Hub, Json
from tests.receiver import running_receiver
from tests.support import LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, signed_in
from tests.web.test_webhooks import settled

SCRIPT = "<script>alert(1)</script>"
WINDOWS = ("1h", "24h", "7d")
# Run by hand with {"text": ...}: fails unless the text is JSON.
PARSING: Json = {
    "trigger": {"key": "core.manual"},
    "steps": [
        {
            "type": "action",
            "id": "parse",
            "action": "core.json.parse",
            "input": {"text": "{{ trigger.text }}"},
        }
    ],
}


def figures(html: str) -> dict[str, dict[str, tuple[str, int]]]:
    """Per kind, per window: the total's link and number."""
    found: dict[str, dict[str, tuple[str, int]]] = {}
    for kind, row in re.findall(r'<tr data-kind="([^"]+)">(.*?)</tr>', html, re.S):
        cells = re.findall(r'<a href="([^"]+)" data-window="([^"]+)">(\d+)<', row)
        found[kind] = {window: (href.replace("&amp;", "&"), int(n)) for href, window, n in cells}
    return found


def totals(html: str, window: str = "1h") -> dict[str, int]:
    return {kind: by_window[window][1] for kind, by_window in figures(html).items()}


async def events_in(db: Database, location_id: str, *of_types: str) -> int:
    query = select(func.count()).where(events.Event.location_id == location_id)
    if of_types:
        query = query.where(events.Event.type.in_(of_types))
    async with db.reader() as session:
        count = await session.scalar(query.select_from(events.Event))
    return int(count or 0)


async def email_events(db: Database, location_id: str) -> None:
    """What Mailsuite appends as emails go out and come back: 3 sent, 2 first opened,
    1 first clicked, 1 bounced."""
    kinds = [types.EMAIL_SENT] * 3 + [types.EMAIL_FIRST_OPENED] * 2
    kinds += [types.LINK_FIRST_CLICKED, types.EMAIL_BOUNCED]
    async with db.unit_of_work() as uow:
        for kind in kinds:
            await events.append(uow, location_id, kind, {"type": kind, "locationId": location_id})


async def test_figures_count_what_happened_and_link_to_what_they_count(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    location = web_tenant.location_id
    person = await make_person(web_db, location)
    here = f"/app/l/{location}/overview"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        home = await http.get(f"/app/l/{location}")
        assert (home.status_code, home.headers["location"]) == (303, here)
        empty = await http.get(here)
        assert empty.status_code == 200
        assert set(totals(empty.text).values()) == {0}
        assert 'aria-current="page">Last hour<' in empty.text

        with running_receiver() as receiver:
            endpoint = await web_hub.post(
                "/webhooks", {"url": receiver.url("/overview"), "eventTypes": ["ContactCreate"]}
            )
            receiver.fail_next(500)
            await web_hub.crm_contact(firstName="Ada")
            await settled(web_hub, endpoint["endpoint"]["id"], 1, "succeeded")
        flow = await web_hub.flow(PARSING)
        for text in ("[1]", "{not json", "{}"):
            await web_hub.post(f"/flows/{flow['id']}/run", {"text": text})
        [failed] = [
            run for run in await web_hub.finished_runs(flow["id"], 3) if run["state"] == "failed"
        ]
        await email_events(web_db, location)

        page = await http.get(here)
        logged = await events_in(web_db, location)
        expected = {
            activity.EVENTS: logged,
            types.FLOW_RUN_SUCCEEDED: 2,
            types.FLOW_RUN_FAILED: 1,
            types.EMAIL_SENT: 3,
            types.EMAIL_FIRST_OPENED: 2,
            types.LINK_FIRST_CLICKED: 1,
            types.EMAIL_BOUNCED: 1,
            activity.DELIVERY_SUCCEEDED: 1,
            activity.DELIVERY_FAILED: 1,
        }
        for window in WINDOWS:
            assert totals(page.text, window) == expected, window
        # The endpoint's issue opened and resolved, the failing step's opened (and resolved if
        # a run that parsed ran after it).
        issue_events = await events_in(web_db, location, types.ISSUE_OPENED, types.ISSUE_RESOLVED)
        assert issue_events in (3, 4)
        # The contact, the three runs' ends, the seven email events, and the issues' events.
        assert logged == 11 + issue_events

        shown = figures(page.text)
        runs_link, _ = shown[types.FLOW_RUN_FAILED]["1h"]
        assert runs_link.startswith(f"/app/l/{location}/runs?state=failed&since=")
        runs = await http.get(runs_link)
        assert re.findall(r'data-run-id="([^"]+)"', runs.text) == [failed["id"]]
        day_link, _ = shown[types.FLOW_RUN_SUCCEEDED]["24h"]
        since = datetime.fromisoformat(day_link.rsplit("since=", 1)[1].replace("%3A", ":"))
        assert timedelta(hours=23) < datetime.now(UTC) - since.replace(tzinfo=UTC)
        sent_link, _ = shown[types.EMAIL_SENT]["7d"]
        assert sent_link == f"/app/l/{location}/events?type=EmailSent"
        sent = await http.get(sent_link)
        assert len(re.findall(r'data-type="EmailSent"', sent.text)) == 3
        assert shown[activity.EVENTS]["1h"][0] == f"/app/l/{location}/events"
        assert shown[activity.DELIVERY_FAILED]["1h"][0] == f"/app/l/{location}/webhooks"
        # The charts: one per group, with their numbers as text.
        assert page.text.count('role="img"') == 4
        assert "failed: 1 in all, at most 1 in one bucket" in page.text

        week = await http.get(here, params={"window": "7d"})
        assert 'aria-current="page">Last 7 days<' in week.text
        assert "window=7d" in week.text
        bad = await http.get(here, params={"window": "<b>1y</b>"})
        assert bad.status_code == 422
        assert "window: pick 1h, 24h or 7d" in bad.text
        assert "<b>1y" not in bad.text


async def test_the_figures_are_redrawn_live(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        page = await http.get(f"/app/l/{web_tenant.location_id}/overview")
        assert totals(page.text)[activity.EVENTS] == 0
        live = re.search(r'sse-connect="([^"]+)"', page.text)
        assert live is not None
        url = live.group(1).replace("&amp;", "&")
        async with http.stream("GET", url, timeout=httpx.Timeout(30)) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            await web_hub.crm_contact(firstName="Ada")
            received = ""
            async for line in stream.aiter_lines():
                received += line.removeprefix("data: ") + "\n"
                if "</table>" in received:
                    break
        assert "event: overview" in received
        assert totals(received)[activity.EVENTS] == 1


async def test_another_locations_overview_is_not_found_and_names_are_escaped(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db)
    async with web_db.unit_of_work() as uow:
        await uow.session.execute(
            update(Location).where(Location.id == web_tenant.location_id).values(name=SCRIPT)
        )
    user = await make_person(web_db, web_tenant.location_id, role="user")
    async with browser(web_server.base_url) as http:
        await signed_in(http, user)
        ours = await http.get(f"/app/l/{web_tenant.location_id}/overview")
        assert ours.status_code == 200
        assert SCRIPT not in ours.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ours.text
        for path in (
            f"/app/l/{other.location_id}",
            f"/app/l/{other.location_id}/overview",
            f"/app/l/{other.location_id}/overview/live",
        ):
            assert (await http.get(path)).status_code == 404, path
        assert (
            await http.get(f"/app/l/{web_tenant.location_id}/overview/live?window=1y")
        ).status_code == 404


async def test_a_slot_counts_its_newest_bucket_only(web_db: Database) -> None:
    tenant = await make_tenant(web_db)
    now = datetime.now(UTC)

    async def count_at(moment: datetime) -> None:
        with patch("contactflow.platform.activity.utcnow", return_value=moment):
            async with web_db.unit_of_work() as uow:
                activity.tally(uow, tenant.location_id, "probe", 2)

    async def probe_minutes(moment: datetime) -> list[int]:
        with patch("contactflow.platform.activity.utcnow", return_value=moment):
            async with web_db.reader() as session:
                found = await activity.series(
                    session, tenant.location_id, activity.MINUTE, ["probe"], 60
                )
        return found["probe"]

    await count_at(now - timedelta(hours=1))  # the same slot, an hour ago
    await count_at(now)
    await count_at(now)
    assert (await probe_minutes(now))[-1] == 4
    await count_at(now - timedelta(hours=1))  # too late: the slot counts a newer minute
    assert sum(await probe_minutes(now)) == 4
    assert (await probe_minutes(now))[:-1] == [0] * 59
    assert sum(await probe_minutes(now + timedelta(hours=1))) == 0
