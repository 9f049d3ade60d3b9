"""Bad input: every malformed request gets the documented error envelope naming the field,
never a 500, and leaves nothing half-written."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.contacts.helpers import Json, assert_error, count_contacts, create_contact, json_of
from tests.support import Tenant

ONE_MIB = 1024 * 1024
JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class Seed:
    contact: Json
    business_id: str
    task_id: str
    appointment_id: str


@dataclass(frozen=True)
class Case:
    """One bad request; `{contact}`, `{business}`, `{task}` and `{appointment}` in the path
    or body are filled in."""

    method: str
    path: str
    status: int
    fields: tuple[str, ...]
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _fill(value: Any, seed: Seed) -> Any:
    if isinstance(value, str):
        return value.format(
            contact=seed.contact["id"],
            business=seed.business_id,
            task=seed.task_id,
            appointment=seed.appointment_id,
        )
    if isinstance(value, list):
        return [_fill(item, seed) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, seed) for key, item in value.items()}
    return value


TASK = {"title": "Call back", "dueDate": "2030-01-01T10:00:00Z", "completed": False}
CASES: dict[str, Case] = {
    "malformed json": Case("POST", "/contacts/", 422, ("body",), content=b'{"firstName": "A",'),
    "json array body": Case("POST", "/contacts/", 422, ("body",), content=b"[]"),
    "empty body": Case("POST", "/contacts/", 422, ("body",), content=b""),
    "string as name": Case("POST", "/contacts/", 422, ("firstName",), {"firstName": 5}),
    "string as tags": Case("POST", "/contacts/", 422, ("tags",), {"tags": "vip"}),
    "text as dnd": Case("POST", "/contacts/", 422, ("dnd",), {"dnd": "maybe"}),
    "unknown type": Case("POST", "/contacts/", 422, ("type",), {"type": "vendor"}),
    "unknown property": Case(
        "POST", "/contacts/", 422, ("favouriteColour",), {"favouriteColour": 1}
    ),
    "unknown dnd channel status": Case(
        "POST",
        "/contacts/",
        422,
        ("dndSettings.SMS.status",),
        {"dndSettings": {"SMS": {"status": "off"}}},
    ),
    "invalid email": Case("POST", "/contacts/", 422, ("email",), {"firstName": "A", "email": "a@"}),
    "invalid phone": Case("POST", "/contacts/", 422, ("phone",), {"firstName": "A", "phone": "12"}),
    "phone of letters": Case("POST", "/contacts/", 422, ("phone",), {"phone": "call me"}),
    "impossible birthday": Case(
        "POST",
        "/contacts/",
        422,
        ("dateOfBirth",),
        {"dateOfBirth": {"year": 2001, "month": 2, "day": 30}},
    ),
    "custom field without id": Case(
        "POST", "/contacts/", 422, ("customFields.0",), {"customFields": [{"field_value": "x"}]}
    ),
    "foreign assignee": Case(
        "POST", "/contacts/", 422, ("assignedTo",), {"assignedTo": "nobody00000000"}
    ),
    "upsert invalid email": Case("POST", "/contacts/upsert", 422, ("email",), {"email": "nope"}),
    "update invalid email": Case("PUT", "/contacts/{contact}", 422, ("email",), {"email": "x@@y"}),
    "update unknown property": Case(
        "PUT", "/contacts/{contact}", 422, ("locationIdd",), {"locationIdd": "x"}
    ),
    "limit over 100": Case("GET", "/contacts/?limit=101", 422, ("limit",)),
    "limit zero": Case("GET", "/contacts/?limit=0", 422, ("limit",)),
    "limit not a number": Case("GET", "/contacts/?limit=ten", 422, ("limit",)),
    "negative startAfter": Case("GET", "/contacts/?startAfter=-5", 422, ("startAfter",)),
    "negative skip": Case("GET", "/contacts/business/{business}?skip=-1", 422, ("skip",)),
    # A paging parameter an endpoint does not take is refused, not ignored: a client paging
    # with it would get the first page again and again.
    "skip on the keyset list": Case("GET", "/contacts/?skip=-1", 422, ("skip",)),
    "page on the keyset list": Case("GET", "/contacts/?limit=5&page=2", 422, ("page",)),
    "offset on the keyset list": Case("GET", "/contacts/?offset=20", 422, ("offset",)),
    "limit on notes": Case("GET", "/contacts/{contact}/notes?limit=5", 422, ("limit",)),
    "limit on tasks": Case("GET", "/contacts/{contact}/tasks?limit=5", 422, ("limit",)),
    "skip on appointments": Case("GET", "/contacts/{contact}/appointments?skip=5", 422, ("skip",)),
    "limit on users": Case("GET", "/users/?limit=5", 422, ("limit",)),
    "business negative startAfter": Case(
        "GET", "/contacts/business/{business}?startAfter=-1", 422, ("startAfter",)
    ),
    "businesses negative skip": Case("GET", "/businesses/?skip=-1", 422, ("skip",)),
    "businesses limit zero": Case("GET", "/businesses/?limit=0", 422, ("limit",)),
    "businesses cursor": Case("GET", "/businesses/?cursor=abc", 422, ("cursor",)),
    "business limit over 100": Case(
        "GET", "/contacts/business/{business}?limit=500", 422, ("limit",)
    ),
    "search pageLimit over 100": Case(
        "POST", "/contacts/search", 422, ("pageLimit",), {"pageLimit": 101}
    ),
    "search query too long": Case(
        "POST", "/contacts/search", 422, ("query",), {"query": "q" * 256}
    ),
    "search page zero": Case("POST", "/contacts/search", 422, ("page",), {"page": 0}),
    "duplicate bad email": Case("GET", "/contacts/search/duplicate?email=nope", 422, ("email",)),
    "duplicate bad number": Case("GET", "/contacts/search/duplicate?number=abc", 422, ("number",)),
    "unknown bulk tag type": Case(
        "POST",
        "/contacts/bulk/tags/update/toggle",
        422,
        ("type",),
        {"contacts": ["{contact}"], "tags": ["a"]},
    ),
    "bulk tags without tags": Case(
        "POST",
        "/contacts/bulk/tags/update/add",
        422,
        ("tags",),
        {"contacts": ["{contact}"], "tags": []},
    ),
    "bulk tags no contacts": Case(
        "POST",
        "/contacts/bulk/tags/update/add",
        422,
        ("contacts",),
        {"contacts": [], "tags": ["a"]},
    ),
    "bulk business without businessId": Case(
        "POST", "/contacts/bulk/business", 422, ("businessId",), {"ids": ["{contact}"]}
    ),
    "task without dueDate": Case(
        "POST", "/contacts/{contact}/tasks", 422, ("dueDate",), {"title": "x", "completed": False}
    ),
    "task with bad dueDate": Case(
        "POST", "/contacts/{contact}/tasks", 422, ("dueDate",), {**TASK, "dueDate": "tomorrow"}
    ),
    "task without title": Case(
        "POST",
        "/contacts/{contact}/tasks",
        422,
        ("title",),
        {"dueDate": TASK["dueDate"], "completed": True},
    ),
    "task update nulls dueDate": Case(
        "PUT", "/contacts/{contact}/tasks/{task}", 422, ("dueDate",), {"dueDate": None}
    ),
    "task completed not a bool": Case(
        "PUT",
        "/contacts/{contact}/tasks/{task}/completed",
        422,
        ("completed",),
        {"completed": "maybe"},
    ),
    "appointment update nulls startTime": Case(
        "PUT",
        "/calendars/events/appointments/{appointment}",
        422,
        ("startTime",),
        {"startTime": None},
    ),
    "appointment update nulls calendarId": Case(
        "PUT",
        "/calendars/events/appointments/{appointment}",
        422,
        ("calendarId",),
        {"calendarId": None},
    ),
    "appointment update unknown status": Case(
        "PUT",
        "/calendars/events/appointments/{appointment}",
        422,
        ("appointmentStatus",),
        {"appointmentStatus": "late"},
    ),
    "note without body": Case("POST", "/contacts/{contact}/notes", 422, ("body",), {"title": "x"}),
    "tags not a list": Case("POST", "/contacts/{contact}/tags", 422, ("tags",), {"tags": "a"}),
    "unknown appointmentStatus": Case(
        "POST",
        "/calendars/events/appointments",
        422,
        ("appointmentStatus",),
        {
            "contactId": "{contact}",
            "startTime": "2030-01-01T10:00:00Z",
            "appointmentStatus": "late",
        },
    ),
    "appointment ends before it starts": Case(
        "POST",
        "/calendars/events/appointments",
        422,
        ("endTime",),
        {
            "contactId": "{contact}",
            "startTime": "2030-01-01T10:00:00Z",
            "endTime": "2030-01-01T09:00:00Z",
        },
    ),
    # No database text column holds a NUL character: refused up front on every backend.
    "NUL in a name": Case("POST", "/contacts/", 422, ("firstName",), {"firstName": "a\u0000b"}),
    "NUL in a tag": Case("POST", "/contacts/", 422, ("tags",), {"tags": ["ok", "x\u0000"]}),
    "NUL in an update": Case("PUT", "/contacts/{contact}", 422, ("city",), {"city": "\u0000"}),
    "NUL in a note": Case("POST", "/contacts/{contact}/notes", 422, ("body",), {"body": "a\u0000"}),
    "NUL in a business": Case("POST", "/businesses/", 422, ("name",), {"name": "B\u0000"}),
    "NUL in a search query": Case("POST", "/contacts/search", 422, ("query",), {"query": "\u0000"}),
    "NUL in the list query": Case("GET", "/contacts/?query=a%00", 422, ("query",)),
    "NUL in a cursor": Case(
        "GET", "/contacts/?startAfter=1&startAfterId=%00", 422, ("startAfterId",)
    ),
    "NUL in a contact id": Case("GET", "/contacts/a%00b", 422, ("path",)),
    "NUL in a task id": Case(
        "PUT", "/contacts/{contact}/tasks/%00", 422, ("path",), {"title": "x"}
    ),
    "idempotency key too long": Case(
        "POST",
        "/contacts/",
        422,
        ("Idempotency-Key",),
        {"firstName": "A"},
        headers={"Idempotency-Key": "k" * 256},
    ),
    "body over 1 MiB": Case(
        "POST", "/contacts/", 413, ("body",), content=b'{"firstName": "' + b"x" * ONE_MIB + b'"}'
    ),
    "body over 1 MiB on update": Case(
        "PUT", "/contacts/{contact}", 413, ("body",), content=b'{"city": "' + b"x" * ONE_MIB + b'"}'
    ),
}


@pytest.fixture
async def seed(client: httpx.AsyncClient, tenant: Tenant) -> Seed:
    contact = await create_contact(client, firstName="Seed", email="seed@x.io", tags=["a"])
    business = json_of(await client.post("/businesses/", json={"name": "Seed Co"}))["business"]
    task = await client.post(
        f"/contacts/{contact['id']}/tasks",
        json={"title": "T", "dueDate": "2030-01-01T10:00:00Z", "completed": False},
    )
    event = await client.post(
        "/calendars/events/appointments",
        json={
            "calendarId": tenant.calendar_id,
            "contactId": contact["id"],
            "startTime": "2030-01-01T10:00:00Z",
        },
    )
    assert (task.status_code, event.status_code) == (201, 201)
    return Seed(
        contact=contact,
        business_id=business["id"],
        task_id=task.json()["task"]["id"],
        appointment_id=event.json()["id"],
    )


async def _state(client: httpx.AsyncClient, seed: Seed) -> Json:
    contact_id = seed.contact["id"]
    return {
        # Every contact of the location, whole, and the total: one request.
        "contacts": json_of(await client.get("/contacts/", params={"limit": 100})),
        "tasks": json_of(await client.get(f"/contacts/{contact_id}/tasks")),
        "notes": json_of(await client.get(f"/contacts/{contact_id}/notes")),
        "events": json_of(await client.get(f"/contacts/{contact_id}/appointments")),
    }


@pytest.mark.parametrize("name", list(CASES))
async def test_bad_request_gets_the_envelope_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, seed: Seed, name: str
) -> None:
    case = CASES[name]
    before = await _state(client, seed)
    body = _fill(case.body, seed)
    if isinstance(body, dict) and case.method == "POST" and case.path.startswith("/calendars"):
        body["calendarId"] = tenant.calendar_id
    headers = {**(JSON_HEADERS if case.content is not None else {}), **case.headers}
    response = await client.request(
        case.method,
        _fill(case.path, seed),
        json=body if case.content is None else None,
        content=case.content,
        headers=headers,
    )
    assert response.status_code < 500, response.text
    assert_error(response, case.status, *case.fields)
    assert await _state(client, seed) == before


async def _chunks(size: int) -> AsyncIterator[bytes]:
    yield b'{"firstName": "'
    for _ in range(size // 65536 + 1):
        yield b"x" * 65536
    yield b'"}'


@pytest.mark.parametrize("idempotency_key", [None, "big-streamed-body"])
async def test_streamed_body_over_limit_is_413(
    client: httpx.AsyncClient, idempotency_key: str | None
) -> None:
    """Without Content-Length the limit is enforced while reading: still a 413, not a 400."""
    headers = dict(JSON_HEADERS)
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    response = await client.post("/contacts/", content=_chunks(ONE_MIB), headers=headers)
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "body")
    assert await count_contacts(client) == 0


async def test_body_just_under_limit_is_accepted(client: httpx.AsyncClient) -> None:
    """The limit is 1 MiB, not less: a large-but-allowed body is read, then validated."""
    padding = b"x" * (ONE_MIB - 100)
    response = await client.post(
        "/contacts/", content=b'{"source": "' + padding + b'"}', headers=JSON_HEADERS
    )
    assert_error(response, 422, "source")


async def test_failed_update_leaves_the_contact_as_it_was(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    """Fields applied before a late validation failure are rolled back with it."""
    contact_id = seed.contact["id"]
    before = await _state(client, seed)
    late_failures: list[tuple[str, str, Json, str]] = [
        (
            "PUT",
            f"/contacts/{contact_id}",
            {
                "firstName": "Changed",
                "tags": ["b"],
                "dateOfBirth": {"year": 2001, "month": 2, "day": 30},
            },
            "dateOfBirth",
        ),
        (
            "PUT",
            f"/contacts/{contact_id}",
            {"city": "Changed", "tags": ["b"], "customFields": [{"value": 1}]},
            "customFields.0",
        ),
        (
            "POST",
            "/contacts/upsert",
            {"email": "SEED@x.io", "firstName": "Changed", "customFields": [{"value": 1}]},
            "customFields.0",
        ),
        (
            "PUT",
            f"/contacts/{contact_id}",
            {"firstName": "Changed", "businessId": "noSuchBusiness000000"},
            "businessId",
        ),
    ]
    for method, path, body, field_name in late_failures:
        response = await client.request(method, path, json=body)
        assert_error(response, 422, field_name)
    assert await _state(client, seed) == before
