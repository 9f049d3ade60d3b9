"""A sync with a remote account (another live server) after its backfill: a change on the
remote reaches the Mailsuite through the remote's signed webhooks, a Mailsuite change
reaches the remote, new contacts on either side get their partner, and the sync's own
writes coming back are recognised, so both logs settle (no loop)."""

import httpx

from contactflow.flows.connections.models import remote_origin
from contactflow.platform.db import Database
from contactflow.platform.event_types import CONTACT_CREATE, CONTACT_UPDATE
from contactflow.platform.event_types import MAILSUITE_CONTACT_UPSERT as MAIL_UPSERT
from tests.mailsuite.helpers import poll
from tests.support import LiveServer, Tenant, api_client, make_tenant
from tests.sync.helpers import SYNCS, Json, linked_partner, settled, wait_backfilled
from tests.sync.remote_helpers import (
    HOOKED,
    answered,
    event_count,
    hooked_connection,
    remote_contact,
)

MAIL = "/mailsuite/v1/contacts"


async def test_changes_on_either_side_reach_the_other_once_and_settle(
    server: LiveServer,
    remote_server: LiveServer,
    client: httpx.AsyncClient,
    tenant: Tenant,
    db: Database,
) -> None:
    remote = await make_tenant(db)
    here = tenant.location_id
    async with api_client(remote_server.base_url, remote.headers) as account:
        rita = await remote_contact(account, "rita@remote.io")
        connection_id = await hooked_connection(client, account, server, remote, HOOKED)
        sync = (await answered(await client.post(SYNCS, json={"connectionId": connection_id})))[
            "sync"
        ]
        await wait_backfilled(client, sync["id"])
        rita_mail = await linked_partner(db, sync["id"], rita, within=30)

        async def mail(contact_id: str) -> Json:
            found: Json = (await answered(await client.get(f"{MAIL}/{contact_id}")))["contact"]
            return found

        async def there(contact_id: str) -> Json:
            found: Json = (await answered(await account.get(f"/contacts/{contact_id}")))["contact"]
            return found

        # The remote changes: its webhook brings the change to the Mailsuite.
        await answered(await account.put(f"/contacts/{rita}", json={"firstName": "Rita"}))
        await poll(lambda: mail(rita_mail), lambda one: one["firstName"] == "Rita", within=30)
        # The Mailsuite changes: the sync writes the remote.
        await answered(await client.put(f"{MAIL}/{rita_mail}", json={"lastName": "Mail"}))
        await poll(lambda: there(rita), lambda one: one["lastName"] == "Mail", within=30)

        # New on the remote: a Mailsuite partner is made; new in the Mailsuite: a remote one.
        nova = (await answered(await account.post("/contacts/", json={"email": "nova@remote.io"})))[
            "contact"
        ]["id"]
        await mail(await linked_partner(db, sync["id"], nova, within=30))
        mae = (await answered(await client.post(MAIL, json={"email": "mae@mail.io"})))["contact"]

        async def found_there() -> list[Json]:
            body = {"filters": [{"field": "email", "operator": "eq", "value": "mae@mail.io"}]}
            contacts: list[Json] = (
                await answered(await account.post("/contacts/search", json=body))
            )["contacts"]
            return contacts

        [mae_there] = await poll(found_there, lambda found: len(found) == 1, within=30)
        assert mae_there["source"] == "sync"

    # The sync's writes on the remote come back through its webhooks, and are its own.
    hooked = remote_origin(connection_id)
    await poll(
        lambda: event_count(db, here, CONTACT_UPDATE, rita, hooked), lambda n: n >= 2, within=30
    )
    await poll(
        lambda: event_count(db, here, CONTACT_CREATE, mae_there["id"], hooked),
        lambda n: n >= 1,
        within=30,
    )
    await settled(db, sync["id"], here, within=30)
    # On the remote: the person's change and the sync's, once each; Mae made once.
    assert await event_count(db, remote.location_id, CONTACT_UPDATE, rita) == 2
    assert await event_count(db, remote.location_id, CONTACT_CREATE, mae_there["id"]) == 1
    assert await event_count(db, remote.location_id, CONTACT_UPDATE, mae_there["id"]) == 0
    # In the Mailsuite: made by the backfill, the remote's change, the person's change.
    assert await event_count(db, here, MAIL_UPSERT, rita_mail) == 3
    assert await event_count(db, here, MAIL_UPSERT, mae["id"]) == 1
    shown = (await answered(await client.get(f"{SYNCS}/{sync['id']}")))["sync"]
    assert (shown["health"], shown["lastError"]) == ("ok", None)
