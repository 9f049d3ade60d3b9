"""A location with its Mailsuite API and a person of it; a sandbox one ready for a
campaign (a sender, a template, a list of contacts), and what a reader does with the emails
it caught: fetch their open pixels, unsubscribe."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from contactflow.platform.db import Database
from tests.mailsuite.helpers import BROWSER, Json, Mail, poll
from tests.support import LiveServer, api_client, make_tenant
from tests.web.helpers import Person, make_person

PIXEL = re.compile(r'src="([^"]*/mailsuite/v1/track/open/[^"]+)"')
WITHIN = 120.0


@dataclass(frozen=True)
class Audience:
    sender: Json
    template: Json
    group: Json
    contacts: list[Json]


async def audience(mail: Mail, size: int, *, template_name: str = "Spring") -> Audience:
    sender = (await mail.post("/senders", {"name": "Team", "fromEmail": "team@acme.example.org"}))[
        "sender"
    ]
    template = await mail.template(
        name=template_name, subject=f"{template_name} for {{{{first_name|you}}}}"
    )
    group = (await mail.post("/lists", {"name": "Customers"}))["list"]
    contacts = [
        await mail.contact(f"reader{number}@example.com", firstName=f"Reader{number}")
        for number in range(size)
    ]
    for start in range(0, size, 100):
        chunk = [contact["id"] for contact in contacts[start : start + 100]]
        await mail.post(f"/lists/{group['id']}/members", {"contactIds": chunk}, status=200)
    return Audience(sender, template, group, contacts)


async def caught_messages(mail: Mail, count: int) -> list[Json]:
    """The details (headers, HTML) of the sandbox's messages, once `count` are caught."""

    async def every() -> list[Json]:
        rows: list[Json] = []
        cursor: str | None = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = await mail.get("/sandbox/messages", **params)
            rows += page["messages"]
            cursor = page["nextCursor"]
            if cursor is None:
                return rows

    listed = await poll(every, lambda rows: len(rows) >= count, within=WITHIN)
    return [await mail.get(f"/sandbox/messages/{row['id']}") for row in listed]


def path_of(url: str) -> str:
    parts = urlsplit(url.replace("&amp;", "&"))
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def pixel_of(message: Json) -> str:
    found = PIXEL.search(message["html"] or "")
    assert found is not None, message["html"]
    return path_of(found.group(1))


def unsubscribe_of(message: Json) -> str:
    (header,) = [item["value"] for item in message["headers"] if item["name"] == "List-Unsubscribe"]
    return path_of(header.strip("<>"))


async def open_all(base_url: str, mail: Mail, campaign_id: str, messages: list[Json]) -> Json:
    """Fetch every message's open pixel as a mail client does until the campaign counts each
    as opened by a person (fetches right after sending are taken for a prefetcher's)."""

    async def fetch() -> Json:
        # The suite's 30 s, not httpx's 5: a loaded machine answers the pixels slowly.
        async with httpx.AsyncClient(
            base_url=base_url, headers={"User-Agent": BROWSER}, timeout=30
        ) as http:
            for message in messages:
                assert (await http.get(pixel_of(message))).status_code == 200
        campaign: Json = (await mail.get(f"/campaigns/{campaign_id}"))["campaign"]
        return campaign

    return await poll(
        fetch, lambda campaign: campaign["counts"]["opened"] == len(messages), within=WITHIN
    )


@asynccontextmanager
async def mail_location(
    server: LiveServer, db: Database, *, sandbox: bool = True
) -> AsyncIterator[tuple[Mail, Person]]:
    """A new location (a sandbox one unless told), its Mailsuite API and a person of it."""
    tenant = await make_tenant(db, sandbox=sandbox)
    person = await make_person(db, tenant.location_id)
    async with api_client(server.base_url, tenant.headers, timeout=30) as http:
        yield Mail(http, tenant), person
