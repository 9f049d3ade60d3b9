"""API5:2023 Broken Function Level Authorization: a key reaches only the operations its scopes
name, and each refusal is audited with the scope it lacked. The routes are read from the app
itself, so a route added later is covered too."""

import re
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.routing import iter_route_contexts

from contactflow.app import create_app
from contactflow.platform.auth.scopes import (
    AUDIT_READ,
    CONTACTS_READ,
    CONTACTS_WRITE,
    WEBHOOKS_READ,
)
from contactflow.platform.db import Database
from tests.contacts.helpers import Json, assert_error, create_contact, json_of
from tests.receiver import Receiver
from tests.security.helpers import PUBLIC_PREFIXES, PUBLIC_ROUTES, bearer, issue_key
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant
from tests.webhooks.helpers import poll

# What contacts.readonly grants (the spec): every GET of /contacts, and the search by POST.
CONTACT_READS = re.compile(r"^(GET /contacts/.*|POST /contacts/search)$")
# The operations catalog is the same for every location: any valid token reads it.
ANY_TOKEN_READS = re.compile(r"^GET /catalog(/\{key\})?$")


def operations(server: LiveServer) -> Iterator[tuple[str, str]]:
    """(method, path template) of every operation that needs a token."""
    for route in iter_route_contexts(create_app(server.settings).routes):
        path = route.path
        if path is None or path in PUBLIC_ROUTES or path.startswith(PUBLIC_PREFIXES):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield method, path


async def _world(http: httpx.AsyncClient, tenant: Tenant, receiver: Receiver) -> dict[str, str]:
    """One object of each kind in the location: path parameters that name real things."""
    contact = await create_contact(http, firstName="Ann", email="ann@a.io")
    task = await http.post(
        f"/contacts/{contact['id']}/tasks",
        json={"title": "Call", "dueDate": "2030-01-01T10:00:00Z", "completed": False},
    )
    note = await http.post(f"/contacts/{contact['id']}/notes", json={"body": "private"})
    business = await http.post("/businesses/", json={"name": "A Corp"})
    appointment = await http.post(
        "/calendars/events/appointments",
        json={
            "calendarId": tenant.calendar_id,
            "contactId": contact["id"],
            "startTime": "2030-01-01T10:00:00Z",
        },
    )
    endpoint = await http.post("/webhooks", json={"url": receiver.url("/fl")})
    endpoint_id = endpoint.json()["endpoint"]["id"]
    delivery = await http.post(f"/webhooks/{endpoint_id}/test")
    delivery_id = delivery.json()["delivery"]["id"]

    async def states() -> list[str]:
        listed = json_of(await http.get(f"/webhooks/{endpoint_id}/deliveries"))
        return [item["state"] for item in listed["deliveries"] if item["id"] == delivery_id]

    # The test delivery goes out in the background: settled before any snapshot is taken, so
    # the snapshots compare what the refused calls could have changed, not its progress.
    await poll(states, lambda found: found not in ([], ["pending"]), within=30.0)
    return {
        "key": "contacts.contact.created",
        "contactId": contact["id"],
        "taskId": task.json()["task"]["id"],
        "id": note.json()["note"]["id"],
        "businessId": business.json()["business"]["id"],
        "eventId": appointment.json()["id"],
        "endpointId": endpoint_id,
        "deliveryId": delivery_id,
        "campaignId": "camp1",
        "workflowId": "flow1",
        "type": "add",
        # Mailsuite's: the keys here carry no mailsuite scope, so any id is refused first.
        **dict.fromkeys(("senderId", "templateId", "emailId", "listId"), "mailsuite1"),
    }


async def _snapshot(http: httpx.AsyncClient, ids: dict[str, str]) -> Json:
    state: Json = {}
    for path in (
        "/contacts/{contactId}",
        "/contacts/{contactId}/tasks",
        "/contacts/{contactId}/notes",
        "/businesses/{businessId}",
        "/calendars/events/appointments/{eventId}",
        "/webhooks/{endpointId}",
        "/webhooks/{endpointId}/deliveries",
        "/contacts/",
        "/businesses/",
    ):
        response = await http.get(path.format(**ids))
        assert response.status_code == 200, (path, response.text)
        state[path] = response.json()
    return state


