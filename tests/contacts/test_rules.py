"""Rules clients rely on: duplicates, upsert matching, tags, derived fields, custom fields,
what deleting a contact takes with it, and the `query` text search."""

import asyncio

import httpx
import pytest

from tests.conftest import TenantFactory
from tests.contacts.helpers import (
    Json,
    assert_error,
    client_for,
    count_contacts,
    create_contact,
    get_contact,
    json_of,
)
from tests.support import LiveServer, Tenant

# --- duplicates ---------------------------------------------------------------------------


async def test_duplicate_email_or_phone_is_refused_with_the_existing_id(
    client: httpx.AsyncClient,
) -> None:
    first = await create_contact(client, email="Ann@Example.com", phone="+1 415 555 0101")
    second = await create_contact(client, email="bob@example.com")
    for body in (
        {"email": "ANN@example.COM"},
        {"email": "  ann@example.com "},
        {"phone": "(415) 555-0101"},
        {"phone": "+14155550101", "email": "fresh@example.com"},
    ):
        refused = assert_error(await client.post("/contacts/", json=body), 400)
        assert refused["meta"]["contactId"] == first["id"], body
    # An update may not take another contact's email or phone either.
    taken = await client.put(f"/contacts/{second['id']}", json={"phone": "415.555.0101"})
    assert assert_error(taken, 400)["meta"]["contactId"] == first["id"]
    assert (await get_contact(client, second["id"]))["phone"] is None
    # ...but re-sending a contact's own email is not a duplicate of itself.
    same = await client.put(f"/contacts/{first['id']}", json={"email": "ann@example.com"})
    assert same.status_code == 200
    assert await count_contacts(client) == 2


async def test_duplicates_allowed_when_the_location_says_so(
    server: LiveServer, new_tenant: TenantFactory
) -> None:
    lenient = await new_tenant(allow_duplicates=True)
    async with client_for(server, lenient) as http:
        first = await create_contact(http, email="ann@example.com", phone="+14155550101")
        second = await create_contact(http, email="ANN@example.com", phone="(415) 555-0101")
        assert first["id"] != second["id"]
        assert second["phone"] == "+14155550101"
        assert await count_contacts(http) == 2


# --- upsert -------------------------------------------------------------------------------


async def test_upsert_creates_then_updates(client: httpx.AsyncClient) -> None:
    created = await client.post("/contacts/upsert", json={"email": "u@x.io", "firstName": "Uma"})
    assert created.status_code == 201
    body = json_of(created)
    assert body["new"] is True
    assert isinstance(body["traceId"], str)
    assert body["traceId"]
    contact_id = body["contact"]["id"]

    by_email = await client.post("/contacts/upsert", json={"email": "U@X.IO", "lastName": "Ray"})
    assert by_email.status_code == 200
    assert by_email.json()["new"] is False
    contact = by_email.json()["contact"]
    assert contact["id"] == contact_id
    assert (contact["firstName"], contact["lastName"], contact["name"]) == ("Uma", "Ray", "Uma Ray")

    phone_only = await create_contact(client, phone="+14155550102", firstName="Phil")
    by_phone = await client.post(
        "/contacts/upsert", json={"phone": "(415) 555-0102", "email": "phil@x.io"}
    )
    assert by_phone.status_code == 200
    assert by_phone.json()["contact"]["id"] == phone_only["id"]
    assert by_phone.json()["contact"]["email"] == "phil@x.io"
    assert await count_contacts(client) == 2


async def _split_pair(http: httpx.AsyncClient) -> tuple[Json, Json]:
    by_email = await create_contact(http, email="x@x.io", phone="+14155550111", firstName="X")
    by_phone = await create_contact(http, email="y@x.io", phone="+14155550122", firstName="Y")
    return by_email, by_phone


async def test_upsert_prefers_the_email_match_and_leaves_its_phone(
    client: httpx.AsyncClient,
) -> None:
    by_email, by_phone = await _split_pair(client)
    response = await client.post(
        "/contacts/upsert",
        json={"email": "X@x.io", "phone": "+1 415 555 0122", "firstName": "Merged"},
    )
    assert response.status_code == 200
    assert response.json()["new"] is False
    updated = response.json()["contact"]
    assert updated["id"] == by_email["id"]
    assert updated["firstName"] == "Merged"
    assert updated["phone"] == "+14155550111"
    assert await get_contact(client, by_phone["id"]) == by_phone
    assert await count_contacts(client) == 2


