"""A sync with a remote account that fails: in front of the remote server, a relay of our own
is its OAuth provider and answers what a test tells it to. A 429 with Retry-After, then 5xx:
the calls back off (the Retry-After is kept), the sync waits and shows why, then goes on by
itself. A token revoked and no longer renewed: the sync is failing and asks to reconnect,
through the connection's issue; connected again, it goes on by itself."""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate
from contactflow.flows.connections.models import Connection
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.flows.connections.provider import Provider
from tests.mailsuite.helpers import json_of, poll
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, live_server, make_tenant
from tests.sync.helpers import SYNCS, Json, wait_backfilled
from tests.sync.remote_helpers import BOTH_SCOPES
from tests.web.helpers import browser, make_person, signed_in

SIZE = 30


@dataclass
class Relay:
    """The remote account as the sync sees it: OAuth tokens of its own (a `Provider`), and
    the remote server's API behind them, unless a fault is queued for the next call."""

    provider: Provider
    remote_url: str
    remote_key: str
    faults: list[int] = field(default_factory=list)
    # Each call answered: when (monotonic seconds), and its status.
    answered: list[tuple[float, int]] = field(default_factory=list)

    async def api(self, request: Request) -> Response:
        given = request.headers.get("authorization")
        token = self.provider.access_token
        if not token or given != f"Bearer {token}":
            return JSONResponse({"message": "Invalid JWT"}, status_code=401)
        if self.faults:
            status = self.faults.pop(0)
            self.answered.append((time.monotonic(), status))
            headers = {"Retry-After": "1"} if status == 429 else {}
            return JSONResponse({"message": "not now"}, status_code=status, headers=headers)
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS) as http:
            answer = await http.request(
                request.method,
                f"{self.remote_url}{request.url.path}",
                params=request.query_params,
                content=await request.body(),
                headers={
                    "authorization": f"Bearer {self.remote_key}",
                    "content-type": request.headers.get("content-type", "application/json"),
                    "version": "2021-07-28",
                },
            )
        self.answered.append((time.monotonic(), answer.status_code))
        return Response(answer.content, answer.status_code, media_type="application/json")


@pytest.fixture
async def remote(db: Database) -> Tenant:
    tenant = await make_tenant(db)
    async with db.unit_of_work() as uow:
        for number in range(SIZE):
            body = ContactCreate.model_validate({"email": f"r{number}@remote.io"})
            await contacts.create_contact(uow, tenant.location_id, body, "US")
    return tenant


