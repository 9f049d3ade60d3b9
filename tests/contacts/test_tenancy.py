"""Tenancy and credentials: a key of location A can read, change or detect nothing of
location B, and a key only does what its scopes allow."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contactflow.platform.auth.api_keys import ApiKey, generate_key, hash_key, revoke_key
from contactflow.platform.db import Database
from tests.conftest import TenantFactory
from tests.contacts.helpers import (
    Json,
    assert_error,
    client_for,
    count_contacts,
    create_contact,
    json_of,
    without_trace,
)
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant

LOCATION_DENIED = {"statusCode": 403, "message": "The token does not have access to this location"}
MISSING = "doesNotExist0000000000000"


@dataclass(frozen=True)
class World:
    """Location B, seen through B's own key."""

    tenant: Tenant
    client: httpx.AsyncClient
    contact_id: str
    task_id: str
    note_id: str
    business_id: str
    appointment_id: str

    async def snapshot(self) -> Json:
        """Everything of B a foreign request could have touched."""
        paths = {
            "contact": f"/contacts/{self.contact_id}",
            "tasks": f"/contacts/{self.contact_id}/tasks",
            "notes": f"/contacts/{self.contact_id}/notes",
            "events": f"/contacts/{self.contact_id}/appointments",
            "business": f"/businesses/{self.business_id}",
            "appointment": f"/calendars/events/appointments/{self.appointment_id}",
            "contacts": "/contacts/",
            "businesses": "/businesses/",
        }
        state: Json = {}
        for name, path in paths.items():
            response = await self.client.get(path)
            assert response.status_code == 200, (path, response.text)
            state[name] = response.json()
        return state


@pytest.fixture
async def other(server: LiveServer, new_tenant: TenantFactory) -> AsyncIterator[World]:
    tenant = await new_tenant()
    async with client_for(server, tenant) as http:
        business = (await http.post("/businesses/", json={"name": "B Corp"})).json()["business"]
        contact = await create_contact(
            http,
            firstName="Bea",
            lastName="Other",
            email="bea@b-location.io",
            phone="+14155550123",
            tags=["secret"],
            businessId=business["id"],
        )
        task = await http.post(
            f"/contacts/{contact['id']}/tasks",
            json={"title": "Call", "dueDate": "2030-01-01T10:00:00Z", "completed": False},
        )
        note = await http.post(f"/contacts/{contact['id']}/notes", json={"body": "private"})
        appointment = await http.post(
            "/calendars/events/appointments",
            json={
                "calendarId": tenant.calendar_id,
                "contactId": contact["id"],
                "startTime": "2030-01-01T10:00:00Z",
            },
        )
        assert (task.status_code, note.status_code, appointment.status_code) == (201, 201, 201)
        yield World(
            tenant=tenant,
            client=http,
            contact_id=contact["id"],
            task_id=task.json()["task"]["id"],
            note_id=note.json()["note"]["id"],
            business_id=business["id"],
            appointment_id=appointment.json()["id"],
        )


async def _same_as_missing(
    client: httpx.AsyncClient, method: str, path: str, foreign: str, body: Any = None
) -> None:
    """The foreign id answers 404 with exactly the body a truly missing id gets."""
    seen = await client.request(method, path.format(id=foreign), json=body)
    missing = await client.request(method, path.format(id=MISSING), json=body)
    assert_error(seen, 404)
    assert_error(missing, 404)
    assert without_trace(json_of(seen)) == without_trace(json_of(missing))


