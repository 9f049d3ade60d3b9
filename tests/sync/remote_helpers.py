"""What the tests of syncs with a remote account share: a connection from the syncing
location to another location served over HTTP (another live server), a relay in front of it
that is its OAuth provider and answers faults, and the remote's contacts counted where they
live."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contactflow.contacts.models import Contact
from contactflow.platform.db import Database
from contactflow.platform.events import Event
from contactflow.settings import Settings
from tests.flows.connections.provider import Provider
from tests.mailsuite.helpers import json_of
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, live_server
from tests.sync.helpers import SYNCS, Json, linked_partner, wait_backfilled

BOTH_SCOPES = ["contacts.readonly", "contacts.write"]
# The remote's webhooks a contacts sync hears.
HOOKED = ["ContactCreate", "ContactUpdate", "ContactDelete"]


async def answered(response: httpx.Response) -> Json:
    """The body of a response that succeeded."""
    assert response.status_code in (200, 201), response.text
    body: Json = json_of(response)
    return body


async def first_name(http: httpx.AsyncClient, path: str) -> str | None:
    """The first name of the contact at `path` (of the remote's API, or the Mailsuite's)."""
    name: str | None = (await answered(await http.get(path)))["contact"]["firstName"]
    return name


async def event_count(
    db: Database, location_id: str, event_type: str, subject_id: str, origin: str | None = None
) -> int:
    """The events of `event_type` about `subject_id` in the location's log (of `origin`)."""
    query = (
        select(func.count())
        .select_from(Event)
        .where(
            Event.location_id == location_id,
            Event.type == event_type,
            Event.subject_id == subject_id,
        )
    )
    if origin is not None:
        query = query.where(Event.origin == origin)
    async with db.reader() as session:
        return int(await session.scalar(query) or 0)


async def remote_connection(
    http: httpx.AsyncClient, base_url: str, remote: Tenant, **more: Any
) -> str:
    """A connection (an API key) of the caller's location to `remote`'s location."""
    body = {
        "name": "Remote account",
        "kind": "contacts",
        "auth": "apiKey",
        "baseUrl": base_url,
        "apiKey": remote.key,
        "locationId": remote.location_id,
        "scopes": BOTH_SCOPES,
        **more,
    }
    created = await http.post("/connections", json=body)
    assert created.status_code == 201, created.text
    return str(json_of(created)["connection"]["id"])


async def remote_contact(account: httpx.AsyncClient, email: str) -> str:
    """A contact made on the remote account; its id."""
    made = await account.post("/contacts/", json={"email": email})
    assert made.status_code == 201, made.text
    return str(json_of(made)["contact"]["id"])


async def hooked_connection(
    client: httpx.AsyncClient,
    account: httpx.AsyncClient,
    here: LiveServer,
    remote: Tenant,
    event_types: list[str],
    **more: Any,
) -> str:
    """A connection to `remote` (served at `account`'s base URL) whose webhooks of
    `event_types` the remote sends, signed, to `here`."""
    key = await account.get("/webhooks/public-key")
    assert key.status_code == 200, key.text
    connection_id = await remote_connection(
        client,
        str(account.base_url).rstrip("/"),
        remote,
        webhookPublicKey=json_of(key)["publicKey"],
        **more,
    )
    hook = f"{here.base_url}/hooks/highlevel/{connection_id}"
    hooked = await account.post("/webhooks", json={"url": hook, "eventTypes": event_types})
    assert hooked.status_code == 201, hooked.text
    return connection_id


async def remote_sync(
    client: httpx.AsyncClient,
    account: httpx.AsyncClient,
    here: LiveServer,
    remote: Tenant,
    db: Database,
    emails: list[str],
    **settings: Any,
) -> tuple[str, list[str], list[str]]:
    """A contacts sync (with `settings`) of `remote`, served at `account`'s base URL, through
    a connection whose webhooks reach `here`, once its backfill linked a contact made there
    for each of `emails`: the sync's id, those contacts' ids, and their Mailsuite partners'."""
    made = [await remote_contact(account, email) for email in emails]
    connection_id = await hooked_connection(client, account, here, remote, HOOKED)
    body = {"connectionId": connection_id, **settings}
    sync_id = str((await answered(await client.post(SYNCS, json=body)))["sync"]["id"])
    await wait_backfilled(client, sync_id)
    return sync_id, made, [await linked_partner(db, sync_id, one, within=30) for one in made]


async def contact_count(db: Database, location_id: str) -> int:
    async with db.reader() as session:
        found = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.location_id == location_id)
        )
        return int(found or 0)


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


async def connect(client: httpx.AsyncClient, connection_id: str) -> None:
    """Authorize through the relay: its authorization page is skipped, the callback is
    what it would send the browser back to."""
    started = await client.get(f"/connections/{connection_id}/oauth/start")
    assert started.status_code == 302, started.text
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    back = await client.get("/connections/oauth/callback", params={"code": "c", "state": state})
    assert back.status_code == 200, back.text


@contextmanager
def running_relay(settings: Settings, remote_url: str, remote_key: str) -> Iterator[Relay]:
    """A relay served in front of the remote server at `remote_url`, whose API key it uses."""
    running = Relay(Provider(), remote_url, remote_key)
    app = Starlette(
        routes=[
            Route("/oauth/token", running.provider._token, methods=["POST"]),
            Route("/{path:path}", running.api, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )
    with live_server(settings, app=app) as serving:
        running.provider.base_url = serving.base_url
        yield running


async def oauth_connection(client: httpx.AsyncClient, relay: Relay, remote: Tenant) -> str:
    """A connection over OAuth to `remote` through the relay, not authorized yet."""
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
    return str(json_of(created)["connection"]["id"])
