"""A sync with a remote account whose token was revoked is `failing` and asks to reconnect; its
own retry is ten minutes away. Connected again, it goes on at once, by itself: nobody resumes
it, and it does not wait out its backoff."""

from datetime import datetime, timedelta

import httpx

from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.settings import Settings
from tests.mailsuite.helpers import json_of, poll
from tests.support import api_client, live_server, make_tenant
from tests.sync.helpers import SYNCS, Json, wait_backfilled
from tests.sync.remote_helpers import connect, oauth_connection, running_relay

# The longest first wait there is: only the reconnection can make the sync go on in time.
BACKOFF = 600


async def _sync(client: httpx.AsyncClient, sync_id: str) -> Json:
    body: Json = json_of(await client.get(f"{SYNCS}/{sync_id}"))["sync"]
    return body


async def test_a_sync_asking_to_reconnect_goes_on_as_soon_as_it_is_connected_again(
    own_settings: Settings,
) -> None:
    settings = own_settings.model_copy(
        update={"embedded_workers": True, "sync_remote_backoff_seconds": BACKOFF}
    )
    db = Database(settings.database_url)
    try:
        tenant, remote = await make_tenant(db), await make_tenant(db)
        async with db.unit_of_work() as uow:
            rita = ContactCreate.model_validate({"email": "rita@remote.io"})
            await contacts.create_contact(uow, remote.location_id, rita, "US")
        with (
            live_server(settings) as server,
            running_relay(settings, server.base_url, remote.key) as relay,
        ):
            async with api_client(server.base_url, tenant.headers) as client:
                connection_id = await oauth_connection(client, relay, remote)
                await connect(client, connection_id)
                made = await client.post(SYNCS, json={"connectionId": connection_id})
                assert made.status_code == 201, made.text
                sync_id = json_of(made)["sync"]["id"]
                await wait_backfilled(client, sync_id)

                relay.provider.revoke()
                relay.provider.refusing_refresh = True
                new = await client.post("/mailsuite/v1/contacts", json={"email": "mae@mail.io"})
                assert new.status_code == 201, new.text
                failing = await poll(
                    lambda: _sync(client, sync_id),
                    lambda sync: sync["health"] == "failing",
                    within=30,
                )
                assert failing["remedy"] == "reconnect"
                retry_at = datetime.fromisoformat(failing["retryAt"].replace("Z", "+00:00"))
                assert retry_at > utcnow() + timedelta(seconds=BACKOFF / 2)

                relay.provider.refusing_refresh = False
                await connect(client, connection_id)
                healthy = await poll(
                    lambda: _sync(client, sync_id), lambda sync: sync["health"] == "ok", within=30
                )
                assert (healthy["remedy"], healthy["retryAt"]) == (None, None)
                # Well before its own retry was due.
                assert utcnow() < retry_at

                async with api_client(server.base_url, remote.headers) as account:
                    body = {
                        "filters": [{"field": "email", "operator": "eq", "value": "mae@mail.io"}]
                    }
                    found = await account.post("/contacts/search", json=body)
                    assert [one["email"] for one in json_of(found)["contacts"]] == ["mae@mail.io"]
    finally:
        await db.dispose()
