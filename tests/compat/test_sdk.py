"""The official HighLevel Python SDK (`gohighlevel-api-client` 3.x) against a live server.

Every operation of the SDK's Contacts service is driven through the SDK itself, pointed at
the server by its `HighLevel.BASE_URL` class attribute, and the data that comes back is
checked, not only the status. The one exception is the bulk tags operation: the SDK never
fills its `{type}` path parameter (an upstream bug), so that operation is also driven over
plain HTTP. The last test fails when the SDK grows a Contacts method this module does not
exercise.
"""

import inspect
import re
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from highlevel import HighLevel
from highlevel.error import GHLError
from highlevel.services.contacts import Contacts
from sqlalchemy import func, select

from contactflow.contacts.links import campaigns_of, workflows_of
from contactflow.contacts.models import (
    Contact,
    ContactFollower,
    ContactTag,
    ContactWorkflow,
    Note,
    Task,
)
from contactflow.demo import draft_campaign, enrolment_flow
from contactflow.platform.db import Database
from tests.conftest import TenantFactory
from tests.support import LiveServer, Tenant

Json = dict[str, Any]

# The SDK's Contacts methods this module calls; the last test keeps it equal to the SDK's.
COVERED = frozenset(
    {
        "search_contacts_advanced",
        "get_duplicate_contact",
        "get_all_tasks",
        "create_task",
        "get_task",
        "update_task",
        "delete_task",
        "update_task_completed",
        "get_appointments_for_contact",
        "add_tags",
        "remove_tags",
        "get_all_notes",
        "create_note",
        "get_note",
        "update_note",
        "delete_note",
        "create_association",
        "add_remove_contact_from_business",
        "delete_contact",
        "get_contact",
        "update_contact",
        "upsert_contact",
        "get_contacts_by_business_id",
        "add_followers_contact",
        "remove_followers_contact",
        "add_contact_to_campaign",
        "remove_contact_from_campaign",
        "remove_contact_from_every_campaign",
        "add_contact_to_workflow",
        "delete_contact_from_workflow",
        "create_contact",
    }
)


async def _sdk(server: LiveServer, key: str, monkeypatch: pytest.MonkeyPatch) -> HighLevel:
    monkeypatch.setattr(HighLevel, "BASE_URL", server.base_url)
    return HighLevel(private_integration_token=key, log_level="none")


@pytest.fixture
async def tenant(new_tenant: TenantFactory) -> Tenant:
    """A sandbox location, as the demo's are (its keys are `cf_test_` keys): the demo's
    campaign, whose sender delivers to the sandbox outbox, is made in it."""
    return await new_tenant(sandbox=True)


@pytest.fixture
async def ghl(
    server: LiveServer, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[HighLevel]:
    """The SDK client, authenticated with the tenant's key, talking to the live server."""
    sdk = await _sdk(server, tenant.key, monkeypatch)
    yield sdk
    await sdk.close()


@pytest.fixture
def contacts(ghl: HighLevel) -> Contacts:
    return ghl.contacts


def _epoch_ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def _is_wire_time(stamp: str) -> bool:
    """ISO 8601 UTC with milliseconds and Z, as the wire contract demands."""
    return re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp) is not None


def _ids_in_order(*records: Json) -> list[str]:
    """Ids in the order lists use: (dateAdded, id). Records made in the same millisecond
    are ordered by id, so creation order alone would be a flaky expectation."""
    return [record["id"] for record in sorted(records, key=lambda r: (r["dateAdded"], r["id"]))]


async def _create(contacts: Contacts, tenant: Tenant, **fields: Any) -> Json:
    body: Json = {"locationId": tenant.location_id, **fields}
    result: Json = await contacts.create_contact(body)
    contact: Json = result["contact"]
    return contact


async def _sdk_error(call: Awaitable[Any]) -> GHLError:
    """Await an SDK call that must fail; return the GHLError it raised."""
    with pytest.raises(GHLError) as caught:
        await call
    error: GHLError = caught.value
    return error


# --- contacts: create, read, update, duplicates, upsert, delete -------------------------------


