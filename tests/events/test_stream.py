"""GET /events/stream: Server-Sent Events of the log, `id:` the seq; a client that reconnects
with Last-Event-ID gets only what came after, and new events arrive while it listens."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from contactflow.platform import events
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.support import LiveServer, Tenant, api_client, live_server, serve_process
from tests.webhooks.helpers import Json, assert_error, create_contact, log_events, update_contact

WITHIN = 10.0


@dataclass(frozen=True)
class Sse:
    id: str
    event: str
    data: Json


async def sse_events(response: httpx.Response) -> AsyncIterator[Sse]:
    """Parse a text/event-stream body (comments such as keep-alives are skipped)."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if fields:
                yield Sse(fields["id"], fields["event"], json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def read_stream(
    client: httpx.AsyncClient,
    count: int,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str | int] | None = None,
    while_open: list[str] | None = None,
) -> list[Sse]:
    """Open the stream, read `count` events and hang up. With `while_open`, a contact is
    created for each name once the first event is in (the stream must wake for them)."""
    received: list[Sse] = []
    async with asyncio.timeout(WITHIN):
        async with client.stream(
            "GET", "/events/stream", headers=headers, params=params
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            async for event in sse_events(response):
                received.append(event)
                if len(received) == 1 and while_open:
                    for name in while_open:
                        await create_contact(client, firstName=name)
                if len(received) == count:
                    break
    return received


async def test_the_stream_resumes_after_last_event_id(client: httpx.AsyncClient) -> None:
    contact = await create_contact(client, firstName="S0")
    for number in range(1, 5):
        await update_contact(client, contact["id"], lastName=f"L{number}")
    logged = await log_events(client)
    assert len(logged) == 5

    first = await read_stream(client, 3)
    assert [event.id for event in first] == ["1", "2", "3"]
    assert [event.event for event in first] == ["ContactCreate", "ContactUpdate", "ContactUpdate"]
    assert [event.data for event in first] == logged[:3]

    # Reconnecting with the last id seen: the rest, then what is written while connected.
    resume = {"Last-Event-ID": first[-1].id}
    rest = await read_stream(client, 3, headers=resume, while_open=["S5"])
    assert [event.id for event in rest] == ["4", "5", "6"]
    assert [event.data for event in rest[:2]] == logged[3:]
    assert rest[2].event == "ContactCreate"
    assert rest[2].data["payload"]["firstName"] == "S5"


async def test_the_stream_filters_by_type_and_starts_after_a_seq(
    client: httpx.AsyncClient,
) -> None:
    contact = await create_contact(client, firstName="T0")
    await update_contact(client, contact["id"], tags=["a"])
    await create_contact(client, firstName="T1")
    creates = await read_stream(client, 2, params={"types": "ContactCreate"})
    assert [(event.id, event.event) for event in creates] == [
        ("1", "ContactCreate"),
        ("4", "ContactCreate"),
    ]
    later = await read_stream(client, 1, params={"after": 2})
    assert [(event.id, event.event) for event in later] == [("3", "ContactTagUpdate")]


async def test_bad_stream_requests_are_refused(client: httpx.AsyncClient) -> None:
    refused = await client.get("/events/stream", headers={"Last-Event-ID": "three"})
    assert_error(refused, 422, "Last-Event-ID")
    assert_error(await client.get("/events/stream", params={"types": "Nope"}), 422, "types")


async def test_a_burst_of_writes_is_streamed_at_once_not_at_the_next_heartbeat(
    client: httpx.AsyncClient, server: LiveServer, tenant: Tenant
) -> None:
    """Commits landing while the stream reads must wake it: each burst of three concurrent
    creates arrives within seconds, never after the 15 s keep-alive."""
    arrived: asyncio.Queue[Json] = asyncio.Queue()

    async def listen() -> None:
        async with client.stream("GET", "/events/stream") as response:
            async for event in sse_events(response):
                arrived.put_nowait(event.data)

    listener = asyncio.create_task(listen())
    try:
        async with api_client(server.base_url, tenant.headers) as writer:
            for burst in range(30):
                names = [f"B{burst}-{n}" for n in range(3)]
                await asyncio.gather(*(create_contact(writer, firstName=n) for n in names))
                async with asyncio.timeout(5):
                    got = [(await arrived.get())["payload"]["firstName"] for _ in names]
                assert sorted(got) == names
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def test_an_api_without_workers_streams_what_other_processes_write_at_once(
    postgres_only: None, settings: Settings, tenant: Tenant, db: Database
) -> None:
    """The workers' commits (another process: the test's own connection here) wake the
    streams of an API process that runs no workers, well before the 15 s keep-alive."""
    api_only = settings.model_copy(update={"embedded_workers": False})
    with live_server(api_only) as server:
        async with (
            api_client(server.base_url, tenant.headers) as client,
            asyncio.timeout(WITHIN),
            client.stream("GET", "/events/stream") as response,
        ):
            await create_contact(client, firstName="Here")
            received = sse_events(response)
            assert (await anext(received)).data["payload"]["firstName"] == "Here"
            async with db.unit_of_work() as uow:
                payload = {"type": "ContactCreate", "firstName": "Elsewhere"}
                await events.append(uow, tenant.location_id, "ContactCreate", payload)
            assert (await anext(received)).data["payload"]["firstName"] == "Elsewhere"


async def test_a_stream_on_one_api_process_sees_a_contact_created_through_another(
    postgres_only: None, database_url: str, settings: Settings, tenant: Tenant
) -> None:
    """Two uvicorn processes on one PostgreSQL database: a contact created through B reaches
    a stream on A at once, through B's NOTIFY on commit and A's LISTEN (ADR 0027)."""
    api_only = settings.model_copy(update={"embedded_workers": False})
    with live_server(api_only) as server_a:
        async with (
            serve_process(database_url, embedded_workers="false") as server_b,
            api_client(server_a.base_url, tenant.headers) as on_a,
            api_client(server_b, tenant.headers) as on_b,
            on_a.stream("GET", "/events/stream") as response,
        ):
            received = sse_events(response)
            created = await create_contact(on_b, firstName="ThroughB")
            async with asyncio.timeout(WITHIN):
                event = await anext(received)
            assert event.event == "ContactCreate"
            assert event.data["payload"]["id"] == created["id"]