async def test_foreign_contact_ids_are_not_found(
    client: httpx.AsyncClient, tenant: Tenant, other: World
) -> None:
    before = await other.snapshot()
    task = {"title": "x", "dueDate": "2030-01-01T00:00:00Z", "completed": False}
    for method, path, body in [
        ("GET", "/contacts/{id}", None),
        ("PUT", "/contacts/{id}", {"firstName": "Mallory", "tags": ["owned"]}),
        ("DELETE", "/contacts/{id}", None),
        ("GET", "/contacts/{id}/tasks", None),
        ("POST", "/contacts/{id}/tasks", task),
        ("GET", "/contacts/{id}/notes", None),
        ("POST", "/contacts/{id}/notes", {"body": "x"}),
        ("GET", "/contacts/{id}/appointments", None),
        ("POST", "/contacts/{id}/tags", {"tags": ["owned"]}),
        ("DELETE", "/contacts/{id}/tags", {"tags": ["secret"]}),
        ("POST", "/contacts/{id}/followers", {"followers": tenant.user_ids}),
        ("DELETE", "/contacts/{id}/followers", {"followers": tenant.user_ids}),
        ("POST", "/contacts/{id}/campaigns/camp1", None),
        ("DELETE", "/contacts/{id}/campaigns/camp1", None),
        ("DELETE", "/contacts/{id}/campaigns/remove-all", None),
        ("POST", "/contacts/{id}/workflow/flow1", {}),
        ("DELETE", "/contacts/{id}/workflow/flow1", None),
    ]:
        await _same_as_missing(client, method, path, other.contact_id, body)
    assert await other.snapshot() == before


async def test_foreign_record_ids_are_not_found(
    client: httpx.AsyncClient, tenant: Tenant, other: World
) -> None:
    mine = await create_contact(client, firstName="Mine")
    before = await other.snapshot()
    for contact in (other.contact_id, mine["id"]):
        tasks = f"/contacts/{contact}/tasks/{{id}}"
        notes = f"/contacts/{contact}/notes/{{id}}"
        for method, path, body in [
            ("GET", tasks, None),
            ("PUT", tasks, {"title": "changed"}),
            ("PUT", tasks + "/completed", {"completed": True}),
            ("DELETE", tasks, None),
        ]:
            await _same_as_missing(client, method, path, other.task_id, body)
        for method, path, body in [
            ("GET", notes, None),
            ("PUT", notes, {"body": "changed"}),
            ("DELETE", notes, None),
        ]:
            await _same_as_missing(client, method, path, other.note_id, body)
    for method, path, body in [
        ("GET", "/businesses/{id}", None),
        ("PUT", "/businesses/{id}", {"name": "Hijacked"}),
        ("DELETE", "/businesses/{id}", None),
        ("GET", "/contacts/business/{id}", None),
    ]:
        await _same_as_missing(client, method, path, other.business_id, body)
    appointment = "/calendars/events/appointments/{id}"
    for method, body in [("GET", None), ("PUT", {"title": "Hijacked"}), ("DELETE", None)]:
        await _same_as_missing(client, method, appointment, other.appointment_id, body)
    assert await other.snapshot() == before


async def test_naming_another_location_is_forbidden(
    client: httpx.AsyncClient, tenant: Tenant, other: World
) -> None:
    foreign = other.tenant.location_id
    mine = await create_contact(client, firstName="Mine")
    business = await client.post("/businesses/", json={"name": "A Corp"})
    before = await other.snapshot()
    requests: list[tuple[str, str, Json | None, Json | None]] = [
        ("GET", "/contacts/", {"locationId": foreign}, None),
        ("POST", "/contacts/", None, {"locationId": foreign, "firstName": "X"}),
        ("POST", "/contacts/upsert", None, {"locationId": foreign, "email": "bea@b-location.io"}),
        ("POST", "/contacts/search", None, {"locationId": foreign}),
        ("GET", "/contacts/search/duplicate", {"locationId": foreign, "email": "a@b.io"}, None),
        (
            "GET",
            f"/contacts/business/{business.json()['business']['id']}",
            {"locationId": foreign},
            None,
        ),
        (
            "POST",
            "/contacts/bulk/tags/update/add",
            None,
            {"locationId": foreign, "contacts": [other.contact_id], "tags": ["owned"]},
        ),
        (
            "POST",
            "/contacts/bulk/business",
            None,
            {"locationId": foreign, "ids": [other.contact_id], "businessId": None},
        ),
        ("GET", "/businesses/", {"locationId": foreign}, None),
        ("POST", "/businesses/", None, {"locationId": foreign, "name": "X"}),
        (
            "POST",
            "/calendars/events/appointments",
            None,
            {
                "locationId": foreign,
                "calendarId": tenant.calendar_id,
                "contactId": mine["id"],
                "startTime": "2030-01-01T10:00:00Z",
            },
        ),
        ("GET", "/users/", {"locationId": foreign}, None),
    ]
    for method, path, params, body in requests:
        response = await client.request(method, path, params=params, json=body)
        assert without_trace(assert_error(response, 403)) == LOCATION_DENIED, (method, path)
    # Naming its own location is fine: the check compares, it does not refuse everything.
    own = await client.get("/contacts/", params={"locationId": tenant.location_id})
    assert own.status_code == 200
    assert own.json()["meta"]["total"] == 1
    assert await other.snapshot() == before