async def test_contact_create_read_update_and_delete(contacts: Contacts, tenant: Tenant) -> None:
    ada = await _create(
        contacts,
        tenant,
        firstName="  Ada ",
        lastName="Lovelace",
        email=" Ada.Lovelace@Example.COM ",
        phone="(415) 555-0132",
        tags=[" VIP ", "vip", "Newsletter", "  "],
        companyName="Analytical Engines",
        source="sdk",
        address1="12 St James's Square",
        city="London",
        state="LND",
        postalCode="SW1Y 4JH",
        country="GB",
        website="https://ada.example.com",
        timezone="Europe/London",
        dateOfBirth={"year": 1990, "month": 12, "day": 10},
        customFields=[
            {"id": "cf_plan", "field_value": "gold"},
            {"key": "cf_seats", "fieldValue": "3"},
            {"id": "cf_colours", "field_value": ["red", "blue"]},
        ],
        dndSettings={"Email": {"status": "active", "message": "asked to stop", "code": "x1"}},
    )
    assert len(ada["id"]) >= 20
    assert ada["locationId"] == tenant.location_id
    assert (ada["firstName"], ada["lastName"], ada["name"]) == ("Ada", "Lovelace", "Ada Lovelace")
    assert ada["email"] == "Ada.Lovelace@example.com"
    assert ada["emailLowerCase"] == "ada.lovelace@example.com"
    assert ada["phone"] == "+14155550132"
    assert ada["tags"] == ["vip", "newsletter"]
    assert ada["companyName"] == "Analytical Engines"
    assert ada["source"] == "sdk"
    assert (ada["city"], ada["postalCode"], ada["country"]) == ("London", "SW1Y 4JH", "GB")
    assert ada["dateOfBirth"] == "1990-12-10"
    assert ada["customFields"] == [
        {"id": "cf_plan", "value": "gold"},
        {"id": "cf_seats", "value": "3"},
        {"id": "cf_colours", "value": ["red", "blue"]},
    ]
    assert ada["dndSettings"] == {
        "Email": {"status": "active", "message": "asked to stop", "code": "x1"}
    }
    assert ada["dnd"] is False
    assert ada["type"] == "lead"
    assert ada["followers"] == []
    assert ada["businessId"] is None
    assert _is_wire_time(ada["dateAdded"])
    assert _is_wire_time(ada["dateUpdated"])

    fetched: Json = await contacts.get_contact(ada["id"])
    assert fetched["contact"] == ada

    # Tags sent on update replace the whole set; untouched fields stay as they were.
    updated: Json = await contacts.update_contact(
        ada["id"],
        {
            "lastName": "King",
            "phone": "+44 20 7946 0958",
            "tags": ["Alpha", " beta ", "ALPHA"],
            "customFields": [{"id": "cf_seats", "field_value": "5"}],
            "dndSettings": {"sms": {"status": "permanent"}, "whatsApp": {"status": "inactive"}},
            "dnd": True,
        },
    )
    assert updated["succeded"] is True
    assert updated["succeeded"] is True
    changed = updated["contact"]
    assert changed["id"] == ada["id"]
    assert (changed["firstName"], changed["lastName"], changed["name"]) == (
        "Ada",
        "King",
        "Ada King",
    )
    assert changed["phone"] == "+442079460958"
    assert changed["email"] == ada["email"]
    assert changed["tags"] == ["alpha", "beta"]
    assert changed["dnd"] is True
    assert changed["customFields"] == [
        {"id": "cf_plan", "value": "gold"},
        {"id": "cf_seats", "value": "5"},
        {"id": "cf_colours", "value": ["red", "blue"]},
    ]
    assert changed["dndSettings"] == {
        "Email": {"status": "active", "message": "asked to stop", "code": "x1"},
        "SMS": {"status": "permanent"},
        "WhatsApp": {"status": "inactive"},
    }
    assert changed["dateAdded"] == ada["dateAdded"]
    assert changed["dateUpdated"] >= ada["dateUpdated"]
    assert (await contacts.get_contact(ada["id"]))["contact"] == changed

    deleted: Json = await contacts.delete_contact(ada["id"])
    assert deleted["succeded"] is True
    assert deleted["succeeded"] is True
    gone = await _sdk_error(contacts.get_contact(ada["id"]))
    assert gone.status_code == 404
    assert gone.response["statusCode"] == 404
    assert gone.response["error"] == "Not Found"
    again = await _sdk_error(contacts.delete_contact(ada["id"]))
    assert again.status_code == 404


