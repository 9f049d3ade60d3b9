"""GET /contacts/ keyset pages, property-based: walking the pages returns every contact
exactly once with the right `total`, also while other contacts are inserted mid-walk.

Contacts are seeded straight into the database with timestamps drawn from a few
milliseconds, so many share a dateAdded and the (dateAdded, id) tie-break is exercised;
the walk itself is plain HTTP. Every example uses a fresh location."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactflow.contacts.models import Contact
from contactflow.platform.db import Database
from tests.conftest import TenantFactory
from tests.contacts.helpers import Json, client_for, json_of
from tests.support import LiveServer

BASE = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
BASE_MS = int(BASE.timestamp() * 1000)
# Few distinct instants: ties on dateAdded are the rule, not the exception.
offsets = st.integers(min_value=0, max_value=4)
page_sizes = st.one_of(
    st.integers(min_value=1, max_value=7), st.integers(min_value=1, max_value=100)
)
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _seed(db: Database, location_id: str, stamps: list[int], label: str) -> list[str]:
    async with db.unit_of_work() as uow:
        rows = []
        for number, offset in enumerate(stamps):
            at = BASE + timedelta(milliseconds=offset)
            name = f"{label}{number}"
            rows.append(
                Contact(
                    location_id=location_id,
                    first_name=name,
                    name=name,
                    search_text=name,
                    date_added=at,
                    date_updated=at,
                    custom_fields=[],
                    dnd_settings={},
                    tag_links=[],
                    follower_links=[],
                )
            )
        uow.session.add_all(rows)
        await uow.session.flush()
        return [row.id for row in rows]


def _epoch_ms(stamp: str) -> int:
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (parsed - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


async def _page(http: httpx.AsyncClient, url: str, params: dict[str, Any] | None = None) -> Json:
    response = await http.get(url, params=params)
    assert response.status_code == 200, response.text
    return json_of(response)


@SETTINGS
@given(
    stamps=st.lists(offsets, max_size=40),
    created=st.integers(0, 3),
    limit=page_sizes,
    by_url=st.booleans(),
)
async def test_walk_returns_every_contact_once(
    server: LiveServer,
    new_tenant: TenantFactory,
    db: Database,
    stamps: list[int],
    created: int,
    limit: int,
    by_url: bool,
) -> None:
    tenant = await new_tenant()
    expected = await _seed(db, tenant.location_id, stamps, "seeded")
    async with client_for(server, tenant) as http:
        for number in range(created):
            response = await http.post("/contacts/", json={"firstName": f"made{number}"})
            assert response.status_code == 201
            expected.append(response.json()["contact"]["id"])
        total = len(expected)

        pages: list[Json] = [await _page(http, "/contacts/", {"limit": limit})]
        while pages[-1]["meta"]["nextPageUrl"] is not None:
            assert len(pages) <= total, "the walk does not end"
            meta = pages[-1]["meta"]
            if by_url:
                pages.append(await _page(http, meta["nextPageUrl"]))
            else:
                cursor = {"startAfter": meta["startAfter"], "startAfterId": meta["startAfterId"]}
                pages.append(await _page(http, "/contacts/", {"limit": limit, **cursor}))

    seen = [contact["id"] for page in pages for contact in page["contacts"]]
    assert sorted(seen) == sorted(expected)
    assert len(pages) == max(1, -(-total // limit))
    stamps_seen = [contact["dateAdded"] for page in pages for contact in page["contacts"]]
    assert stamps_seen == sorted(stamps_seen)
    for number, page in enumerate(pages, start=1):
        meta, contacts = page["meta"], page["contacts"]
        last_page = number == len(pages)
        assert meta["total"] == total
        assert len(contacts) == (total - limit * (number - 1) if last_page else limit)
        assert meta["currentPage"] == number
        assert meta["prevPage"] == (number - 1 if number > 1 else None)
        assert meta["nextPage"] == (None if last_page else number + 1)
        assert (meta["nextPageUrl"] is None) == last_page
        if contacts:
            assert meta["startAfterId"] == contacts[-1]["id"]
            assert meta["startAfter"] == _epoch_ms(contacts[-1]["dateAdded"])
        else:
            assert (meta["startAfterId"], meta["startAfter"]) == (None, None)


@SETTINGS
@given(
    stamps=st.lists(offsets, min_size=1, max_size=30),
    limit=page_sizes,
    inserts=st.lists(st.lists(offsets, max_size=4), min_size=1, max_size=6),
    post_between=st.booleans(),
)
async def test_walk_is_stable_under_concurrent_inserts(
    server: LiveServer,
    new_tenant: TenantFactory,
    db: Database,
    stamps: list[int],
    limit: int,
    inserts: list[list[int]],
    post_between: bool,
) -> None:
    tenant = await new_tenant()
    before = set(await _seed(db, tenant.location_id, stamps, "old"))
    added: set[str] = set()
    seen: list[str] = []
    async with client_for(server, tenant) as http:
        url: str | None = f"/contacts/?limit={limit}"
        gap = 0
        while url is not None:
            assert gap <= len(before) + 5 * len(inserts), "the walk does not end"
            page = await _page(http, url)
            seen += [contact["id"] for contact in page["contacts"]]
            url = page["meta"]["nextPageUrl"]
            # Between the first fetches, other writers add contacts: some land before the
            # cursor (same or earlier instant), some after it. They stop after a while, or
            # a walk of small pages would never catch up with them.
            if gap >= len(inserts):
                gap += 1
                continue
            batch = inserts[gap]
            added |= set(await _seed(db, tenant.location_id, batch, f"new{gap}-"))
            if post_between:
                response = await http.post("/contacts/", json={"firstName": f"posted{gap}"})
                assert response.status_code == 201
                added.add(response.json()["contact"]["id"])
            gap += 1

    assert len(seen) == len(set(seen)), "a contact was returned twice"
    assert before <= set(seen), "a contact that existed before the walk was skipped"
    assert set(seen) <= before | added


async def test_start_after_id_alone_continues_after_that_contact(
    client: httpx.AsyncClient,
) -> None:
    for number in range(3):
        created = await client.post("/contacts/", json={"email": f"alone{number}@x.io"})
        assert created.status_code == 201
    first = (await client.get("/contacts/", params={"limit": 1})).json()["contacts"][0]["id"]
    following = await client.get("/contacts/", params={"limit": 5, "startAfterId": first})
    assert following.status_code == 200
    assert first not in [contact["id"] for contact in following.json()["contacts"]]
    unknown = await client.get("/contacts/", params={"startAfterId": "nope"})
    assert unknown.status_code == 422
    assert "startAfterId" in unknown.json()["message"][0]