async def test_reads_never_return_another_locations_contacts(
    client: httpx.AsyncClient, other: World
) -> None:
    mine = await create_contact(client, firstName="Ann", tags=["vip"])
    listed = json_of(await client.get("/contacts/", params={"limit": 100}))
    assert [contact["id"] for contact in listed["contacts"]] == [mine["id"]]
    assert listed["meta"]["total"] == 1
    for text in ("Bea", "b-location", "5550123", "secret"):
        found = json_of(await client.get("/contacts/", params={"query": text}))
        assert found["contacts"] == []
        assert found["meta"]["total"] == 0
        searched = json_of(await client.post("/contacts/search", json={"query": text}))
        assert searched == {"contacts": [], "total": 0}
    for spec in [
        {"field": "id", "operator": "eq", "value": other.contact_id},
        {"field": "email", "operator": "eq", "value": "bea@b-location.io"},
        {"field": "tags", "operator": "in", "value": ["secret"]},
        {"field": "businessId", "operator": "eq", "value": other.business_id},
    ]:
        searched = json_of(await client.post("/contacts/search", json={"filters": [spec]}))
        assert searched == {"contacts": [], "total": 0}, spec
    everything = json_of(await client.post("/contacts/search", json={"pageLimit": 100}))
    assert [contact["id"] for contact in everything["contacts"]] == [mine["id"]]
    for params in ({"email": "bea@b-location.io"}, {"number": "+14155550123"}):
        duplicate = await client.get("/contacts/search/duplicate", params=params)
        assert duplicate.status_code == 200
        assert duplicate.json() == {"contact": None}
    # B's email and phone do not count as duplicates in A either.
    twin = await create_contact(client, email="BEA@b-location.io", phone="(415) 555-0123")
    assert twin["id"] != other.contact_id
    assert twin["locationId"] != other.tenant.location_id


async def test_bulk_operations_leave_another_location_alone(
    client: httpx.AsyncClient, other: World
) -> None:
    mine = await create_contact(client, firstName="Ann", tags=["keep"])
    business = json_of(await client.post("/businesses/", json={"name": "A Corp"}))["business"]
    before = await other.snapshot()

    added = await client.post(
        "/contacts/bulk/tags/update/add",
        json={"contacts": [other.contact_id, mine["id"]], "tags": ["owned"]},
    )
    assert added.status_code == 201
    assert added.json()["errorCount"] == 1
    assert added.json()["succeded"] is False
    assert any(other.contact_id in line for line in added.json()["responses"])
    removed = await client.post(
        "/contacts/bulk/tags/update/remove",
        json={"contacts": [other.contact_id], "tags": [], "removeAllTags": True},
    )
    assert removed.status_code == 201
    assert removed.json()["errorCount"] == 1

    moved = await client.post(
        "/contacts/bulk/business", json={"ids": [other.contact_id], "businessId": business["id"]}
    )
    assert moved.status_code == 200
    assert moved.json() == {"success": False, "ids": []}
    cleared = await client.post(
        "/contacts/bulk/business", json={"ids": [other.contact_id], "businessId": None}
    )
    assert cleared.json() == {"success": False, "ids": []}
    into_foreign = await client.post(
        "/contacts/bulk/business", json={"ids": [mine["id"]], "businessId": other.business_id}
    )
    assert_error(into_foreign, 404)

    assert await other.snapshot() == before
    after = json_of(await client.get(f"/contacts/{mine['id']}"))["contact"]
    assert after["tags"] == ["keep", "owned"]
    assert after["businessId"] is None


