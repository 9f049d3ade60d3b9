"""Small helpers shared by the Contacts API behaviour tests (HTTP only, no app internals)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.support import LiveServer, Tenant, api_client

Json = dict[str, Any]

# The phrase each error status carries in `error` (absent on 400 and 403, as upstream).
ERROR_PHRASES = {401: "Unauthorized", 404: "Not Found", 422: "Unprocessable Entity"}


@asynccontextmanager
async def client_for(server: LiveServer, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(server.base_url, tenant.headers) as http:
        yield http


def json_of(response: httpx.Response) -> Json:
    body: Json = response.json()
    return body


async def create_contact(client: httpx.AsyncClient, **fields: Any) -> Json:
    response = await client.post("/contacts/", json=fields)
    assert response.status_code == 201, response.text
    contact: Json = response.json()["contact"]
    return contact


async def get_contact(client: httpx.AsyncClient, contact_id: str) -> Json:
    response = await client.get(f"/contacts/{contact_id}")
    assert response.status_code == 200, response.text
    contact: Json = response.json()["contact"]
    return contact


async def count_contacts(client: httpx.AsyncClient) -> int:
    response = await client.get("/contacts/", params={"limit": 1})
    assert response.status_code == 200, response.text
    total: int = response.json()["meta"]["total"]
    return total


def assert_error(response: httpx.Response, status: int, *fields: str) -> Json:
    """The documented error envelope: statusCode, message, error phrase, traceId (also in the
    X-Trace-Id header, exactly once). For 422 each named field starts one "field: reason"
    line; for other statuses each name appears in the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = json_of(response)
    assert body["statusCode"] == status
    trace_id = body["traceId"]
    assert isinstance(trace_id, str)
    assert trace_id
    assert response.headers.get_list("x-trace-id") == [trace_id]
    message = body["message"]
    if status == 422:
        assert isinstance(message, list)
        assert message
        assert all(isinstance(line, str) and ": " in line for line in message), message
        for field in fields:
            assert any(line.startswith(f"{field}: ") for line in message), (field, message)
    else:
        assert isinstance(message, str)
        assert message
        for field in fields:
            assert field in message, (field, message)
    if status in (400, 403):
        assert "error" not in body
    elif status in ERROR_PHRASES:
        assert body["error"] == ERROR_PHRASES[status]
    return body


def without_trace(body: Json) -> Json:
    return {key: value for key, value in body.items() if key != "traceId"}