async def test_upsert_priority_phone_first(server: LiveServer, new_tenant: TenantFactory) -> None:
    phone_first = await new_tenant(upsert_priority=("phone", "email"))
    async with client_for(server, phone_first) as http:
        by_email, by_phone = await _split_pair(http)
        response = await http.post(
            "/contacts/upsert",
            json={"email": "x@x.io", "phone": "+14155550122", "firstName": "Merged"},
        )
        assert response.status_code == 200
        updated = response.json()["contact"]
        assert updated["id"] == by_phone["id"]
        assert updated["firstName"] == "Merged"
        assert updated["email"] == "y@x.io"
        assert await get_contact(http, by_email["id"]) == by_email
        assert await count_contacts(http) == 2


# --- tags ---------------------------------------------------------------------------------


async def test_tags_are_normalised_replaced_by_writes_and_edited_by_tag_endpoints(
    client: httpx.AsyncClient,
) -> None:
    contact = await create_contact(
        client, email="t@x.io", tags=[" VIP ", "vip", "Lead", "", "lead ", "Zeta"]
    )
    assert contact["tags"] == ["vip", "lead", "zeta"]
    contact_id = contact["id"]

    added = await client.post(f"/contacts/{contact_id}/tags", json={"tags": ["NEW", "vip"]})
    assert added.status_code == 201
    assert added.json() == {"tags": ["vip", "lead", "zeta", "new"]}
    removed = await client.request(
        "DELETE", f"/contacts/{contact_id}/tags", json={"tags": [" LEAD", "absent"]}
    )
    assert removed.status_code == 200
    assert removed.json() == {"tags": ["vip", "zeta", "new"]}

    untouched = await client.put(f"/contacts/{contact_id}", json={"city": "Oslo"})
    assert untouched.json()["contact"]["tags"] == ["vip", "zeta", "new"]
    replaced = await client.put(f"/contacts/{contact_id}", json={"tags": ["Only", "ONLY"]})
    assert replaced.status_code == 200
    assert replaced.json()["succeded"] is True
    assert replaced.json()["succeeded"] is True
    assert replaced.json()["contact"]["tags"] == ["only"]
    upserted = await client.post("/contacts/upsert", json={"email": "t@x.io", "tags": ["Up"]})
    assert upserted.json()["contact"]["tags"] == ["up"]
    cleared = await client.put(f"/contacts/{contact_id}", json={"tags": []})
    assert cleared.json()["contact"]["tags"] == []
    assert (await get_contact(client, contact_id))["tags"] == []


# --- derived and structured fields -------------------------------------------------------


async def test_name_and_email_lower_case_are_derived(client: httpx.AsyncClient) -> None:
    contact = await create_contact(
        client, firstName="Ada", lastName="Lovelace", email="Ada.L@Example.COM"
    )
    assert contact["name"] == "Ada Lovelace"
    assert contact["emailLowerCase"] == "ada.l@example.com"
    assert contact["email"].lower() == "ada.l@example.com"
    renamed = await client.put(f"/contacts/{contact['id']}", json={"lastName": "Byron"})
    assert renamed.json()["contact"]["name"] == "Ada Byron"
    moved = await client.put(f"/contacts/{contact['id']}", json={"email": "NEW@Example.com"})
    assert moved.json()["contact"]["emailLowerCase"] == "new@example.com"
    fetched = await get_contact(client, contact["id"])
    assert (fetched["name"], fetched["emailLowerCase"]) == ("Ada Byron", "new@example.com")
    first_only = await create_contact(client, firstName="Solo")
    assert first_only["name"] == "Solo"
    from_name = await create_contact(client, name="Grace Hopper")
    assert (from_name["firstName"], from_name["lastName"]) == ("Grace", "Hopper")


async def test_custom_fields_in_either_spelling_come_back_as_id_value(
    client: httpx.AsyncClient,
) -> None:
    contact = await create_contact(
        client,
        firstName="C",
        customFields=[
            {"id": "field1", "field_value": "a"},
            {"key": "contact.size", "fieldValue": 3},
            {"id": "field3", "field_value": ["x", "y"]},
        ],
    )
    expected = [
        {"id": "field1", "value": "a"},
        {"id": "contact.size", "value": 3},
        {"id": "field3", "value": ["x", "y"]},
    ]
    assert contact["customFields"] == expected
    assert (await get_contact(client, contact["id"]))["customFields"] == expected
    updated = await client.put(
        f"/contacts/{contact['id']}", json={"customFields": [{"id": "field1", "fieldValue": "b"}]}
    )
    assert updated.status_code == 200
    assert {"id": "field1", "value": "b"} in updated.json()["contact"]["customFields"]
    assert {"id": "field1", "value": "a"} not in updated.json()["contact"]["customFields"]


