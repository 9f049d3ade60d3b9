"""A sync whose CRM side is a remote account (another location, reached over HTTP through a
connection): its backfill links every remote contact once to a Mailsuite contact, matched by
email then phone before one is made, never a duplicate on either side, when interrupted
twice and resumed. A connection that lacks a scope the sync needs is refused, and so are
the settings a sync of a remote account does not take yet."""

import httpx

from contactflow.platform.db import Database
from contactflow.settings import Settings
from contactflow.sync.remote_runs import RemoteSyncSettings, advance
from tests.mailsuite.helpers import error_lines, json_of
from tests.support import (
    CLIENT_TIMEOUT_SECONDS,
    LiveServer,
    Tenant,
    api_client,
    cli_output,
    invoke_cli,
    make_tenant,
)
from tests.sync.helpers import (
    ALONE,
    SYNCS,
    check_linked_once,
    cut_off,
    make_world,
    stopped_then_finished,
)
from tests.sync.remote_helpers import contact_count, remote_connection

SIZE = 300


async def test_remote_backfill_interrupted_twice_links_each_contact_once(
    own_settings: Settings, quiet_server: LiveServer
) -> None:
    # Pages of 20, and only the sync's loops: the test stops them after a few pages.
    paged = {"sync_batch_size": 20, "worker_groups": ["sync"]}
    own_settings = own_settings.model_copy(update=paged)
    db = Database(own_settings.database_url)
    try:
        tenant, remote = await make_tenant(db), await make_tenant(db)
        world = await make_world(db, tenant.location_id, SIZE, crm_location=remote.location_id)
        async with api_client(quiet_server.base_url, tenant.headers) as http:
            connection_id = await remote_connection(http, quiet_server.base_url, remote)
            created = await http.post(SYNCS, json={"connectionId": connection_id})
            assert created.status_code == 201, created.text
            sync = json_of(created)["sync"]
            assert (sync["connectionId"], sync["health"]) == (connection_id, "ok")
            sync_id = sync["id"]

            async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS) as outbound:
                settings = RemoteSyncSettings.of(own_settings, outbound)
                first = await cut_off(
                    db, sync_id, lambda: advance(db, settings, "interrupted"), 100
                )
            assert (first.state, first.total) == ("running", SIZE)
            assert first.done < SIZE

            done = await stopped_then_finished(db, own_settings, http, sync_id, 60)
        job = done["backfill"]
        assert (job["done"], job["total"]) == (SIZE + ALONE, SIZE + ALONE)
        assert job["matched"] == world.matched
        assert job["skipped"] == world.skipped
        assert done["health"] == "ok"
        await check_linked_once(db, sync_id, tenant.location_id, world, remote.location_id)
        # Only the Mailsuite contacts that matched nothing were made on the remote account;
        # nothing here in the Contacts API.
        assert await contact_count(db, remote.location_id) == SIZE + ALONE
        assert await contact_count(db, tenant.location_id) == 0
        # A Mailsuite contact matched with another first name was newer: it won, and the
        # remote contact was written.
        async with api_client(quiet_server.base_url, remote.headers) as account:
            matched = await account.get(f"/contacts/{world.crm_ids[7]}")
            assert json_of(matched)["contact"]["firstName"] == "Mail"
    finally:
        await db.dispose()


async def test_a_connection_without_the_scopes_the_sync_needs_is_refused(
    server: LiveServer, client: httpx.AsyncClient, db: Database, database_url: str, tenant: Tenant
) -> None:
    remote = await make_tenant(db)
    reader = await remote_connection(client, server.base_url, remote, scopes=["contacts.readonly"])
    refused = await client.post(SYNCS, json={"connectionId": reader})
    assert error_lines(refused, 422) == [
        f"connectionId: the sync needs scope contacts.write, which connection {reader} was not "
        "granted (add it to the connection's scopes)"
    ]
    blind = await remote_connection(client, server.base_url, remote, scopes=[])
    refused = await client.post(SYNCS, json={"connectionId": blind, "direction": "crmToMailsuite"})
    assert "connectionId: the sync needs scope contacts.readonly" in error_lines(refused, 422)[0]
    missing = await client.post(SYNCS, json={"connectionId": "nosuchconnection"})
    assert error_lines(missing, 422) == [
        "connectionId: no connection nosuchconnection in this location"
    ]

    # Reading only, it may sync the remote's contacts into the Mailsuite; not back.
    one_way = await client.post(SYNCS, json={"connectionId": reader, "direction": "crmToMailsuite"})
    assert one_way.status_code == 201, one_way.text
    sync_id = json_of(one_way)["sync"]["id"]
    location = tenant.location_id
    shown = await cli_output(database_url, "sync", "show", sync_id, "--location", location)
    assert f"remote account through connection {reader}: ok" in shown
    refused_cli = await invoke_cli(
        database_url, "sync", "create", "--location", location, "--connection", reader
    )
    assert refused_cli.exit_code == 1
    assert "connectionId: the sync needs scope contacts.write" in refused_cli.output
    both = await client.patch(f"{SYNCS}/{sync_id}", json={"direction": "both"})
    assert "contacts.write" in error_lines(both, 422)[0]
    # The connection cannot be deleted while the sync uses it.
    used = await client.delete(f"/connections/{reader}")
    assert used.status_code == 409, used.text
    assert (await client.delete(f"{SYNCS}/{sync_id}")).status_code == 204
    assert (await client.delete(f"/connections/{reader}")).status_code == 204
