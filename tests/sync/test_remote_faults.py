"""A sync with a remote account that fails: in front of the remote server, a relay of our own
is its OAuth provider and answers what a test tells it to. A 429 with Retry-After, then 5xx:
the calls back off (the Retry-After is kept), the sync waits and shows why, then goes on by
itself. A token revoked and no longer renewed: the sync is failing and asks to reconnect,
through the connection's issue; connected again, it goes on by itself."""

from collections.abc import Iterator

import httpx
import pytest

from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate
from contactflow.flows.connections.models import Connection
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.mailsuite.helpers import json_of, poll
from tests.support import CLIENT_TIMEOUT_SECONDS, LiveServer, Tenant, make_tenant
from tests.sync.helpers import PATIENCE, SYNCS, Json, wait_backfilled
from tests.sync.remote_helpers import Relay, connect, oauth_connection, running_relay
from tests.web.helpers import browser, make_person, signed_in

SIZE = 30


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
    with running_relay(settings, server.base_url, remote.key) as running:
        yield running


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
    connection_id = await oauth_connection(client, relay, remote)
    await connect(client, connection_id)
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
    await wait_backfilled(client, sync_id)
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
    reconnect = f"/app/l/{location}/connections/{connection_id}/connect"
    assert f'href="{reconnect}">Reconnect the connection</a>' in page.text

    # Connected again: the sync goes on by itself, and the contact reaches the remote.
    relay.provider.refusing_refresh = False
    await connect(client, connection_id)
    healthy = await poll(
        lambda: _sync(client, sync_id), lambda sync: sync["health"] == "ok", within=PATIENCE
    )
    assert healthy["remedy"] is None
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=relay.remote_url, headers=remote.headers
    ) as account:
        body = {"filters": [{"field": "email", "operator": "eq", "value": "mae@mail.io"}]}

        async def found() -> list[Json]:
            answer = await account.post("/contacts/search", json=body)
            assert answer.status_code == 200, answer.text
            contacts: list[Json] = answer.json()["contacts"]
            return contacts

        await poll(found, lambda contacts: len(contacts) == 1, within=30)