@pytest.fixture
def relay(settings: Settings, server: LiveServer, remote: Tenant) -> Iterator[Relay]:
    running = Relay(Provider(), server.base_url, remote.key)
    app = Starlette(
        routes=[
            Route("/oauth/token", running.provider._token, methods=["POST"]),
            Route("/{path:path}", running.api, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )
    with live_server(settings, app=app) as serving:
        running.provider.base_url = serving.base_url
        yield running


async def _connect(client: httpx.AsyncClient, connection_id: str) -> None:
    """Authorize through the relay: its authorization page is skipped, the callback is
    what it would send the browser back to."""
    started = await client.get(f"/connections/{connection_id}/oauth/start")
    assert started.status_code == 302, started.text
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    back = await client.get("/connections/oauth/callback", params={"code": "c", "state": state})
    assert back.status_code == 200, back.text


async def _sync(client: httpx.AsyncClient, sync_id: str) -> Json:
    body: Json = json_of(await client.get(f"{SYNCS}/{sync_id}"))["sync"]
    return body


async def test_a_failing_remote_is_waited_for_and_a_revoked_token_asks_to_reconnect(
    server: LiveServer,
    client: httpx.AsyncClient,
    tenant: Tenant,
    db: Database,
    relay: Relay,
    remote: Tenant,
) -> None:
    base = relay.provider.base_url
    created = await client.post(
        "/connections",
        json={
            "name": "Remote over OAuth",
            "kind": "contacts",
            "auth": "oauth",
            "baseUrl": base,
            "clientId": "client-1",
            "clientSecret": "a-client-secret-of-some-length",
            "authorizeUrl": f"{base}/oauth/authorize",
            "tokenUrl": f"{base}/oauth/token",
            "locationId": remote.location_id,
            "scopes": BOTH_SCOPES,
        },
    )
    assert created.status_code == 201, created.text
    connection_id = json_of(created)["connection"]["id"]
    await _connect(client, connection_id)
    polling = await client.put(f"/connections/{connection_id}", json={"poll": 3600})
    assert polling.status_code == 200, polling.text

    async def polled() -> Connection | None:
        async with db.reader() as session:
            return await session.get(Connection, connection_id)

    # Its first poll over, the relay answers the sync alone.
    await poll(polled, lambda row: row is not None and row.poll_cursor is not None, within=30)
    relay.answered.clear()
    relay.faults = [429, 429, 500, 500, 500, 500, 500]
    made = await client.post(SYNCS, json={"connectionId": connection_id})
    assert made.status_code == 201, made.text
    sync_id = json_of(made)["sync"]["id"]

    waiting = await poll(
        lambda: _sync(client, sync_id), lambda sync: sync["health"] == "backingOff", within=30
    )
    assert waiting["lastError"].startswith("remote account: remote answered 500")
    assert (waiting["retryAt"] is None, waiting["remedy"]) == (False, None)
    await wait_backfilled(client, sync_id, within=60)
    # Read again: on PostgreSQL one read may see the sync before and its backfill after the
    # commit that finished both.
    done = await poll(lambda: _sync(client, sync_id), lambda sync: sync["health"] == "ok")
    assert (done["backfill"]["done"], done["linked"], done["retryAt"]) == (SIZE, SIZE, None)
    times = [at for at, _ in relay.answered]
    statuses = [status for _, status in relay.answered]
    assert statuses[:7] == [429, 429, 500, 500, 500, 500, 500]
    assert times[1] - times[0] >= 1.0  # the Retry-After was kept
    assert times[4] - times[3] >= 4.0  # the sync waited before it tried again
    # Never more than the budget's burst within its window.
    assert all(sum(1 for t in times if at <= t < at + 10) <= 100 for at in times)

    # The token is revoked and no longer renewed: the sync fails and asks to reconnect.
    relay.provider.revoke()
    relay.provider.refusing_refresh = True
    new = await client.post("/mailsuite/v1/contacts", json={"email": "mae@mail.io"})
    assert new.status_code == 201, new.text
    failing = await poll(
        lambda: _sync(client, sync_id), lambda sync: sync["health"] == "failing", within=30
    )
    assert failing["remedy"] == "reconnect"
    assert "refused" in failing["lastError"]
    issues = json_of(await client.get("/issues"))["issues"]
    [issue] = [row for row in issues if row["subjectId"] == connection_id]
    assert (issue["status"], issue["reconnectUrl"] is None) == ("open", False)
    detail = json_of(await client.get(f"/issues/{issue['id']}"))
    assert detail["recentFailures"][0]["record"] == "sync"
    location = tenant.location_id
    async with browser(server.base_url) as http:
        await signed_in(http, await make_person(db, location))
        page = await http.get(f"/app/l/{location}/syncs/{sync_id}")
    connect = f"/app/l/{location}/connections/{connection_id}/connect"
    assert f'href="{connect}">Reconnect the connection</a>' in page.text

    # Connected again: the sync goes on by itself, and the contact reaches the remote.
    relay.provider.refusing_refresh = False
    await _connect(client, connection_id)
    healthy = await poll(
        lambda: _sync(client, sync_id), lambda sync: sync["health"] == "ok", within=60
    )
    assert healthy["remedy"] is None
    async with httpx.AsyncClient(base_url=relay.remote_url, headers=remote.headers) as account:
        body = {"filters": [{"field": "email", "operator": "eq", "value": "mae@mail.io"}]}

        async def found() -> list[Json]:
            answer = await account.post("/contacts/search", json=body)
            assert answer.status_code == 200, answer.text
            contacts: list[Json] = answer.json()["contacts"]
            return contacts

        await poll(found, lambda contacts: len(contacts) == 1, within=30)