# --- credentials and scopes ---------------------------------------------------------------


async def test_readonly_key_cannot_write(server: LiveServer, new_tenant: TenantFactory) -> None:
    reader = await new_tenant(scopes=("contacts.readonly",))
    async with client_for(server, reader) as http:
        assert (await http.get("/contacts/")).status_code == 200
        writes: list[tuple[str, str, Json | None]] = [
            ("POST", "/contacts/", {"firstName": "X"}),
            ("POST", "/contacts/upsert", {"email": "x@x.io"}),
            ("PUT", f"/contacts/{MISSING}", {"firstName": "X"}),
            ("DELETE", f"/contacts/{MISSING}", None),
            ("POST", f"/contacts/{MISSING}/tags", {"tags": ["x"]}),
            ("POST", "/contacts/bulk/tags/update/add", {"contacts": [MISSING], "tags": ["x"]}),
        ]
        for method, path, body in writes:
            response = await http.request(method, path, json=body)
            assert_error(response, 401, "contacts.write")
        assert await count_contacts(http) == 0


async def test_write_only_key_cannot_read(server: LiveServer, new_tenant: TenantFactory) -> None:
    writer = await new_tenant(scopes=("contacts.write",))
    async with client_for(server, writer) as http:
        created = await http.post("/contacts/", json={"firstName": "X", "email": "x@x.io"})
        assert created.status_code == 201
        contact_id = created.json()["contact"]["id"]
        reads: list[tuple[str, str, Json | None]] = [
            ("GET", "/contacts/", None),
            ("GET", f"/contacts/{contact_id}", None),
            ("GET", f"/contacts/{contact_id}/tasks", None),
            ("POST", "/contacts/search", {}),
            ("GET", "/contacts/search/duplicate?email=x@x.io", None),
        ]
        for method, path, body in reads:
            response = await http.request(method, path, json=body)
            assert_error(response, 401, "contacts.readonly")


async def test_revoked_key_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, db: Database
) -> None:
    assert (await client.get("/contacts/")).status_code == 200
    async with db.unit_of_work() as uow:
        key_id = await uow.session.scalar(
            select(ApiKey.id).where(ApiKey.key_hash == hash_key(tenant.key))
        )
        assert key_id is not None
        await revoke_key(uow, key_id)
    assert_error(await client.get("/contacts/"), 401)
    assert_error(await client.post("/contacts/", json={"firstName": "X"}), 401)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "wrong-prefix",
        "bad-checksum",
        "unknown-key",
    ],
)
async def test_bad_tokens_get_the_401_envelope(
    server: LiveServer, tenant: Tenant, authorization: str | None
) -> None:
    key = tenant.key
    if authorization == "wrong-prefix":
        authorization = "Bearer sk_live_" + key[len("cf_live_") :]
    elif authorization == "bad-checksum":
        last = "A" if key[-1] != "A" else "B"
        authorization = f"Bearer {key[:-1]}{last}"
    elif authorization == "unknown-key":
        authorization = f"Bearer {generate_key(sandbox=False)}"
    headers = {"Version": "2021-07-28"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=headers
    ) as http:
        for response in (
            await http.get("/contacts/"),
            await http.post("/contacts/", json={"firstName": "X"}),
        ):
            body = assert_error(response, 401)
            assert set(body) == {"statusCode", "message", "error", "traceId"}
    async with client_for(server, tenant) as http:
        assert await count_contacts(http) == 0