# --- delete -------------------------------------------------------------------------------


async def test_deleting_a_contact_removes_its_tasks_notes_and_appointments(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ids: dict[str, dict[str, str]] = {}
    for name in ("doomed", "kept"):
        contact = await create_contact(client, firstName=name, tags=["t"])
        contact_id = contact["id"]
        task = await client.post(
            f"/contacts/{contact_id}/tasks",
            json={"title": "T", "dueDate": "2030-01-01T10:00:00Z", "completed": False},
        )
        note = await client.post(f"/contacts/{contact_id}/notes", json={"body": "N"})
        event = await client.post(
            "/calendars/events/appointments",
            json={
                "calendarId": tenant.calendar_id,
                "contactId": contact_id,
                "startTime": "2030-01-01T10:00:00Z",
            },
        )
        assert (task.status_code, note.status_code, event.status_code) == (201, 201, 201)
        ids[name] = {
            "contact": f"/contacts/{contact_id}",
            "task": f"/contacts/{contact_id}/tasks/{task.json()['task']['id']}",
            "note": f"/contacts/{contact_id}/notes/{note.json()['note']['id']}",
            "event": f"/calendars/events/appointments/{event.json()['id']}",
            "tasks": f"/contacts/{contact_id}/tasks",
        }
    deleted = await client.delete(ids["doomed"]["contact"])
    assert deleted.status_code == 200
    assert deleted.json() == {"succeded": True, "succeeded": True}
    for path in ids["doomed"].values():
        assert_error(await client.get(path), 404)
    for path in ids["kept"].values():
        assert (await client.get(path)).status_code == 200, path
    assert_error(await client.delete(ids["doomed"]["contact"]), 404)
    assert await count_contacts(client) == 1


# --- query text search --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["grace", "HOPPER", "g.hopper@navy", "5550199", "+1415555019", "cobol", "ADMIRAL", "pioneer"],
)
async def test_query_searches_name_email_phone_company_and_tags(
    client: httpx.AsyncClient, text: str
) -> None:
    wanted = await create_contact(
        client,
        firstName="Grace",
        lastName="Hopper",
        email="g.hopper@navy.mil",
        phone="+1 415 555 0199",
        companyName="COBOL Inc",
        tags=["Admiral"],
    )
    added = await client.post(f"/contacts/{wanted['id']}/tags", json={"tags": ["pioneer"]})
    assert added.status_code == 201
    await create_contact(client, firstName="Alan", email="alan@x.io", companyName="Turing Ltd")
    listed = json_of(await client.get("/contacts/", params={"query": text}))
    assert [contact["id"] for contact in listed["contacts"]] == [wanted["id"]]
    assert listed["meta"]["total"] == 1
    searched = json_of(await client.post("/contacts/search", json={"query": text}))
    assert [contact["id"] for contact in searched["contacts"]] == [wanted["id"]]
    assert searched["total"] == 1


async def test_query_without_match_and_blank_query(client: httpx.AsyncClient) -> None:
    await create_contact(client, firstName="Grace", tags=["admiral"])
    await create_contact(client, firstName="Alan")
    none = json_of(await client.get("/contacts/", params={"query": "nobody"}))
    assert none["contacts"] == []
    assert none["meta"]["total"] == 0
    # LIKE wildcards are matched literally, not as patterns.
    assert json_of(await client.get("/contacts/", params={"query": "%"}))["meta"]["total"] == 0
    assert json_of(await client.get("/contacts/", params={"query": "_"}))["meta"]["total"] == 0
    blank = json_of(await client.get("/contacts/", params={"query": "  "}))
    assert blank["meta"]["total"] == 2


async def test_concurrent_creates_and_upserts_make_one_contact(client: httpx.AsyncClient) -> None:
    creates = await asyncio.gather(
        *(
            client.post("/contacts/", json={"email": "race@x.io", "firstName": f"R{number}"})
            for number in range(6)
        )
    )
    statuses = sorted(response.status_code for response in creates)
    assert statuses == [201] + [400] * 5, [response.text for response in creates]
    winner = next(r for r in creates if r.status_code == 201).json()["contact"]["id"]
    for response in creates:
        if response.status_code == 400:
            assert response.json()["meta"]["contactId"] == winner

    upserts = await asyncio.gather(
        *(
            client.post("/contacts/upsert", json={"phone": "+14155550177", "lastName": f"U{n}"})
            for n in range(6)
        )
    )
    assert sorted(response.status_code for response in upserts) == [200] * 5 + [201]
    assert len({response.json()["contact"]["id"] for response in upserts}) == 1
    assert await count_contacts(client) == 2
