"""The records behind a sync's counts on the dashboard, over HTTP on both backends: each count
on the sync's page a link to its list, the list as long as the count (a page and the next),
a linked contact's row leading to its pair's history, names escaped; an unknown status and
another location's sync a 404."""

import html
import re

import httpx

from contactflow.contacts import service as contacts
from contactflow.contacts.models import Contact
from contactflow.contacts.schemas import ContactCreate
from contactflow.platform.db import Database
from contactflow.sync import service
from contactflow.sync.segments import Segment
from contactflow.sync.service import SyncSettings
from contactflow.web.sync_records import RECORDS_PER_PAGE
from tests.mailsuite.helpers import poll
from tests.support import LiveServer, Tenant, make_tenant
from tests.sync.helpers import paused_sync
from tests.web.helpers import browser, make_person, signed_in

SCRIPT = "<script>alert(1)</script>"


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-record="([^"]+)"', html)


async def listed(http: httpx.AsyncClient, path: str) -> list[str]:
    """The records of the list at `path`, its pages followed by their More links."""
    found: list[str] = []
    while path:
        page = await http.get(path)
        assert page.status_code == 200, path
        found += rows(page.text)
        more = re.search(r'<a href="([^"]+)">More</a>', page.text)
        path = html.unescape(more.group(1)) if more else ""
    return found


async def test_each_count_on_a_sync_page_links_to_its_records(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    location = web_tenant.location_id
    async with web_db.unit_of_work() as uow:
        made: list[Contact] = []
        # Two covered, and one more left out than a page holds.
        names = [("Ada", ["vip"]), ("Cara", ["vip"]), *[(SCRIPT, [])] * (RECORDS_PER_PAGE + 1)]
        for first, tags in names:
            body = {"firstName": first, "email": f"{len(made)}@example.com", "tags": tags}
            made.append(
                await contacts.create_contact(
                    uow, location, ContactCreate.model_validate(body), "US"
                )
            )
        vip = Segment.given(["vip"], None, None)
        sync = await service.create_sync(uow, location, SyncSettings("Vips", segment=vip))
    ada, cara, *left = (contact.id for contact in made)
    person = await make_person(web_db, location)
    here = f"/app/l/{location}/syncs/{sync.id}"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        await poll(lambda: http.get(f"{here}/progress"), lambda r: "finished" in r.text, within=60)
        page = (await http.get(here)).text
        for status, shown, count in (
            ("linked", "linked", 2),
            ("excluded", "excluded", RECORDS_PER_PAGE + 1),
            ("failing", "failing", 0),
            ("conflict", "open-conflicts", 0),
        ):
            link = f'<a href="{here}/records?status={status}" data-count="{shown}">{count}</a>'
            assert link in page, status
            assert len(await listed(http, f"{here}/records?status={status}")) == count, status

        linked = (await http.get(f"{here}/records", params={"status": "linked"})).text
        assert "<h1>Linked pairs</h1>" in linked
        assert set(rows(linked)) == {ada, cara}
        assert f'<a href="{here}/pairs/{ada}"><code>{ada}</code></a>' in linked
        assert "Ada" in linked
        excluded = (await http.get(f"{here}/records", params={"status": "excluded"})).text
        assert rows(excluded) == sorted(left)[:RECORDS_PER_PAGE]
        assert SCRIPT not in excluded
        assert f"{here}/pairs/" not in excluded
        assert sorted(await listed(http, f"{here}/records?status=excluded")) == sorted(left)
        pair = await http.get(f"{here}/pairs/{ada}")
        assert pair.status_code == 200

        assert (await http.get(f"{here}/records", params={"status": "inSync"})).status_code == 404
        other = await make_tenant(web_db)
        theirs = await paused_sync(web_db, other.location_id, "Theirs")
        elsewhere = f"/app/l/{location}/syncs/{theirs.id}/records"
        assert (await http.get(elsewhere, params={"status": "linked"})).status_code == 404
