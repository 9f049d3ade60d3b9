"""GET /events: the location's log in sequence order, paged by `after`/`limit`, filtered by
`types`; gap-free per location, never another location's events; a change that rolls back
(a refused duplicate, an oversized event) leaves no event and no gap."""

import httpx
import pytest

from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant
from tests.webhooks.helpers import (
    Json,
    TenantFactory,
    assert_error,
    create_contact,
    json_of,
    log_events,
    update_contact,
)

KIB = 1024


async def page(client: httpx.AsyncClient, **params: str | int) -> Json:
    response = await client.get("/events", params=params)
    assert response.status_code == 200, response.text
    return json_of(response)


def assert_gap_free(events: list[Json]) -> None:
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))


async def test_the_log_pages_by_after_and_limit_and_filters_by_type(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert await page(client) == {"events": [], "nextAfter": 0}
    contacts = [await create_contact(client, firstName=f"P{n}") for n in range(3)]
    await update_contact(client, contacts[1]["id"], tags=["vip"])

    everything = await log_events(client)
    assert [event["type"] for event in everything] == [
        "ContactCreate",
        "ContactCreate",
        "ContactCreate",
        "ContactUpdate",
        "ContactTagUpdate",
    ]
    assert_gap_free(everything)
    subjects = [c["id"] for c in contacts] + [contacts[1]["id"]] * 2
    assert [event["subjectId"] for event in everything] == subjects
    for event in everything:
        assert event["locationId"] == tenant.location_id
        assert event["payload"]["type"] == event["type"]
        assert event["payload"]["locationId"] == tenant.location_id
        assert event["createdAt"].endswith("Z")
    assert len({event["id"] for event in everything}) == 5

    pages = []
    after = 0
    while True:
        current = await page(client, after=after, limit=2)
        pages.append([event["seq"] for event in current["events"]])
        if not current["events"]:
            assert current["nextAfter"] == after
            break
        after = current["nextAfter"]
        assert after == current["events"][-1]["seq"]
    assert pages == [[1, 2], [3, 4], [5], []]
    assert (await page(client, after=3))["events"] == everything[3:]

    creates = await page(client, types="ContactCreate")
    assert [event["seq"] for event in creates["events"]] == [1, 2, 3]
    assert creates["nextAfter"] == 3
    mixed = await page(client, types="ContactTagUpdate, ContactCreate", after=1, limit=10)
    assert [event["seq"] for event in mixed["events"]] == [2, 3, 5]
    assert (await page(client, types="NoteCreate")) == {"events": [], "nextAfter": 0}


async def test_another_locations_events_are_never_visible(
    client: httpx.AsyncClient, server: LiveServer, new_tenant: TenantFactory
) -> None:
    other = await new_tenant()
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=other.headers
    ) as theirs:
        await create_contact(client, firstName="Mine")
        await create_contact(theirs, firstName="Theirs")
        await create_contact(client, firstName="Mine2")
        await create_contact(theirs, firstName="Theirs2")
        await create_contact(theirs, firstName="Theirs3")
        mine, their_log = await log_events(client), await log_events(theirs)
        assert_gap_free(mine)
        assert_gap_free(their_log)
        assert [e["payload"]["firstName"] for e in mine] == ["Mine", "Mine2"]
        assert [e["payload"]["firstName"] for e in their_log] == ["Theirs", "Theirs2", "Theirs3"]
        assert not {e["id"] for e in mine} & {e["id"] for e in their_log}
        assert {e["locationId"] for e in their_log} == {other.location_id}
        stream = await theirs.get("/events", params={"after": 0, "types": "ContactCreate"})
        assert len(json_of(stream)["events"]) == 3


async def test_a_rolled_back_change_leaves_no_event_and_no_gap(client: httpx.AsyncClient) -> None:
    ann = {"firstName": "Ann", "email": "ann@example.com"}
    first = await create_contact(client, **ann)
    duplicate = await client.post("/contacts/", json=ann)
    assert duplicate.status_code == 400, duplicate.text
    clash = await create_contact(client, firstName="Bob", email="bob@example.com")
    refused = await client.put(f"/contacts/{clash['id']}", json={"email": "ann@example.com"})
    assert refused.status_code == 400, refused.text
    await update_contact(client, first["id"], lastName="Lee")
    logged = await log_events(client)
    assert [event["type"] for event in logged] == [
        "ContactCreate",
        "ContactCreate",
        "ContactUpdate",
    ]
    assert_gap_free(logged)
    assert logged[2]["subjectId"] == first["id"]


async def test_an_event_over_256_kib_is_refused_with_413_and_nothing_is_written(
    client: httpx.AsyncClient,
) -> None:
    contact = await create_contact(client, firstName="Big")
    # 140 KiB of custom field: the request is far under the 1 MiB body limit, but the
    # ContactUpdate event carries the value twice (the contact and `changes`).
    value = "x" * (140 * KIB)
    grown = await client.put(
        f"/contacts/{contact['id']}", json={"customFields": [{"id": "notes", "value": value}]}
    )
    message = assert_error(grown, 413, "256 KiB")
    assert "ContactUpdate" in message
    stored = json_of(await client.get(f"/contacts/{contact['id']}"))["contact"]
    assert stored["customFields"] == []
    assert stored["dateUpdated"] == contact["dateUpdated"]

    created = await client.post(
        "/contacts/",
        json={"firstName": "Huge", "customFields": [{"id": "notes", "value": "y" * (300 * KIB)}]},
    )
    assert "ContactCreate" in assert_error(created, 413, "256 KiB")
    listed = json_of(await client.get("/contacts/", params={"limit": 10}))
    assert [c["id"] for c in listed["contacts"]] == [contact["id"]]

    logged = await log_events(client)
    assert [event["type"] for event in logged] == ["ContactCreate"]
    # Under the limit it is written, and the sequence continues without a gap.
    await update_contact(client, contact["id"], customFields=[{"id": "notes", "value": "ok"}])
    logged = await log_events(client)
    assert_gap_free(logged)
    assert logged[-1]["payload"]["customFields"] == [{"id": "notes", "value": "ok"}]


async def test_a_body_over_1_mib_is_refused_before_anything_runs(
    client: httpx.AsyncClient,
) -> None:
    body = {"firstName": "Huge", "customFields": [{"id": "notes", "value": "z" * (1100 * KIB)}]}
    assert_error(await client.post("/contacts/", json=body), 413, "body")
    assert (await page(client))["events"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"types": "ContactCreated"}, "types"),
        ({"types": "ContactCreate,Nope"}, "types"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "first"}, "after"),
    ],
)
async def test_bad_queries_are_refused_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str | int], field: str
) -> None:
    line = assert_error(await client.get("/events", params=params), 422, field)
    if field == "types":
        assert "unknown event types" in line
        assert "'ContactCreate'" not in line