async def test_duplicates_and_upsert(contacts: Contacts, tenant: Tenant) -> None:
    grace = await _create(
        contacts, tenant, firstName="Grace", email="Grace@Navy.mil", phone="+1 202 555 0147"
    )

    # The same email (any case) or the same phone (any format) is a duplicate: 400 + meta.
    by_email = await _sdk_error(
        _create(contacts, tenant, firstName="Imposter", email="grace@NAVY.MIL")
    )
    assert by_email.status_code == 400
    assert by_email.response["meta"]["contactId"] == grace["id"]
    assert by_email.response["meta"]["matchingField"] == "email"
    by_phone = await _sdk_error(_create(contacts, tenant, firstName="Echo", phone="(202) 555-0147"))
    assert by_phone.status_code == 400
    assert by_phone.response["meta"]["contactId"] == grace["id"]
    assert by_phone.response["meta"]["matchingField"] == "phone"

    found: Json = await contacts.get_duplicate_contact(tenant.location_id, email="GRACE@navy.mil")
    assert found["contact"]["id"] == grace["id"]
    found = await contacts.get_duplicate_contact(tenant.location_id, number="202-555-0147")
    assert found["contact"]["id"] == grace["id"]
    assert found["contact"]["phone"] == "+12025550147"
    found = await contacts.get_duplicate_contact(
        tenant.location_id, number="+12025550147", email="nobody@navy.mil"
    )
    assert found["contact"]["id"] == grace["id"]
    missing: Json = await contacts.get_duplicate_contact(
        tenant.location_id, email="nobody@navy.mil"
    )
    assert missing == {"contact": None}

    # No match: a new contact, `new` is true.
    created: Json = await contacts.upsert_contact(
        {
            "locationId": tenant.location_id,
            "firstName": "Alan",
            "email": "alan@bletchley.uk",
            "tags": ["Enigma"],
        }
    )
    assert created["new"] is True
    assert created["traceId"]
    alan = created["contact"]
    assert (alan["name"], alan["email"], alan["tags"]) == ("Alan", "alan@bletchley.uk", ["enigma"])

    # Matched by email (case-insensitive): the same contact, updated; tags replaced.
    matched: Json = await contacts.upsert_contact(
        {
            "locationId": tenant.location_id,
            "email": "ALAN@bletchley.uk",
            "lastName": "Turing",
            "phone": "+44 1908 640404",
            "tags": ["Bombe", "bombe"],
        }
    )
    assert matched["new"] is False
    assert matched["contact"]["id"] == alan["id"]
    assert matched["contact"]["name"] == "Alan Turing"
    assert matched["contact"]["phone"] == "+441908640404"
    assert matched["contact"]["tags"] == ["bombe"]
    # The email is rewritten as sent; its lower-cased form, what matching uses, is unchanged.
    assert matched["contact"]["email"] == "ALAN@bletchley.uk"
    assert matched["contact"]["emailLowerCase"] == "alan@bletchley.uk"

    # Matched by phone alone, written another way.
    by_number: Json = await contacts.upsert_contact(
        {"locationId": tenant.location_id, "phone": "+441908 640 404", "companyName": "GC&CS"}
    )
    assert by_number["new"] is False
    assert by_number["contact"]["id"] == alan["id"]
    assert by_number["contact"]["companyName"] == "GC&CS"
    assert by_number["contact"]["tags"] == ["bombe"]

    # Email matches Grace, phone belongs to Alan: email wins, Alan's phone is left alone.
    split: Json = await contacts.upsert_contact(
        {
            "locationId": tenant.location_id,
            "email": "grace@navy.mil",
            "phone": "+441908640404",
            "lastName": "Hopper",
        }
    )
    assert split["new"] is False
    assert split["contact"]["id"] == grace["id"]
    assert split["contact"]["name"] == "Grace Hopper"
    assert split["contact"]["phone"] == "+12025550147"
    alan_now: Json = await contacts.get_contact(alan["id"])
    assert alan_now["contact"]["phone"] == "+441908640404"
    assert alan_now["contact"]["lastName"] == "Turing"

    # An update may not take another contact's email either.
    taken = await _sdk_error(contacts.update_contact(alan["id"], {"email": "GRACE@navy.mil"}))
    assert taken.status_code == 400
    assert taken.response["meta"]["contactId"] == grace["id"]
    assert (await contacts.get_contact(alan["id"]))["contact"]["email"] == "ALAN@bletchley.uk"

    # Upserting into another location is refused.
    foreign = await _sdk_error(
        contacts.upsert_contact({"locationId": "someone-elses-location", "email": "x@y.io"})
    )
    assert foreign.status_code == 403
    assert foreign.response["message"] == "The token does not have access to this location"


# --- many contacts: advanced search and the keyset list ------------------------------------