class _Ids(dict[str, str]):
    """Path parameters: the world's real ids, and a well-formed unknown one for the rest."""

    def __missing__(self, name: str) -> str:
        return "someId0000000000000000001"


async def _call(http: httpx.AsyncClient, method: str, path: str, ids: dict[str, str]) -> Any:
    body: Json | None = None if method in ("GET", "DELETE") else {}
    return await http.request(method, path.format_map(_Ids(ids)), json=body)


async def test_a_readonly_key_reaches_only_contact_reads(
    server: LiveServer, client: httpx.AsyncClient, tenant: Tenant, db: Database, receiver: Receiver
) -> None:
    ids = await _world(client, tenant, receiver)
    before = await _snapshot(client, ids)
    _, reader = await issue_key(db, tenant.location_id, [CONTACTS_READ])
    reached, refused = [], []
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(reader)
    ) as http:
        for method, path in operations(server):
            response = await _call(http, method, path, ids)
            label = f"{method} {path}"
            if response.status_code == 401:
                assert_error(response, 401, "not authorized for this scope")
                refused.append(label)
            else:
                assert response.status_code < 300, (label, response.text)
                reached.append(label)
    assert reached
    assert [
        label
        for label in reached
        if not CONTACT_READS.match(label) and not ANY_TOKEN_READS.match(label)
    ] == []
    assert [label for label in refused if CONTACT_READS.match(label)] == []
    writes = [label for label in refused if not label.startswith("GET ")]
    assert "POST /contacts/" in writes
    assert "DELETE /contacts/{contactId}" in writes
    assert "POST /webhooks" in writes
    assert await _snapshot(client, ids) == before


async def test_webhooks_need_their_own_scopes(
    server: LiveServer, client: httpx.AsyncClient, tenant: Tenant, db: Database, receiver: Receiver
) -> None:
    ids = await _world(client, tenant, receiver)
    before = await _snapshot(client, ids)
    _, contacts_only = await issue_key(db, tenant.location_id, [CONTACTS_READ, CONTACTS_WRITE])
    _, webhook_reader = await issue_key(db, tenant.location_id, [WEBHOOKS_READ])
    webhook_operations = [
        (method, path) for method, path in operations(server) if path.startswith("/webhooks")
    ]
    assert len(webhook_operations) >= 10
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url) as http:
        http.headers.update(bearer(contacts_only))
        for method, path in webhook_operations:
            response = await _call(http, method, path, ids)
            assert_error(response, 401, "webhooks.")
        http.headers.update(bearer(webhook_reader))
        for method, path in webhook_operations:
            response = await _call(http, method, path, ids)
            if method == "GET":
                assert response.status_code == 200, (path, response.text)
            else:
                assert_error(response, 401, "webhooks.write")
        listed = json_of(await http.get("/webhooks"))
        assert [endpoint["id"] for endpoint in listed["endpoints"]] == [ids["endpointId"]]
    assert await _snapshot(client, ids) == before


async def test_a_refused_scope_is_audited_with_the_scope_asked_for(
    server: LiveServer, tenant: Tenant, db: Database
) -> None:
    reader_id, reader = await issue_key(db, tenant.location_id, [CONTACTS_READ])
    _, auditor = await issue_key(db, tenant.location_id, [AUDIT_READ])
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(reader)
    ) as http:
        assert (await http.get("/contacts/")).status_code == 200
        assert_error(await http.post("/contacts/", json={"firstName": "X"}), 401, CONTACTS_WRITE)
        assert_error(await http.get("/audit"), 401, AUDIT_READ)
        assert_error(await http.get("/webhooks"), 401, WEBHOOKS_READ)
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(auditor)
    ) as http:
        response = await http.get("/audit", params={"action": "credential.refused_scope"})
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    assert [(e["actor"], e["ip"], e["detail"]) for e in entries[::-1]] == [
        (f"api_key:{reader_id}", "127.0.0.1", {"scope": scope})
        for scope in (CONTACTS_WRITE, AUDIT_READ, WEBHOOKS_READ)
    ]
    assert all(entry["action"] == "credential.refused_scope" for entry in entries)
    # Nothing was written by the refused call.
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=server.base_url, headers=bearer(reader)
    ) as http:
        assert json_of(await http.get("/contacts/"))["contacts"] == []