async def test_search_and_list(ghl: HighLevel, contacts: Contacts, tenant: Tenant) -> None:
    people = [
        ("Cora", "cora@search.io", ["sdk-search", "gold"], "Orbital Ltd"),
        ("Abe", "abe@search.io", ["sdk-search"], "Orbital Ltd"),
        ("Bea", "bea@search.io", ["SDK-Search", "silver"], "Lunar plc"),
        ("Dan", "dan@elsewhere.io", ["other"], "Lunar plc"),
        ("Eve", "eve@elsewhere.io", [], None),
    ]
    made = {
        first: await _create(
            contacts, tenant, firstName=first, email=email, tags=tags, companyName=co
        )
        for first, email, tags, co in people
    }

    tagged = {"field": "tags", "operator": "eq", "value": "sdk-search"}
    page1: Json = await contacts.search_contacts_advanced(
        {
            "locationId": tenant.location_id,
            "pageLimit": 2,
            "page": 1,
            "filters": [tagged],
            "sort": [{"field": "firstName", "direction": "asc"}],
        }
    )
    assert page1["total"] == 3
    assert [c["firstName"] for c in page1["contacts"]] == ["Abe", "Bea"]
    assert page1["contacts"][0]["id"] == made["Abe"]["id"]
    assert page1["contacts"][1]["tags"] == ["sdk-search", "silver"]
    assert page1["contacts"][1]["searchAfter"] == ["Bea", made["Bea"]["id"]]
    page2: Json = await contacts.search_contacts_advanced(
        {
            "locationId": tenant.location_id,
            "pageLimit": 2,
            "page": 2,
            "filters": [tagged],
            "sort": [{"field": "firstName", "direction": "asc"}],
        }
    )
    assert page2["total"] == 3
    assert [c["firstName"] for c in page2["contacts"]] == ["Cora"]
    after: Json = await contacts.search_contacts_advanced(
        {
            "locationId": tenant.location_id,
            "pageLimit": 10,
            "searchAfter": page1["contacts"][-1]["searchAfter"],
            "filters": [tagged],
            "sort": [{"field": "firstName", "direction": "asc"}],
        }
    )
    assert [c["firstName"] for c in after["contacts"]] == ["Cora"]

    grouped: Json = await contacts.search_contacts_advanced(
        {
            "locationId": tenant.location_id,
            "filters": [
                {
                    "group": "OR",
                    "filters": [
                        {"field": "companyName", "operator": "eq", "value": "lunar PLC"},
                        {"field": "email", "operator": "contains", "value": "EVE@"},
                    ],
                }
            ],
            "sort": [{"field": "firstName", "direction": "desc"}],
        }
    )
    assert grouped["total"] == 3
    assert [c["firstName"] for c in grouped["contacts"]] == ["Eve", "Dan", "Bea"]

    text: Json = await contacts.search_contacts_advanced(
        {"locationId": tenant.location_id, "query": "orbital"}
    )
    assert {c["id"] for c in text["contacts"]} == {made["Cora"]["id"], made["Abe"]["id"]}
    assert text["total"] == 2

    # The default order is (dateAdded, id); its searchAfter cursor walks it without overlap.
    walked: list[str] = []
    cursor: list[Any] | None = None
    while True:
        request: Json = {"locationId": tenant.location_id, "pageLimit": 2}
        if cursor is not None:
            request["searchAfter"] = cursor
        chunk: Json = await contacts.search_contacts_advanced(request)
        assert chunk["total"] == len(people)
        if not chunk["contacts"]:
            break
        walked.extend(c["id"] for c in chunk["contacts"])
        cursor = chunk["contacts"][-1]["searchAfter"]
        assert cursor == [_epoch_ms(chunk["contacts"][-1]["dateAdded"]), walked[-1]]
    assert walked == _ids_in_order(*made.values())

    bad = await _sdk_error(
        contacts.search_contacts_advanced(
            {"locationId": tenant.location_id, "filters": [{"field": "shoeSize", "operator": "eq"}]}
        )
    )
    assert bad.status_code == 422
    assert any("shoeSize" in line for line in bad.response["message"])

    # GET /contacts/ (not in the SDK's Contacts service) through the SDK's own HTTP client.
    seen: list[Json] = []
    pages: list[Json] = []
    response: httpx.Response = await ghl.http_client.get(
        "/contacts/", params={"locationId": tenant.location_id, "limit": 2}
    )
    while True:
        assert response.status_code == 200
        listed: Json = response.json()
        pages.append(listed["meta"])
        seen.extend(listed["contacts"])
        last = listed["contacts"][-1]
        assert listed["meta"]["total"] == len(people)
        assert listed["meta"]["startAfterId"] == last["id"]
        assert listed["meta"]["startAfter"] == _epoch_ms(last["dateAdded"])
        if listed["meta"]["nextPageUrl"] is None:
            break
        response = await ghl.http_client.get(listed["meta"]["nextPageUrl"])
    assert [meta["currentPage"] for meta in pages] == [1, 2, 3]
    assert [meta["nextPage"] for meta in pages] == [2, 3, None]
    assert [meta["prevPage"] for meta in pages] == [None, 1, 2]
    assert len(seen) == len(people)
    assert {c["id"] for c in seen} == {c["id"] for c in made.values()}
    keys = [(c["dateAdded"], c["id"]) for c in seen]
    assert keys == sorted(keys)

    queried: httpx.Response = await ghl.http_client.get(
        "/contacts/", params={"query": "LUNAR", "limit": 100}
    )
    body: Json = queried.json()
    assert {c["firstName"] for c in body["contacts"]} == {"Bea", "Dan"}
    assert body["meta"]["total"] == 2
    assert body["meta"]["nextPageUrl"] is None
    by_tag: Json = (await ghl.http_client.get("/contacts/", params={"query": "silver"})).json()
    assert [c["id"] for c in by_tag["contacts"]] == [made["Bea"]["id"]]


# --- tasks, notes, and what deleting a contact takes with it ---------------------------------


async def test_tasks_and_notes(contacts: Contacts, tenant: Tenant, db: Database) -> None:
    owner, helper = tenant.user_ids
    contact = await _create(contacts, tenant, firstName="Tess", email="tess@tasks.io")
    cid = contact["id"]

    created: Json = await contacts.create_task(
        cid,
        {
            "title": "Call back",
            "body": "about the invoice",
            "dueDate": "2030-01-02T15:04:05Z",
            "completed": False,
            "assignedTo": owner,
        },
    )
    task = created["task"]
    assert len(task["id"]) >= 20
    assert task["contactId"] == cid
    assert (task["title"], task["body"], task["assignedTo"]) == (
        "Call back",
        "about the invoice",
        owner,
    )
    assert task["dueDate"] == "2030-01-02T15:04:05.000Z"
    assert task["completed"] is False
    second: Json = await contacts.create_task(
        cid, {"title": "Send contract", "dueDate": "2030-02-01T09:00:00+02:00", "completed": True}
    )
    assert second["task"]["dueDate"] == "2030-02-01T07:00:00.000Z"
    assert second["task"]["body"] is None

    listed: Json = await contacts.get_all_tasks(cid)
    assert [t["id"] for t in listed["tasks"]] == _ids_in_order(task, second["task"])
    assert next(t for t in listed["tasks"] if t["id"] == task["id"]) == task
    fetched: Json = await contacts.get_task(cid, task["id"])
    assert fetched["task"] == task

    updated: Json = await contacts.update_task(
        cid, task["id"], {"title": "Call back today", "assignedTo": helper}
    )
    assert updated["task"]["title"] == "Call back today"
    assert updated["task"]["assignedTo"] == helper
    assert updated["task"]["body"] == "about the invoice"
    assert updated["task"]["dueDate"] == task["dueDate"]
    done: Json = await contacts.update_task_completed(cid, task["id"], {"completed": True})
    assert done["task"]["completed"] is True
    assert done["task"]["title"] == "Call back today"
    assert (await contacts.get_task(cid, task["id"]))["task"]["completed"] is True
    unknown_user = await _sdk_error(contacts.update_task(cid, task["id"], {"assignedTo": "ghost"}))
    assert unknown_user.status_code == 422

    removed: Json = await contacts.delete_task(cid, task["id"])
    assert removed["succeded"] is True
    remaining: Json = await contacts.get_all_tasks(cid)
    assert [t["id"] for t in remaining["tasks"]] == [second["task"]["id"]]
    assert (await _sdk_error(contacts.get_task(cid, task["id"]))).status_code == 404

    note_made: Json = await contacts.create_note(
        cid,
        {
            "body": "Prefers email",
            "userId": owner,
            "title": "Channel",
            "color": "#ffcc00",
            "pinned": True,
        },
    )
    note = note_made["note"]
    assert note["contactId"] == cid
    assert (note["body"], note["userId"], note["title"]) == ("Prefers email", owner, "Channel")
    assert (note["color"], note["pinned"]) == ("#ffcc00", True)
    assert _is_wire_time(note["dateAdded"])
    plain: Json = await contacts.create_note(cid, {"body": "Met at the fair"})
    assert plain["note"]["pinned"] is False
    assert plain["note"]["userId"] is None

    notes: Json = await contacts.get_all_notes(cid)
    assert [n["id"] for n in notes["notes"]] == _ids_in_order(note, plain["note"])
    assert (await contacts.get_note(cid, note["id"]))["note"] == note
    edited: Json = await contacts.update_note(
        cid, note["id"], {"body": "Prefers SMS", "pinned": False, "userId": helper}
    )
    assert edited["note"]["body"] == "Prefers SMS"
    assert edited["note"]["pinned"] is False
    assert edited["note"]["userId"] == helper
    assert edited["note"]["title"] == "Channel"
    assert (await contacts.get_note(cid, note["id"]))["note"]["body"] == "Prefers SMS"
    empty_body = await _sdk_error(contacts.create_note(cid, {"body": ""}))
    assert empty_body.status_code == 422

    dropped: Json = await contacts.delete_note(cid, note["id"])
    assert dropped["succeded"] is True
    left: Json = await contacts.get_all_notes(cid)
    assert [n["id"] for n in left["notes"]] == [plain["note"]["id"]]
    assert (await _sdk_error(contacts.get_note(cid, note["id"]))).status_code == 404

    # A task or note is addressed through its own contact only.
    other = await _create(contacts, tenant, firstName="Otto")
    crossed = await _sdk_error(contacts.get_task(other["id"], second["task"]["id"]))
    assert crossed.status_code == 404
    assert (await _sdk_error(contacts.get_all_tasks("no-such-contact"))).status_code == 404

    # Deleting the contact deletes its tasks, notes, tags and followers.
    await contacts.add_tags(cid, {"tags": ["doomed"]})
    await contacts.add_followers_contact(cid, {"followers": [owner]})
    await contacts.delete_contact(cid)
    assert (await _sdk_error(contacts.get_all_tasks(cid))).status_code == 404
    assert (await _sdk_error(contacts.get_all_notes(cid))).status_code == 404
    async with db.reader() as session:
        for table in (Task, Note, ContactTag, ContactFollower):
            count = await session.scalar(
                select(func.count()).select_from(table).where(table.contact_id == cid)
            )
            assert count == 0, table.__tablename__
        assert await session.get(Contact, other["id"]) is not None


# --- tags, followers, campaigns, workflows ----------------------------------------------------


async def test_tags_followers_campaigns_and_workflows(
    contacts: Contacts, client: httpx.AsyncClient, tenant: Tenant, db: Database
) -> None:
    owner, helper = tenant.user_ids
    first = await _create(contacts, tenant, firstName="Finn", tags=["base"])
    second = await _create(contacts, tenant, firstName="Gus")
    cid = first["id"]

    added: Json = await contacts.add_tags(cid, {"tags": [" Hot ", "hot", "Lead", "BASE"]})
    assert added["tags"] == ["base", "hot", "lead"]
    removed: Json = await contacts.remove_tags(cid, {"tags": ["HOT", "never-there"]})
    assert removed["tags"] == ["base", "lead"]
    assert (await contacts.get_contact(cid))["contact"]["tags"] == ["base", "lead"]

    # Bulk tags over HTTP: the SDK cannot reach this operation (see the module docstring).
    bulk_add = await client.post(
        "/contacts/bulk/tags/update/add",
        json={
            "contacts": [cid, second["id"], "no-such-contact"],
            "tags": ["Bulk", "lead"],
            "locationId": tenant.location_id,
        },
    )
    assert bulk_add.status_code == 201, bulk_add.text
    outcome: Json = bulk_add.json()
    assert outcome["succeded"] is False
    assert outcome["errorCount"] == 1
    assert len(outcome["responses"]) == 3
    assert any("no-such-contact" in line for line in outcome["responses"])
    assert (await contacts.get_contact(cid))["contact"]["tags"] == ["base", "lead", "bulk"]
    assert (await contacts.get_contact(second["id"]))["contact"]["tags"] == ["bulk", "lead"]
    bulk_remove = await client.post(
        "/contacts/bulk/tags/update/remove",
        json={"contacts": [cid, second["id"]], "tags": ["BULK"], "locationId": tenant.location_id},
    )
    assert bulk_remove.status_code == 201, bulk_remove.text
    assert bulk_remove.json()["succeded"] is True
    assert bulk_remove.json()["errorCount"] == 0
    assert (await contacts.get_contact(cid))["contact"]["tags"] == ["base", "lead"]
    assert (await contacts.get_contact(second["id"]))["contact"]["tags"] == ["lead"]
    wipe = await client.post(
        "/contacts/bulk/tags/update/remove",
        json={
            "contacts": [second["id"]],
            "tags": [],
            "removeAllTags": True,
            "locationId": tenant.location_id,
        },
    )
    assert wipe.status_code == 201, wipe.text
    assert (await contacts.get_contact(second["id"]))["contact"]["tags"] == []

    # The SDK's own call posts to the literal ".../update/{type}": a client error, not a 5xx,
    # and nothing changes.
    unfilled = await _sdk_error(
        contacts.create_association(
            {"contacts": [cid], "tags": ["sdk-bulk"], "locationId": tenant.location_id}
        )
    )
    assert unfilled.status_code is not None
    assert 400 <= unfilled.status_code < 500
    assert "%7Btype%7D" in unfilled.request["url"]
    assert (await contacts.get_contact(cid))["contact"]["tags"] == ["base", "lead"]

    followed: Json = await contacts.add_followers_contact(
        cid, {"followers": [owner, helper, owner]}
    )
    assert followed["followers"] == [owner, helper]
    assert followed["followersAdded"] == [owner, helper]
    again: Json = await contacts.add_followers_contact(cid, {"followers": [helper]})
    assert again["followers"] == [owner, helper]
    assert again["followersAdded"] == []
    stranger = await _sdk_error(contacts.add_followers_contact(cid, {"followers": ["ghost"]}))
    assert stranger.status_code == 422
    unfollowed: Json = await contacts.remove_followers_contact(
        cid, {"followers": [owner, "never-followed"]}
    )
    assert unfollowed["followers"] == [helper]
    assert unfollowed["followersRemoved"] == [owner]
    assert (await contacts.get_contact(cid))["contact"]["followers"] == [helper]

    async with db.unit_of_work() as uow:
        spring = await draft_campaign(uow, tenant.location_id, "Spring")
        summer = await draft_campaign(uow, tenant.location_id, "Summer")
    joined: Json = await contacts.add_contact_to_campaign(cid, spring, {})
    assert joined["succeded"] is True
    await contacts.add_contact_to_campaign(cid, summer, {})
    await contacts.add_contact_to_campaign(cid, summer, {})
    async with db.reader() as session:
        assert sorted(await campaigns_of(session, cid)) == sorted([spring, summer])
    left: Json = await contacts.remove_contact_from_campaign(cid, spring)
    assert left["succeded"] is True
    async with db.reader() as session:
        assert await campaigns_of(session, cid) == [summer]
    await contacts.add_contact_to_campaign(second["id"], summer, {})
    cleared: Json = await contacts.remove_contact_from_every_campaign(cid)
    assert cleared["succeded"] is True
    async with db.reader() as session:
        assert await campaigns_of(session, cid) == []
        assert await campaigns_of(session, second["id"]) == [summer]
    nobody = await _sdk_error(contacts.add_contact_to_campaign("no-such-contact", spring, {}))
    assert nobody.status_code == 404
    unknown = await _sdk_error(contacts.add_contact_to_campaign(cid, "no-such-campaign", {}))
    assert (unknown.status_code, unknown.response["message"]) == (404, "Campaign not found")
    async with db.reader() as session:
        assert await campaigns_of(session, cid) == []

    async with db.unit_of_work() as uow:
        onboarding = await enrolment_flow(uow, tenant.location_id, "Onboarding")
        nurture = await enrolment_flow(uow, tenant.location_id, "Nurture")
    enrolled: Json = await contacts.add_contact_to_workflow(
        cid, onboarding, {"eventStartTime": "2030-03-04T05:06:07Z"}
    )
    assert enrolled["succeded"] is True
    await contacts.add_contact_to_workflow(cid, nurture, {})
    async with db.reader() as session:
        assert sorted(await workflows_of(session, cid)) == sorted([onboarding, nurture])
        enrolment = await session.get(ContactWorkflow, (cid, onboarding))
        assert enrolment is not None
        assert enrolment.event_start_time == datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC)
    out: Json = await contacts.delete_contact_from_workflow(cid, onboarding, {})
    assert out["succeded"] is True
    async with db.reader() as session:
        assert await workflows_of(session, cid) == [nurture]
    stranger = await _sdk_error(contacts.add_contact_to_workflow(cid, "no-such-flow", {}))
    assert (stranger.status_code, stranger.response["message"]) == (404, "Flow not found")
    async with db.reader() as session:
        assert await workflows_of(session, cid) == [nurture]
    lost = await _sdk_error(contacts.add_contact_to_workflow("no-such-contact", nurture, {}))
    assert lost.status_code == 404


# --- businesses and appointments --------------------------------------------------------------


async def test_businesses_and_appointments(
    ghl: HighLevel, contacts: Contacts, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await client.post(
        "/businesses/", json={"name": "Acme Rockets", "locationId": tenant.location_id}
    )
    assert made.status_code == 201, made.text
    business_id = made.json()["business"]["id"]
    rita = await _create(contacts, tenant, firstName="Rita", email="rita@acme.io")
    sam = await _create(contacts, tenant, firstName="Sam", email="sam@acme.io")
    loner = await _create(contacts, tenant, firstName="Lone")

    linked: Json = await contacts.add_remove_contact_from_business(
        {
            "locationId": tenant.location_id,
            "ids": [rita["id"], sam["id"]],
            "businessId": business_id,
        }
    )
    assert linked["success"] is True
    assert sorted(linked["ids"]) == sorted([rita["id"], sam["id"]])
    assert (await contacts.get_contact(rita["id"]))["contact"]["businessId"] == business_id
    assert (await contacts.get_contact(loner["id"]))["contact"]["businessId"] is None

    members: Json = await contacts.get_contacts_by_business_id(business_id, tenant.location_id)
    assert members["count"] == 2
    in_order = _ids_in_order(rita, sam)
    assert [c["id"] for c in members["contacts"]] == in_order
    assert all(c["businessId"] == business_id for c in members["contacts"])
    page: Json = await contacts.get_contacts_by_business_id(
        business_id, tenant.location_id, limit="1", skip="1"
    )
    assert page["count"] == 2
    assert [c["id"] for c in page["contacts"]] == in_order[1:]
    # The SDK's startAfter is a list: the last contact read's dateAdded and id.
    first = next(c for c in members["contacts"] if c["id"] == in_order[0])
    cursor = [str(_epoch_ms(first["dateAdded"])), first["id"]]
    past_first: Json = await contacts.get_contacts_by_business_id(
        business_id, tenant.location_id, start_after=cursor
    )
    assert [c["id"] for c in past_first["contacts"]] == in_order[1:]
    other = await client.post("/businesses/", json={"name": "Zeta Labs"})
    assert other.status_code == 201, other.text
    businesses = ghl.businesses
    one: Json = await businesses.get_businesses_by_location(tenant.location_id, limit="1")
    rest: Json = await businesses.get_businesses_by_location(tenant.location_id, skip="1")
    assert [b["name"] for b in one["businesses"]] == ["Acme Rockets"]
    assert [b["name"] for b in rest["businesses"]] == ["Zeta Labs"]
    searched: Json = await contacts.get_contacts_by_business_id(
        business_id, tenant.location_id, query="RITA"
    )
    assert (searched["count"], [c["id"] for c in searched["contacts"]]) == (1, [rita["id"]])
    unknown = await _sdk_error(
        contacts.get_contacts_by_business_id("no-such-business", tenant.location_id)
    )
    assert unknown.status_code == 404

    unlinked: Json = await contacts.add_remove_contact_from_business(
        {"locationId": tenant.location_id, "ids": [rita["id"]], "businessId": None}
    )
    assert unlinked == {"success": True, "ids": [rita["id"]]}
    assert (await contacts.get_contact(rita["id"]))["contact"]["businessId"] is None
    after: Json = await contacts.get_contacts_by_business_id(business_id, tenant.location_id)
    assert [c["id"] for c in after["contacts"]] == [sam["id"]]

    assert (await contacts.get_appointments_for_contact(rita["id"])) == {"events": []}
    booked = []
    for start, title in (("2030-05-02T10:00:00Z", "Second"), ("2030-05-01T09:30:00Z", "First")):
        response = await client.post(
            "/calendars/events/appointments",
            json={
                "calendarId": tenant.calendar_id,
                "contactId": rita["id"],
                "startTime": start,
                "title": title,
            },
        )
        assert response.status_code == 201, response.text
        booked.append(response.json()["id"])
    await client.post(
        "/calendars/events/appointments",
        json={
            "calendarId": tenant.calendar_id,
            "contactId": sam["id"],
            "startTime": "2030-05-01T08:00:00Z",
            "title": "Sam's",
        },
    )
    events: Json = await contacts.get_appointments_for_contact(rita["id"])
    assert [e["id"] for e in events["events"]] == [booked[1], booked[0]]
    first = events["events"][0]
    assert first["title"] == "First"
    assert first["calendarId"] == tenant.calendar_id
    assert first["contactId"] == rita["id"]
    assert first["locationId"] == tenant.location_id
    assert first["startTime"] == "2030-05-01T09:30:00.000Z"
    assert first["endTime"] == "2030-05-01T10:00:00.000Z"
    assert first["appointmentStatus"] == "new"
    missing = await _sdk_error(contacts.get_appointments_for_contact("no-such-contact"))
    assert missing.status_code == 404


# --- tenancy and credentials -----------------------------------------------------------------


async def test_tenancy_and_credentials(
    contacts: Contacts,
    tenant: Tenant,
    new_tenant: TenantFactory,
    server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = await _create(contacts, tenant, firstName="Mine", email="mine@tenant.io")
    other_tenant = await new_tenant()
    other = await _sdk(server, other_tenant.key, monkeypatch)
    try:
        hidden = await _sdk_error(other.contacts.get_contact(mine["id"]))
        assert hidden.status_code == 404
        assert (await _sdk_error(other.contacts.delete_contact(mine["id"]))).status_code == 404
        foreign = await _sdk_error(
            other.contacts.get_duplicate_contact(tenant.location_id, email="mine@tenant.io")
        )
        assert foreign.status_code == 403
        nothing: Json = await other.contacts.get_duplicate_contact(
            other_tenant.location_id, email="mine@tenant.io"
        )
        assert nothing == {"contact": None}
        # The same email is free in another location.
        theirs = await _create(other.contacts, other_tenant, email="mine@tenant.io")
        assert theirs["id"] != mine["id"]
    finally:
        await other.close()

    stranger = await _sdk(server, "cf_live_not-a-real-key", monkeypatch)
    try:
        refused = await _sdk_error(stranger.contacts.get_contact(mine["id"]))
        assert refused.status_code == 401
        assert refused.response["error"] == "Unauthorized"
    finally:
        await stranger.close()
    assert (await contacts.get_contact(mine["id"]))["contact"]["email"] == "mine@tenant.io"


# --- coverage of the SDK ----------------------------------------------------------------------


def test_every_sdk_contacts_method_is_covered() -> None:
    public = {
        name
        for name, member in inspect.getmembers(Contacts, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert public == COVERED
    assert len(public) == 31
    source = Path(__file__).read_text()
    uncalled = sorted(name for name in COVERED if f"contacts.{name}(" not in source)
    assert uncalled == []
